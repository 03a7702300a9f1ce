"""The one permission table: (role, action) -> scope. Deny by default.

Every web view and API endpoint names the action it performs; the core answers with the
scope the role holds for it (or refuses), and the store applies that scope inside its
queries, so a guessed id from another department or region finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from appliance.platform.errors import ApplianceError

WILDCARD = "*"


class PermissionDeniedError(ApplianceError):
    """The person's role does not allow this action, or the record is outside their scope.

    `role` and `action` are set when the role lacks the action (the web UI says so in words).
    """

    exit_code = 15

    def __init__(
        self, message: str, *, role: str | None = None, action: Action | None = None
    ) -> None:
        super().__init__(message)
        self.role = role
        self.action = action


class Action(StrEnum):
    """Everything a person can do through the UI or the API."""

    VIEW_DASHBOARD = "dashboard.view"
    VIEW_OWN_ACCOUNT = "account.view"
    CHANGE_OWN_ACCOUNT = "account.change"
    MANAGE_USERS = "users.manage"
    MANAGE_SETTINGS = "settings.manage"
    MANAGE_UPDATES = "updates.manage"  # stage signed update bundles, see how updates stand
    VIEW_REQUISITIONS = "requisitions.view"
    EDIT_REQUISITIONS = "requisitions.edit"
    VIEW_CANDIDATES = "candidates.view"
    EDIT_CANDIDATES = "candidates.edit"
    UPLOAD_RECORDING = "recordings.upload"
    VIEW_JOBS = "jobs.view"
    VIEW_REPORTS = "reports.view"
    OVERRIDE_SCORE = "scores.override"
    RECORD_DECISION = "decisions.record"
    RECORD_RECOMMENDATION = "recommendations.record"
    ADD_EVALUATION = "evaluations.add"
    VIEW_TECH_ROUND = "tech_round.view"
    ADD_TECH_EVALUATION = "tech_evaluations.add"
    VIEW_EXPORTS = "exports.view"
    VERIFY_AUDIT = "audit.verify"
    MANAGE_NOTICES = "notices.manage"
    RECORD_CONSENT = "consents.record"
    MANAGE_DATA_REQUESTS = "data_requests.manage"
    ERASE_CANDIDATE = "candidates.erase"
    MANAGE_LEGAL_HOLDS = "legal_holds.manage"
    VIEW_BIAS_AUDIT = "bias_audit.view"
    IMPORT_DATA = "data.import"
    STOP_ANALYSIS = "analysis.stop"
    MANAGE_AFFECT_SCORING = "affect_scoring.manage"
    CORRECT_SEGMENTS = "segments.correct"
    EXPORT_EXPLANATION = "explanations.export"
    MANAGE_SCHEDULING = "scheduling.manage"
    EDIT_AVAILABILITY = "availability.edit"
    MANAGE_OUTBOX = "outbox.manage"
    VIEW_INAPP_NOTIFICATIONS = "inapp_notifications.view"
    LIVE_ASSIST = "live_assist.use"
    SUBMIT_CODE = "coding.submit"  # a coding round's drafts and submissions (room, service, HR)
    RECORD_OUTCOMES = "outcomes.record"  # post-hire outcomes: start, probation, ratings, leaving
    VIEW_ANALYTICS = "analytics.view"  # hiring analytics and score validity (aggregates only)


class Scope(StrEnum):
    """How far an allowed action reaches."""

    OWN = "own"  # interviews assigned to the person
    DEPARTMENT = "department"  # their departments within their regions
    REGION = "region"  # any department within their regions
    ALL = "all"


_EVERYONE = {
    Action.VIEW_DASHBOARD: Scope.OWN,
    Action.VIEW_OWN_ACCOUNT: Scope.OWN,
    Action.CHANGE_OWN_ACCOUNT: Scope.OWN,
    Action.VIEW_INAPP_NOTIFICATIONS: Scope.OWN,
}

PERMISSIONS: dict[str, dict[Action, Scope]] = {
    "hr_admin": {
        **_EVERYONE,
        Action.MANAGE_USERS: Scope.ALL,
        Action.MANAGE_SETTINGS: Scope.ALL,
        Action.MANAGE_UPDATES: Scope.ALL,
        Action.VIEW_REQUISITIONS: Scope.REGION,
        Action.EDIT_REQUISITIONS: Scope.REGION,
        Action.VIEW_CANDIDATES: Scope.REGION,
        Action.EDIT_CANDIDATES: Scope.REGION,
        Action.UPLOAD_RECORDING: Scope.REGION,
        Action.VIEW_JOBS: Scope.REGION,
        Action.VIEW_REPORTS: Scope.REGION,
        Action.OVERRIDE_SCORE: Scope.REGION,
        Action.RECORD_DECISION: Scope.REGION,
        Action.MANAGE_NOTICES: Scope.REGION,
        Action.RECORD_CONSENT: Scope.REGION,
        Action.MANAGE_DATA_REQUESTS: Scope.REGION,
        Action.ERASE_CANDIDATE: Scope.REGION,
        Action.MANAGE_LEGAL_HOLDS: Scope.REGION,
        Action.VIEW_BIAS_AUDIT: Scope.REGION,
        Action.IMPORT_DATA: Scope.REGION,
        Action.STOP_ANALYSIS: Scope.REGION,
        Action.MANAGE_AFFECT_SCORING: Scope.REGION,
        Action.CORRECT_SEGMENTS: Scope.REGION,
        Action.EXPORT_EXPLANATION: Scope.REGION,
        Action.MANAGE_SCHEDULING: Scope.REGION,
        Action.EDIT_AVAILABILITY: Scope.ALL,
        Action.MANAGE_OUTBOX: Scope.REGION,
        Action.LIVE_ASSIST: Scope.REGION,
        Action.SUBMIT_CODE: Scope.REGION,
        Action.RECORD_OUTCOMES: Scope.REGION,
        Action.VIEW_ANALYTICS: Scope.REGION,
    },
    "recruiter": {
        **_EVERYONE,
        Action.VIEW_REQUISITIONS: Scope.DEPARTMENT,
        Action.VIEW_CANDIDATES: Scope.DEPARTMENT,
        Action.EDIT_CANDIDATES: Scope.DEPARTMENT,
        Action.UPLOAD_RECORDING: Scope.DEPARTMENT,
        Action.VIEW_JOBS: Scope.DEPARTMENT,
        Action.VIEW_REPORTS: Scope.DEPARTMENT,
        Action.OVERRIDE_SCORE: Scope.DEPARTMENT,
        Action.RECORD_DECISION: Scope.DEPARTMENT,
        Action.RECORD_CONSENT: Scope.DEPARTMENT,
        Action.STOP_ANALYSIS: Scope.DEPARTMENT,
        Action.CORRECT_SEGMENTS: Scope.DEPARTMENT,
        Action.EXPORT_EXPLANATION: Scope.DEPARTMENT,
        Action.MANAGE_SCHEDULING: Scope.DEPARTMENT,
        Action.EDIT_AVAILABILITY: Scope.DEPARTMENT,
        Action.MANAGE_OUTBOX: Scope.DEPARTMENT,
        Action.LIVE_ASSIST: Scope.DEPARTMENT,
        Action.SUBMIT_CODE: Scope.DEPARTMENT,
        Action.VIEW_ANALYTICS: Scope.DEPARTMENT,
    },
    "interviewer": {
        **_EVERYONE,
        Action.EDIT_AVAILABILITY: Scope.OWN,
        Action.VIEW_CANDIDATES: Scope.OWN,
        Action.VIEW_REPORTS: Scope.OWN,
        Action.ADD_EVALUATION: Scope.OWN,
        Action.LIVE_ASSIST: Scope.OWN,
    },
    "business_lead": {
        **_EVERYONE,
        Action.VIEW_REQUISITIONS: Scope.DEPARTMENT,
        Action.VIEW_CANDIDATES: Scope.DEPARTMENT,
        Action.VIEW_REPORTS: Scope.DEPARTMENT,
        Action.RECORD_RECOMMENDATION: Scope.DEPARTMENT,
        Action.EDIT_AVAILABILITY: Scope.OWN,
        Action.VIEW_ANALYTICS: Scope.DEPARTMENT,
    },
    "tech_expert": {
        **_EVERYONE,
        Action.VIEW_TECH_ROUND: Scope.OWN,
        Action.ADD_TECH_EVALUATION: Scope.OWN,
        Action.EDIT_AVAILABILITY: Scope.OWN,
    },
    "auditor": {
        Action.VIEW_OWN_ACCOUNT: Scope.OWN,
        Action.CHANGE_OWN_ACCOUNT: Scope.OWN,
        Action.VIEW_EXPORTS: Scope.REGION,
        Action.VERIFY_AUDIT: Scope.ALL,
        Action.VIEW_BIAS_AUDIT: Scope.REGION,
    },
    "service": {
        Action.VIEW_OWN_ACCOUNT: Scope.OWN,
        Action.VIEW_REQUISITIONS: Scope.REGION,
        Action.VIEW_CANDIDATES: Scope.REGION,
        Action.UPLOAD_RECORDING: Scope.REGION,
        Action.VIEW_JOBS: Scope.REGION,
        Action.VIEW_REPORTS: Scope.REGION,
        Action.SUBMIT_CODE: Scope.REGION,  # the room's back end, for the coding round
    },
}


@dataclass(frozen=True)
class Principal:
    """The person (or service account) acting."""

    user_id: int
    username: str
    role: str
    departments: tuple[str, ...]
    regions: tuple[str, ...]

    @property
    def actor(self) -> str:
        """The audit log's actor for this person: `user:<id>`."""
        return f"user:{self.user_id}"


