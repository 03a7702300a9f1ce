"""The permission table and the scoped queries it drives."""

from __future__ import annotations

import pytest

from appliance.security.permissions import (
    PERMISSIONS,
    Action,
    PermissionDeniedError,
    Principal,
    Scope,
    allowed,
    require,
)
from appliance.store import Store
from appliance.store.people import ROLES

from .conftest import make_user


def _principal(store: Store, role: str, departments: list[str], regions: list[str]) -> Principal:
    user = store.users.get(
        make_user(
            store,
            f"{role}.{len(store.users.all())}",
            role,
            departments=departments,
            regions=regions,
        )
    )
    return Principal(
        user.id, user.username, user.role, tuple(user.departments), tuple(user.regions)
    )


def test_every_role_is_in_the_table_and_deny_is_the_default() -> None:
    assert set(PERMISSIONS) == set(ROLES)
    nobody = Principal(1, "x", "no_such_role", ("*",), ("*",))
    assert all(allowed(nobody, action) is None for action in Action)
    with pytest.raises(PermissionDeniedError):
        require(nobody, Action.VIEW_DASHBOARD)


def test_business_lead_and_auditor_cannot_change_scores_or_decide() -> None:
    for role in ("business_lead", "auditor", "interviewer", "tech_expert", "service"):
        principal = Principal(1, "x", role, ("*",), ("*",))
        assert allowed(principal, Action.OVERRIDE_SCORE) is None
        assert allowed(principal, Action.RECORD_DECISION) is None
    auditor = Principal(1, "a", "auditor", ("*",), ("*",))
    assert allowed(auditor, Action.VIEW_CANDIDATES) is None
    assert allowed(auditor, Action.VIEW_EXPORTS) is Scope.REGION  # exports only of their regions


def _world(store: Store) -> dict[str, int]:
    """Candidates in (Engineering, EU), (Sales, EU), (Engineering, US-IL)."""
    ids = {}
    with store.transaction():
        reqs = {
            "eng-eu": store.requisitions.create("Dev", "Engineering", "Berlin", "EU"),
            "sales-eu": store.requisitions.create("Rep", "Sales", "Paris", "EU"),
            "eng-il": store.requisitions.create("Dev", "Engineering", "Chicago", "US-IL"),
        }
    for label, requisition in reqs.items():
        candidate = store.candidates.create(f"Person {label}")
        interview = store.interviews.create(candidate.id, requisition.id)
        ids[label] = candidate.id
        ids[f"{label}-interview"] = interview.id
        ids[f"{label}-req"] = requisition.id
    return ids


def test_department_and_region_scopes_apply_inside_queries(store: Store) -> None:
    ids = _world(store)
    recruiter = _principal(store, "recruiter", ["Engineering"], ["EU"])
    seen = {c.id for c in store.candidates.visible(require(recruiter, Action.VIEW_CANDIDATES))}
    assert seen == {ids["eng-eu"]}
    visibility = require(recruiter, Action.VIEW_CANDIDATES)
    for guessed in ("sales-eu", "eng-il"):
        with pytest.raises(Exception, match="no candidate"):
            store.candidates.get_visible(ids[guessed], visibility)
    admin_eu = _principal(store, "hr_admin", [], ["EU"])  # region scope: any department
    seen = {c.id for c in store.candidates.visible(require(admin_eu, Action.VIEW_CANDIDATES))}
    assert seen == {ids["eng-eu"], ids["sales-eu"]}
    everywhere = _principal(store, "hr_admin", [], ["*"])
    assert len(store.candidates.visible(require(everywhere, Action.VIEW_CANDIDATES))) == 3
    nowhere = _principal(store, "recruiter", [], [])
    assert store.candidates.visible(require(nowhere, Action.VIEW_CANDIDATES)) == []
    reqs = store.requisitions.visible(require(recruiter, Action.VIEW_REQUISITIONS))
    assert [r.id for r in reqs] == [ids["eng-eu-req"]]


def test_own_scope_follows_assignments(store: Store) -> None:
    ids = _world(store)
    interviewer = _principal(store, "interviewer", ["*"], ["*"])
    visibility = require(interviewer, Action.VIEW_CANDIDATES)
    assert store.candidates.visible(visibility) == []
    with store.transaction():
        store.interviews.assign(ids["eng-il-interview"], interviewer.user_id, "interviewer")
    assert [c.id for c in store.candidates.visible(visibility)] == [ids["eng-il"]]
    assert (
        store.interviews.get_visible(ids["eng-il-interview"], visibility).id
        == ids["eng-il-interview"]
    )


def test_search_text_is_a_parameter_not_sql(store: Store) -> None:
    _world(store)
    admin = _principal(store, "hr_admin", ["*"], ["*"])
    visibility = require(admin, Action.VIEW_CANDIDATES)
    for hostile in ("' OR 1=1 --", "%'; DROP TABLE candidates; --", '") OR ("1"="1'):
        assert store.candidates.visible(visibility, text=hostile) == []
    assert len(store.candidates.visible(visibility)) == 3
