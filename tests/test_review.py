"""Human decisions, overrides and evaluations: reasons required, scopes enforced, audited."""

from __future__ import annotations

import pytest

from appliance.accounts.auth import principal_of
from appliance.hiring.review import (
    ReviewError,
    add_evaluation,
    current_scores,
    override_score,
    record_decision,
)
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import PermissionDeniedError, Principal
from appliance.store import Store

from .conftest import make_user


def _as(
    store: Store, username: str, role: str, departments: list[str], regions: list[str]
) -> Principal:
    return principal_of(
        store.users.get(make_user(store, username, role, departments=departments, regions=regions))
    )


@pytest.fixture
def world(store: Store) -> dict[str, int]:
    with store.transaction():
        requisition = store.requisitions.create("Dev", "Engineering", "Berlin", "EU")
        other = store.requisitions.create("Rep", "Sales", "Chicago", "US-IL")
    candidate = store.candidates.create("Ana Example")
    stranger = store.candidates.create("Bo Other")
    interview = store.interviews.create(candidate.id, requisition.id)
    store.interviews.create(stranger.id, other.id)
    with store.transaction():
        job = store.jobs.enqueue("analyse", max_open=10, max_attempts=1)
        report = store.reports.create(
            interview.id,
            job.id,
            {"scores": {"collaboration": {"score": 6, "confidence": 0.7, "evidence": []}}},
        )
    return {
        "candidate": candidate.id,
        "stranger": stranger.id,
        "requisition": requisition.id,
        "other": other.id,
        "interview": interview.id,
        "report": report.id,
    }


def test_decision_needs_a_person_a_reason_and_scope(store: Store, world: dict[str, int]) -> None:
    recruiter = _as(store, "rec", "recruiter", ["Engineering"], ["EU"])
    with pytest.raises(ReviewError, match="reason"):
        record_decision(
            store,
            recruiter,
            candidate_id=world["candidate"],
            requisition_id=world["requisition"],
            kind="advance",
            reason="   ",
        )
    assert store.decisions.for_candidate(world["candidate"]) == []
    decision = record_decision(
        store,
        recruiter,
        candidate_id=world["candidate"],
        requisition_id=world["requisition"],
        kind="advance",
        reason="Strong ownership in both answers",
    )
    assert decision.decided_by == recruiter.user_id
    assert store.audit.entries(action="decision.advance")[-1].actor == f"user:{recruiter.user_id}"
    with pytest.raises(NotFoundError):  # another department and region: as if absent
        record_decision(
            store,
            recruiter,
            candidate_id=world["stranger"],
            requisition_id=world["other"],
            kind="reject",
            reason="x",
        )
    lead = _as(store, "lead", "business_lead", ["Engineering"], ["EU"])
    with pytest.raises(PermissionDeniedError):
        record_decision(
            store,
            lead,
            candidate_id=world["candidate"],
            requisition_id=world["requisition"],
            kind="hire",
            reason="great",
        )
    recommendation = record_decision(
        store,
        lead,
        candidate_id=world["candidate"],
        requisition_id=world["requisition"],
        kind="recommend_hire",
        reason="Fits the team",
    )
    assert recommendation.kind == "recommend_hire"


def test_override_requires_reason_and_role(store: Store, world: dict[str, int]) -> None:
    recruiter = _as(store, "rec", "recruiter", ["Engineering"], ["EU"])
    lead = _as(store, "lead", "business_lead", ["Engineering"], ["EU"])
    with pytest.raises(PermissionDeniedError):
        override_score(
            store,
            lead,
            report_id=world["report"],
            dimension="collaboration",
            new_score=9,
            reason="I liked them",
        )
    with pytest.raises(ReviewError, match="reason"):
        override_score(
            store,
            recruiter,
            report_id=world["report"],
            dimension="collaboration",
            new_score=8,
            reason="",
        )
    with pytest.raises(ReviewError, match="no AI score"):
        override_score(
            store,
            recruiter,
            report_id=world["report"],
            dimension="nonexistent",
            new_score=8,
            reason="typo",
        )
    with pytest.raises(ReviewError, match="between 1 and 10"):
        override_score(
            store,
            recruiter,
            report_id=world["report"],
            dimension="collaboration",
            new_score=11,
            reason="too high",
        )
    assert current_scores(store, world["report"]) == {"collaboration": 6.0}
    override_score(
        store,
        recruiter,
        report_id=world["report"],
        dimension="collaboration",
        new_score=8,
        reason="Evidence at 03:12 shows she led the merger",
    )
    assert current_scores(store, world["report"]) == {"collaboration": 8.0}
    entry = store.audit.entries(action="score.overridden")[-1]
    assert entry.details["from"] == 6.0 and entry.details["to"] == 8.0


def test_evaluations_only_by_assigned_people(store: Store, world: dict[str, int]) -> None:
    interviewer = _as(store, "int", "interviewer", ["*"], ["*"])
    expert = _as(store, "tech", "tech_expert", ["*"], ["*"])
    with pytest.raises(NotFoundError):
        add_evaluation(
            store,
            interviewer,
            interview_id=world["interview"],
            kind="interview",
            rating=7,
            summary="Solid",
        )
    with store.transaction():
        store.interviews.assign(world["interview"], interviewer.user_id, "interviewer")
        store.interviews.assign(world["interview"], expert.user_id, "tech_expert")
    evaluation = add_evaluation(
        store,
        interviewer,
        interview_id=world["interview"],
        kind="interview",
        rating=7,
        summary="Solid examples",
    )
    assert evaluation.author_id == interviewer.user_id
    with pytest.raises(PermissionDeniedError):  # an interviewer is not the technical expert
        add_evaluation(
            store,
            interviewer,
            interview_id=world["interview"],
            kind="technical",
            rating=7,
            summary="x",
        )
    technical = add_evaluation(
        store,
        expert,
        interview_id=world["interview"],
        kind="technical",
        rating=8,
        summary="Clean code, good tests",
    )
    assert [e.kind for e in store.evaluations.for_interview(world["interview"])] == [
        "interview",
        "technical",
    ]
    assert technical.rating == 8
