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
        counts = {
            status: store.candidates.count_visible(candidates_scope, status=status)
            for status in INTERVIEW_STATUSES
        }
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


def _decided(store: Store, candidate_id: int) -> dict[int, str]:
    """When the newest decision on each job was made for a candidate (requisition id -> stamp)."""
    decided: dict[int, str] = {}
    for decision in store.decisions.for_candidate(candidate_id):
        if decision.kind in DECISIONS:
            decided[decision.requisition_id] = max(
                decided.get(decision.requisition_id, ""), decision.decided_at
            )
    return decided


def awaiting_decision(store: Store, visibility: Visibility) -> list[AwaitingInterview]:
    """Visible analysed interviews with no decision on their job since their newest report,
    newest first."""
    requisitions = RequisitionLookup(store)
    analysed: list[tuple[Candidate, Interview]] = []
    for candidate in store.candidates.visible(visibility, status="analysed", limit=AWAITING_SCAN):
        analysed += [
            (candidate, interview)
            for interview in store.interviews.for_candidate_visible(candidate.id, visibility)
            if interview.status == "analysed"
        ]
    # Every page view asks this: the reports are counted in one query, never opened (their
    # sealed content is the largest thing in the store), and decisions are read only for
    # candidates with a reported interview.
    stamps = store.reports.stamps_for_interviews([interview.id for _, interview in analysed])
    decisions: dict[int, dict[int, str]] = {}
    found = []
    for candidate, interview in analysed:
        if interview.id not in stamps:
            continue
        reports, newest = stamps[interview.id]
        if candidate.id not in decisions:
            decisions[candidate.id] = _decided(store, candidate.id)
        if decisions[candidate.id].get(interview.requisition_id, "") < newest:
            found.append(
                AwaitingInterview(
                    interview, candidate, requisitions(interview.requisition_id), reports, newest
                )
            )
    return sorted(found, key=lambda item: item.newest, reverse=True)


__all__ = ["AssignedInterview", "AwaitingInterview", "Dashboard", "awaiting_decision", "dashboard"]