@dataclass(frozen=True)
class Visibility:
    """What one action lets a principal see; turned into a WHERE clause by the store."""

    scope: Scope
    user_id: int
    departments: tuple[str, ...]
    regions: tuple[str, ...]

    def requisition_clause(self, alias: str) -> tuple[str, list[Any]]:
        """SQL restricting rows of requisitions `alias` (department and region scopes)."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.scope in (Scope.REGION, Scope.DEPARTMENT) and WILDCARD not in self.regions:
            clauses.append(f"{alias}.region IN ({_marks(self.regions)})")
            params.extend(self.regions)
        if self.scope is Scope.DEPARTMENT and WILDCARD not in self.departments:
            clauses.append(f"{alias}.department IN ({_marks(self.departments)})")
            params.extend(self.departments)
        return (" AND ".join(clauses) or "1"), params

    def interview_clause(
        self, interview_alias: str, requisition_alias: str
    ) -> tuple[str, list[Any]]:
        """SQL restricting interview rows (joined with their requisition)."""
        if self.scope is Scope.OWN:
            return (
                f"EXISTS (SELECT 1 FROM interview_assignments ia WHERE ia.interview_id = "
                f"{interview_alias}.id AND ia.user_id = ?)",
                [self.user_id],
            )
        return self.requisition_clause(requisition_alias)


def _marks(values: tuple[str, ...]) -> str:
    # An empty list must match nothing, not be a syntax error.
    return ", ".join("?" for _ in values) or "NULL"


def allowed(principal: Principal, action: Action) -> Scope | None:
    """The scope the principal's role holds for `action`, or None (denied)."""
    return PERMISSIONS.get(principal.role, {}).get(action)


def require(principal: Principal, action: Action) -> Visibility:
    """The visibility for `action`, or PermissionDeniedError."""
    scope = allowed(principal, action)
    if scope is None:
        raise PermissionDeniedError(
            f"the role {principal.role} may not {action.value}", role=principal.role, action=action
        )
    return Visibility(scope, principal.user_id, principal.departments, principal.regions)
