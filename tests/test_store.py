"""The domain model in the encrypted store: repositories, constraints, append-only audit log."""

from __future__ import annotations

import pytest

from appliance.platform.errors import NotFoundError
from appliance.store import Store
from appliance.store.competency import DimensionSpec, ModelSpec, Question
from appliance.store.db import DatabaseError, IntegrityError

from .conftest import demo_interview


def test_users_roles_and_lookup(store: Store) -> None:
    with store.transaction():
        user = store.users.create(
            "Rec.One", "Rec One", "recruiter", departments=["Sales"], regions=["EU", "US-IL"]
        )
    assert store.users.by_username("rec.one") == user  # case-insensitive login names
    assert user.departments == ["Sales"] and user.regions == ["EU", "US-IL"]
    with pytest.raises(ValueError, match="unknown role"):
        store.users.create("x", "X", "superuser")
    with pytest.raises(IntegrityError):
        store.users.create("REC.ONE", "Dup", "recruiter")


def test_competency_models_are_versioned(store: Store) -> None:
    dims = (
        DimensionSpec(
            "analysis",
            "Requirement analysis",
            0.5,
            questions=(Question("en", "Tell me about a time..."), Question("zh", "请讲一个...")),
        ),
        DimensionSpec("collab", "Collaboration", 0.5),
    )
    with store.transaction():
        first = store.competency.save(ModelSpec("Product manager", dims))
        second = store.competency.save(ModelSpec("Product manager", dims[:1]))
    assert (first.version, second.version) == (1, 2)
    assert first.label == "Product manager v1"
    assert first.id is not None
    assert store.competency.spec(first.id).dimensions == dims
    assert store.competency.latest("Product manager") == second
    with pytest.raises(ValueError):
        store.competency.save(ModelSpec("Empty", ()))
    with pytest.raises(IntegrityError):  # weights must be positive
        store.competency.save(ModelSpec("Bad", (DimensionSpec("x", "X", 0.0),)))


def test_requisitions_regions_and_interviews(store: Store) -> None:
    interview_id = demo_interview(store, region="US-IL")
    interview = store.interviews.get(interview_id)
    assert store.requisitions.get(interview.requisition_id).region == "US-IL"
    assert [r.region for r in store.requisitions.all(regions=["EU"])] == []
    with pytest.raises(IntegrityError):
        store.requisitions.create("T", "D", "L", "Atlantis")
    with pytest.raises(IntegrityError):  # foreign keys are enforced
        store.interviews.create(999, interview.requisition_id)
    store.interviews.set_status(interview_id, "analysed")
    assert store.interviews.get(interview_id).status == "analysed"
    with pytest.raises(NotFoundError):
        store.interviews.get(12345)


def test_candidates_get_a_pseudonym_and_a_vault_key(store: Store) -> None:
    candidate = store.candidates.create("Ana Example", email="ana@example.invalid")
    assert candidate.pseudonym.startswith("cand-") and "Ana" not in candidate.pseudonym
    key = store.vault.key_for(candidate.pseudonym)
    assert len(key) == 32
    assert store.candidates.search("Ana")[0].id == candidate.id
    assert store.vault.shred(candidate.pseudonym) is True
    with pytest.raises(NotFoundError, match="erased"):
        store.vault.key_for(candidate.pseudonym)


def test_audit_log_is_append_only_and_chained(store: Store) -> None:
    with store.transaction():
        first = store.audit.append("admin", "user.created", subject="user-2", details={"r": 1})
        store.audit.append("admin", "user.updated", subject="user-2")
    assert store.audit.first_broken_link() is None
    with pytest.raises(DatabaseError, match="append-only"):
        store.conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (first.seq,))
    with pytest.raises(DatabaseError, match="append-only"):
        store.conn.execute("DELETE FROM audit_log WHERE seq = ?", (first.seq,))
    # Someone with the key who drops the trigger and edits a row is still caught by the chain.
    store.conn.execute("DROP TRIGGER audit_log_no_update")
    store.conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (first.seq,))
    assert store.audit.first_broken_link() == first.seq


def test_reports_one_per_job(store: Store) -> None:
    interview_id = demo_interview(store)
    with store.transaction():
        job = store.jobs.enqueue("analyse", max_open=10, max_attempts=1)
        report = store.reports.create(interview_id, job.id, {"sections": {}})
    assert store.reports.for_interview(interview_id) == [report]
    with pytest.raises(IntegrityError):
        store.reports.create(interview_id, job.id, {"again": True})
