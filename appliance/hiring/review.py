"""People's judgements: decisions on candidates, score overrides, evaluations.

Only a person ever decides: every function here takes the acting principal, checks the
permission table and scope, requires a reason where a decision or an override is made,
and writes the audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from appliance.hiring.common import competency_model_of
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.platform.words import said
from appliance.scheduling.next_round import enqueue_next_round
from appliance.security.permissions import Action, PermissionDeniedError, Principal, require
from appliance.store import Store
from appliance.store.audit import NewEntry
from appliance.store.reports import Report
from appliance.store.review import Decision, Evaluation, ScoreOverride

DECISIONS = ("advance", "reject", "hire")
RECOMMENDATIONS = ("recommend_hire", "recommend_reject", "recommend_hold")
MAX_REASON_CHARS = 4000


class ReviewError(RefusedError):
    """A decision, override or evaluation is incomplete or not possible."""

    exit_code = 18


def require_reason(text: str) -> str:
    """The reason a person gave, trimmed; ReviewError when it is empty or too long."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ReviewError(said("a reason is required"))
    if len(cleaned) > MAX_REASON_CHARS:
        raise ReviewError(
            said("the reason is longer than %(max)s characters", max=MAX_REASON_CHARS)
        )
    return cleaned


def record_decision(
    store: Store,
    principal: Principal,
    *,
    candidate_id: int,
    requisition_id: int,
    kind: str,
    reason: str,
) -> Decision:
    """A person's decision (advance/reject/hire) or recommendation, with its reason."""
    if kind in DECISIONS:
        visibility = require(principal, Action.RECORD_DECISION)
    elif kind in RECOMMENDATIONS:
        visibility = require(principal, Action.RECORD_RECOMMENDATION)
    else:
        raise ReviewError(said("unknown decision %(kind)s", kind=repr(kind)))
    candidate = store.candidates.get_visible(candidate_id, visibility)
    requisition = store.requisitions.get_visible(requisition_id, visibility)
    if not any(
        i.requisition_id == requisition.id for i in store.interviews.for_candidate(candidate.id)
    ):
        raise ReviewError(said("the candidate has no interview for this requisition"))
    text = require_reason(reason)
    with store.transaction():
        decision = store.decisions.add(candidate.id, requisition.id, kind, text, principal.user_id)
        store.audit.append(
            principal.actor,
            f"decision.{kind}",
            subject=candidate.pseudonym,
            details={"decision": decision.id, "requisition": requisition.id},
        )
        if kind == "advance":
            # Commits with the decision: the worker opens the next round's scheduling.
            enqueue_next_round(store, decision)
    return decision


def ai_scores(content: dict[str, Any]) -> dict[str, float]:
    """The AI's score per competency dimension in a report's content (may be empty)."""
    # One reading of both report shapes (the scorer's sections and the older `scores`).
    from appliance.store.decision_log import ai_scores as stored_ai_scores

    return stored_ai_scores(content)


