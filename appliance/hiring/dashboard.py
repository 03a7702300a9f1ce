"""The dashboard: counts by interview status, the newest candidates, interviews awaiting a
decision and the viewer's own assignments, each scoped by the viewer's permissions."""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance.hiring.candidate_views import CandidateRow, candidate_rows
from appliance.hiring.common import INTERVIEW_STATUSES, RequisitionLookup
from appliance.hiring.review import DECISIONS
from appliance.security.permissions import Action, Principal, Visibility, allowed, require
from appliance.store import Store
from appliance.store.hiring import Interview, Requisition
from appliance.store.people import Candidate

LATEST_CANDIDATES = 10
AWAITING_SCAN = 200


@dataclass(frozen=True)
class AwaitingInterview:
    """An analysed interview with no decision recorded for its job since its newest report:
    one row however many answers (reports) it has."""

    interview: Interview
    candidate: Candidate
    requisition: Requisition
    reports: int
    newest: str  # when its newest report was drafted


@dataclass(frozen=True)
class AssignedInterview:
    """An interview assigned to the viewer."""

    interview: Interview
    duty: str
    candidate_name: str
    candidate_id: int
    requisition: Requisition


@dataclass(frozen=True)
class Dashboard:
    """The dashboard's figures, each limited to what the viewer's role reaches."""

    status_counts: dict[str, int] | None = None
    latest: list[CandidateRow] = field(default_factory=list)
    awaiting: list[AwaitingInterview] = field(default_factory=list)
    assigned: list[AssignedInterview] = field(default_factory=list)


def _scope(principal: Principal, action: Action) -> Visibility | None:
    return require(principal, action) if allowed(principal, action) is not None else None


def dashboard(store: Store, principal: Principal) -> Dashboard:
    """Counts by interview status, the newest candidates, reports awaiting a decision, and the
    viewer's own assignments: each scoped by the viewer's own permissions."""
    require(principal, Action.VIEW_DASHBOARD)
    candidates_scope = _scope(principal, Action.VIEW_CANDIDATES)
    counts: dict[str, int] | None = None
    latest: list[CandidateRow] = []
    if candidates_scope is not None:
        by_status = store.candidates.count_visible_by_status(candidates_scope)
        counts = {status: by_status.get(status, 0) for status in INTERVIEW_STATUSES}
        latest = candidate_rows(
            store,
            candidates_scope,
            store.candidates.visible(candidates_scope, limit=LATEST_CANDIDATES),
        )
    reports_scope = _scope(principal, Action.VIEW_REPORTS)
    awaiting = (
        awaiting_decision(store, reports_scope)
        if reports_scope is not None and candidates_scope is not None
        else []
    )
    requisitions = RequisitionLookup(store)
    assigned = []
    for duty, action in (
        ("interviewer", Action.ADD_EVALUATION),
        ("tech_expert", Action.VIEW_TECH_ROUND),
    ):
        if allowed(principal, action) is None:
            continue
        for interview in store.interviews.assigned_to(principal.user_id, duty):
            candidate = store.candidates.get(interview.candidate_id)
            assigned.append(
                AssignedInterview(
                    interview,
                    duty,
                    candidate.full_name,
                    candidate.id,
                    requisitions(interview.requisition_id),
                )
            )
    return Dashboard(counts, latest, awaiting, assigned)


def awaiting_decision(store: Store, visibility: Visibility) -> list[AwaitingInterview]:
    """Visible analysed interviews with no decision on their job since their newest report,
    newest first."""
    # Every page view asks this, so it is a handful of queries however many are waiting: the
    # candidates, their interviews, the reports counted (never opened: their sealed content is
    # the largest thing in the store), the newest decision per job (reasons not opened), jobs.
    candidates = store.candidates.visible(visibility, status="analysed", limit=AWAITING_SCAN)
    interviews = store.interviews.for_candidates_visible([c.id for c in candidates], visibility)
    analysed = [
        (candidate, interview)
        for candidate in candidates
        for interview in interviews.get(candidate.id, [])
        if interview.status == "analysed"
    ]
    stamps = store.reports.stamps_for_interviews([interview.id for _, interview in analysed])
    reported = [(c, i) for c, i in analysed if i.id in stamps]
    decided = store.decisions.newest_of_kinds({c.id for c, _ in reported}, DECISIONS)
    jobs = store.requisitions.many({i.requisition_id for _, i in reported})
    found = [
        AwaitingInterview(
            interview, candidate, jobs[interview.requisition_id], *stamps[interview.id]
        )
        for candidate, interview in reported
        if decided.get((candidate.id, interview.requisition_id), "") < stamps[interview.id][1]
    ]
    return sorted(found, key=lambda item: item.newest, reverse=True)


__all__ = ["AssignedInterview", "AwaitingInterview", "Dashboard", "awaiting_decision", "dashboard"]
