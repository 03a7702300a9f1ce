"""`Store.audited`: a change and its audit entry commit together, or neither does; and the
actor string a person's entries carry (`Principal.actor`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from appliance.audit.chain import verify_store
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.audit import AuditEntry

from .conftest import Appliance


class _BlockFailedError(Exception):
    """Raised inside an audited block by the test."""


def _entries(store: Store) -> list[AuditEntry]:
    return store.audit.entries(limit=1_000_000)


def test_the_change_and_its_entry_commit_together(appliance: Appliance, store: Store) -> None:
    before = _entries(store)
    with store.audited(
        "user:7", "requisition.created", subject="req-subject", region="EU", kind="test"
    ) as entry:
        assert store.conn.in_transaction
        assert entry.subject == "req-subject"
        assert list(entry.details.items()) == [("region", "EU"), ("kind", "test")]
        requisition = store.requisitions.create("Engineer", "Engineering", "Berlin", "EU")
        # Appended last: nothing is written while the block runs.
        assert len(_entries(store)) == len(before)
        entry.subject = f"requisition:{requisition.id}"
        entry.details["requisition"] = requisition.id  # known only after the INSERT
    assert not store.conn.in_transaction

    # A second store (its own connection) sees both: they were committed.
    other = appliance.open_store()
    try:
        assert other.requisitions.get(requisition.id).title == "Engineer"
        after = _entries(other)
        assert verify_store(other).ok
    finally:
        other.close()
    assert after[: len(before)] == before
    assert len(after) == len(before) + 1
    written = after[-1]
    assert (written.actor, written.action, written.subject) == (
        "user:7",
        "requisition.created",
        f"requisition:{requisition.id}",
    )
    assert written.details == {"region": "EU", "kind": "test", "requisition": requisition.id}


def test_an_entry_without_subject_or_details(store: Store) -> None:
    with store.audited("system", "thing.done") as entry:
        assert entry.subject is None and entry.details == {}
        store.requisitions.create("Analyst", "Finance", "Chicago", "US-IL")
    written = _entries(store)[-1]
    assert (written.actor, written.action, written.subject, written.details) == (
        "system",
        "thing.done",
        None,
        {},
    )
    assert verify_store(store).ok


def test_a_failed_block_leaves_neither_the_change_nor_the_entry(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _entries(store)
    created: list[int] = []
    appended: list[str] = []
    real_append = store.audit.append

    def spy(actor: str, action: str, *args: Any, **kwargs: Any) -> AuditEntry:
        appended.append(action)
        return real_append(actor, action, *args, **kwargs)

    monkeypatch.setattr(store.audit, "append", spy)
    with (
        pytest.raises(_BlockFailedError),
        store.audited("user:7", "requisition.created", region="EU") as entry,
    ):
        requisition = store.requisitions.create("Engineer", "Engineering", "Berlin", "EU")
        created.append(requisition.id)
        entry.details["requisition"] = requisition.id
        raise _BlockFailedError
    assert created, "the block ran up to its failure"
    assert appended == [], "no entry is even attempted for a change that did not happen"
    assert not store.conn.in_transaction
    with pytest.raises(NotFoundError):
        store.requisitions.get(created[0])
    assert _entries(store) == before
    assert verify_store(store).ok

    # The store goes on working: the next audited change lands normally.
    with store.audited("user:7", "requisition.created") as entry:
        entry.details["requisition"] = store.requisitions.create(
            "Engineer", "Engineering", "Berlin", "EU"
        ).id
    assert appended == ["requisition.created"]
    assert len(_entries(store)) == len(before) + 1
    assert verify_store(store).ok


def test_a_failing_append_rolls_the_change_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry is written inside the change's transaction, not after it in another one."""
    before = _entries(store)
    created: list[int] = []

    def refuse(*args: object, **kwargs: object) -> AuditEntry:
        raise _BlockFailedError

    monkeypatch.setattr(store.audit, "append", refuse)
    with pytest.raises(_BlockFailedError), store.audited("user:7", "requisition.created"):
        created.append(store.requisitions.create("Engineer", "Engineering", "Berlin", "EU").id)
    monkeypatch.undo()
    assert created and not store.conn.in_transaction
    with pytest.raises(NotFoundError):
        store.requisitions.get(created[0])
    assert _entries(store) == before


def test_principal_actor_is_the_user_actor_string() -> None:
    principal = Principal(42, "hr.alice", "hr", ("Sales",), ("EU",))
    assert principal.actor == "user:42"
    assert Principal(7, "x", "admin", ("*",), ("*",)).actor == "user:7"
    # A read-only property, not a field: equality, hashing and the constructor are unchanged.
    assert "actor" not in {field.name for field in dataclasses.fields(Principal)}
    with pytest.raises(AttributeError):
        principal.actor = "user:1"  # type: ignore[misc]