def override_score(
    store: Store,
    principal: Principal,
    *,
    report_id: int,
    dimension: str,
    new_score: float,
    reason: str,
) -> ScoreOverride:
    """A person replaces an AI score; the reason is mandatory and the change is logged."""
    visibility = require(principal, Action.OVERRIDE_SCORE)
    report = store.reports.get_visible(report_id, visibility)
    scores = ai_scores(report.content)
    if dimension not in scores:
        raise ReviewError(said("the report has no AI score for %(name)s", name=repr(dimension)))
    if not 1 <= new_score <= 10:
        raise ReviewError(said("a score is between 1 and 10"))
    text = require_reason(reason)
    interview = store.interviews.get(report.interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    previous = current_scores(store, report_id).get(dimension, scores[dimension])
    with store.transaction():
        override = store.overrides.add(
            report.id, dimension, previous, new_score, text, principal.user_id
        )
        store.audit.append(
            principal.actor,
            "score.overridden",
            subject=candidate.pseudonym,
            details={
                "report": report.id,
                "dimension": dimension,
                "from": previous,
                "to": new_score,
            },
        )
    return override


def current_scores(store: Store, report_id: int) -> dict[str, float]:
    """AI scores with the latest human override applied per dimension."""
    return scores_with_overrides(
        store.reports.get(report_id), store.overrides.for_report(report_id)
    )


def scores_with_overrides(report: Report, overrides: Sequence[ScoreOverride]) -> dict[str, float]:
    """`current_scores` of a report and its overrides (oldest first) that are already read."""
    scores = ai_scores(report.content)
    for override in overrides:
        scores[override.dimension] = override.new_score
    return scores


def _scorecard(
    store: Store, interview_id: int, ratings: Mapping[str, int] | None
) -> dict[str, int]:
    """Checked ratings per competency: each a competency of the job's model, 1 to 10."""
    if not ratings:
        return {}
    interview = store.interviews.get(interview_id)
    model = competency_model_of(store, store.requisitions.get(interview.requisition_id))
    known = {dim.key: dim.name for dim in model.dimensions} if model else {}
    checked: dict[str, int] = {}
    for key, value in ratings.items():
        if key not in known:
            raise ReviewError(
                said("the job's competency model has no competency %(name)s", name=repr(key))
            )
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
            raise ReviewError(
                said("the rating of %(name)s is a whole number from 1 to 10", name=known[key])
            )
        checked[key] = value
    return checked


def add_evaluation(
    store: Store,
    principal: Principal,
    *,
    interview_id: int,
    kind: str,
    rating: int,
    summary: str,
    ratings: Mapping[str, int] | None = None,
) -> Evaluation:
    """An assigned interviewer's (or technical expert's) own evaluation of an interview: an
    overall rating, notes, and optionally a scorecard rating each competency of the job."""
    action = {"interview": Action.ADD_EVALUATION, "technical": Action.ADD_TECH_EVALUATION}.get(kind)
    if action is None:
        raise ReviewError(said("unknown evaluation kind %(kind)s", kind=repr(kind)))
    require(principal, action)
    duty = "interviewer" if kind == "interview" else "tech_expert"
    if (principal.user_id, duty) not in store.interviews.assignees(interview_id):
        # Same answer as a missing interview: ids of others' interviews reveal nothing.
        raise NotFoundError(f"no interview {interview_id}")
    if not 1 <= rating <= 10:
        raise ReviewError(said("a rating is between 1 and 10"))
    text = require_reason(summary)
    scorecard = _scorecard(store, interview_id, ratings)
    interview = store.interviews.get(interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(principal.actor, f"evaluation.{kind}", subject=candidate.pseudonym) as entry:
        evaluation = store.evaluations.add(
            interview_id, principal.user_id, kind, rating, text, scorecard
        )
        # Which competencies were rated, never the ratings (the log outlives an erasure).
        entry.details.update(
            evaluation=evaluation.id, interview=interview_id, rated=sorted(scorecard)
        )
    return evaluation


def log_candidate_read(
    store: Store, principal: Principal, candidate_pseudonym: str, what: str
) -> None:
    """Every read of a candidate's data by a person: who, what, when (ALL-3)."""
    log_candidate_reads(store, principal, [candidate_pseudonym], what)


def log_candidate_reads(
    store: Store, principal: Principal, pseudonyms: list[str], what: str
) -> None:
    """One audit entry per candidate shown (a list page), committed before this returns."""
    actor = principal.actor
    store.audit_grouped(
        [NewEntry(actor, "candidate.read", pseudonym, {"what": what}) for pseudonym in pseudonyms]
    )


__all__ = [
    "DECISIONS",
    "RECOMMENDATIONS",
    "PermissionDeniedError",
    "ReviewError",
    "add_evaluation",
    "current_scores",
    "log_candidate_read",
    "log_candidate_reads",
    "override_score",
    "record_decision",
    "require_reason",
]
