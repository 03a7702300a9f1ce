"""The JSON API's rules: strict request parsing and the scoped operations its views call.

The views in `webui/views/api.py` only translate HTTP to these functions and back. Every
operation here takes the acting principal, asks the permission table for the scope of its
action, and reaches records only through the store's scoped getters, so an id outside the
caller's scope gets the same NotFoundError as an id that does not exist. Reading candidate
data writes a `candidate.read` audit entry per candidate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from appliance.hiring import candidates as hiring_candidates
from appliance.hiring import requisitions as hiring_requisitions
from appliance.hiring.candidates import CANDIDATE_LANGUAGES
from appliance.hiring.common import DUTIES, REGIONS
from appliance.hiring.common import INTERVIEW_STATUSES as INTERVIEW_STATUSES
from appliance.hiring.requisitions import REQUISITION_STATUSES
from appliance.hiring.review import (
    DECISIONS,
    RECOMMENDATIONS,
    current_scores,
    log_candidate_read,
    log_candidate_reads,
)
from appliance.media.spool import Spool
from appliance.media.uploads import UploadProgress, append_piece, start_upload
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.security.permissions import (
    PERMISSIONS,
    Action,
    Principal,
    require,
)
from appliance.store import Store
from appliance.store.hiring import Interview, Requisition
from appliance.store.people import Candidate, User
from appliance.store.queue import Job
from appliance.store.review import Decision, Evaluation, InterviewOverride, ScoreOverride
from appliance.store.uploads import UploadSession
from webui.api.json_body import check_body

MAX_PAGE = 200
DEFAULT_PAGE = 50
MAX_TEXT = 200
MAX_QUERY_TEXT = 200
MAX_UPLOAD_ID = 64
_DIGITS = re.compile(r"[0-9]{1,18}")


class InvalidRequestError(RefusedError):
    """A request body or query that does not fit the API's schema (answered with 422)."""


# --- Strict parsing ---------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise InvalidRequestError(f"{name} is not a JSON number")


def parse_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object."""
    if not raw.strip():
        raise InvalidRequestError("the request needs a JSON object as its body")
    check_body(raw)  # before json.loads: a deep body would end in RecursionError there
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidRequestError("the body must be a JSON object")
    return value


class Body:
    """A JSON object body read field by field: unknown fields and wrong types are refused."""

    def __init__(self, raw: bytes, fields: Iterable[str]) -> None:
        self._data = parse_object(raw)
        unknown = sorted(set(self._data) - set(fields))
        if unknown:
            raise InvalidRequestError(f"unknown field(s): {', '.join(unknown)}")

    def _present(self, name: str) -> bool:
        return self._data.get(name) is not None

    def raw(self, name: str) -> Any:
        """The field's parsed JSON value as sent (None when absent), for shapes checked apart."""
        return self._data.get(name)

    def text(
        self, name: str, *, max_chars: int = MAX_TEXT, choices: tuple[str, ...] | None = None
    ) -> str:
        """A required, non-blank string (stripped), optionally one of `choices`."""
        value = self._data.get(name)
        if value is None:
            raise InvalidRequestError(f"{name} is required")
        if not isinstance(value, str):
            raise InvalidRequestError(f"{name} must be a string")
        value = value.strip()
        if not value:
            raise InvalidRequestError(f"{name} must not be empty")
        if len(value) > max_chars:
            raise InvalidRequestError(f"{name} is longer than {max_chars} characters")
        if choices is not None and value not in choices:
            raise InvalidRequestError(f"{name} must be one of: {', '.join(choices)}")
        return value

    def optional_text(
        self,
        name: str,
        *,
        max_chars: int = MAX_TEXT,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        """A string if the field is given (null and absent read as None)."""
        if not self._present(name):
            return None
        return self.text(name, max_chars=max_chars, choices=choices)

    def integer(self, name: str, *, minimum: int = 1, maximum: int = 2**62) -> int:
        """A required integer within bounds (booleans and floats are refused)."""
        value = self._data.get(name)
        if value is None:
            raise InvalidRequestError(f"{name} is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequestError(f"{name} must be an integer")
        if not minimum <= value <= maximum:
            raise InvalidRequestError(f"{name} must be between {minimum} and {maximum}")
        return value

    def optional_integer(self, name: str, *, minimum: int = 1, maximum: int = 2**62) -> int | None:
        """An integer if the field is given."""
        if not self._present(name):
            return None
        return self.integer(name, minimum=minimum, maximum=maximum)

    def flag(self, name: str) -> bool:
        """A boolean if the field is given (null and absent read as false)."""
        value = self._data.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise InvalidRequestError(f"{name} must be true or false")
        return value

    def number(self, name: str, *, minimum: float, maximum: float) -> float:
        """A required number (integer or decimal) within bounds."""
        value = self._data.get(name)
        if value is None:
            raise InvalidRequestError(f"{name} is required")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequestError(f"{name} must be a number")
        if not minimum <= value <= maximum:
            raise InvalidRequestError(f"{name} must be between {minimum:g} and {maximum:g}")
        return float(value)


def _rating_map(value: Any, name: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{name} must be an object of competency keys to ratings")
    found: dict[str, int] = {}
    for key, rating in value.items():
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 10:
            raise InvalidRequestError(f"{name}.{key} must be a whole number from 1 to 10")
        found[str(key)] = rating
    return found


def optional_ratings(body: Body, name: str) -> dict[str, int]:
    """A scorecard: an object of competency keys to whole-number ratings 1-10 (absent: none)."""
    value = body.raw(name)
    return {} if value is None else _rating_map(value, name)


def query_int(
    value: str | None, name: str, *, minimum: int = 0, maximum: int = 2**62
) -> int | None:
    """An optional non-negative integer query parameter (plain digits only)."""
    if value is None or value == "":
        return None
    if not _DIGITS.fullmatch(value):
        raise InvalidRequestError(f"{name} must be a whole number")
    number = int(value)
    if not minimum <= number <= maximum:
        raise InvalidRequestError(f"{name} must be between {minimum} and {maximum}")
    return number


def page(limit: str | None, offset: str | None) -> tuple[int, int]:
    """`limit` (1..200, default 50) and `offset` (default 0) of a list request."""
    found_limit = query_int(limit, "limit", minimum=1, maximum=MAX_PAGE)
    found_offset = query_int(offset, "offset", minimum=0)
    return (DEFAULT_PAGE if found_limit is None else found_limit), (found_offset or 0)


def query_text(value: str | None, name: str, *, choices: tuple[str, ...] | None = None) -> str:
    """An optional text query parameter, bounded, optionally one of `choices`."""
    text = (value or "").strip()
    if len(text) > MAX_QUERY_TEXT:
        raise InvalidRequestError(f"{name} is longer than {MAX_QUERY_TEXT} characters")
    if text and choices is not None and text not in choices:
        raise InvalidRequestError(f"{name} must be one of: {', '.join(choices)}")
    return text


# --- JSON shapes ------------------------------------------------------------------------------


def user_json(user: User) -> dict[str, Any]:
    """The caller's own account and what their role may do."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "departments": list(user.departments),
        "regions": list(user.regions),
        "language": user.language,
        "timezone": user.timezone,
        "permissions": {
            action.value: scope.value for action, scope in PERMISSIONS.get(user.role, {}).items()
        },
    }


def requisition_json(requisition: Requisition) -> dict[str, Any]:
    """A requisition as the API shows it."""
    return {
        "id": requisition.id,
        "title": requisition.title,
        "department": requisition.department,
        "location": requisition.location,
        "region": requisition.region,
        "status": requisition.status,
        "competency_model_id": requisition.competency_model_id,
    }


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    """A candidate's own data as the API shows it."""
    return {
        "id": candidate.id,
        "pseudonym": candidate.pseudonym,
        "full_name": candidate.full_name,
        "email": candidate.email,
        "phone": candidate.phone,
        "residence_region": candidate.residence_region,
        "language": candidate.language,
        "created_at": candidate.created_at,
    }


def interview_json(interview: Interview) -> dict[str, Any]:
    """An interview round as the API shows it."""
    return {
        "id": interview.id,
        "candidate_id": interview.candidate_id,
        "requisition_id": interview.requisition_id,
        "kind": interview.kind,
        "round": interview.round,
        "language": interview.language,
        "status": interview.status,
        "scheduled_at": interview.scheduled_at,
    }


def decision_json(decision: Decision) -> dict[str, Any]:
    """A recorded decision or recommendation."""
    return {
        "id": decision.id,
        "candidate_id": decision.candidate_id,
        "requisition_id": decision.requisition_id,
        "kind": decision.kind,
        "reason": decision.reason,
        "decided_by": decision.decided_by,
        "decided_at": decision.decided_at,
    }


def override_json(override: ScoreOverride) -> dict[str, Any]:
    """A human change to an AI score."""
    return {
        "id": override.id,
        "report_id": override.report_id,
        "dimension": override.dimension,
        "previous_score": override.previous_score,
        "new_score": override.new_score,
        "reason": override.reason,
        "overridden_by": override.overridden_by,
        "overridden_at": override.overridden_at,
    }


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    """An interviewer's or technical expert's evaluation."""
    return {
        "id": evaluation.id,
        "interview_id": evaluation.interview_id,
        "author_id": evaluation.author_id,
        "kind": evaluation.kind,
        "rating": evaluation.rating,
        "summary": evaluation.summary,
        "ratings": dict(evaluation.ratings),
        "created_at": evaluation.created_at,
    }


def interview_override_json(override: InterviewOverride) -> dict[str, Any]:
    """A human change to an interview's score for one competency."""
    return {
        "id": override.id,
        "interview_id": override.interview_id,
        "dimension": override.dimension,
        "previous_score": override.previous_score,
        "new_score": override.new_score,
        "reason": override.reason,
        "overridden_by": override.overridden_by,
        "overridden_at": override.overridden_at,
    }


def upload_json(session: UploadSession, config: ApplianceConfig) -> dict[str, Any]:
    """Where a resumable upload stands: the next piece starts at `received_bytes`."""
    return {
        "id": session.id,
        "interview_id": session.interview_id,
        "filename": session.display_name,
        "content_type": session.content_type,
        "total_bytes": session.total_bytes,
        "received_bytes": session.received_bytes,
        "piece_bytes": config.web.upload_piece_bytes,
        "chunk_bytes": config.media.spool_chunk_bytes,
        "complete": session.completed_at is not None,
        "recording_id": session.recording_id,
    }


# --- Helpers ---------------------------------------------------------------------------------


def open_spool(config: ApplianceConfig) -> Spool:
    """The appliance's encrypted spool."""
    return Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)


# --- Requisitions -----------------------------------------------------------------------------


def list_requisitions(store: Store, principal: Principal) -> list[Requisition]:
    """Requisitions the caller may see."""
    return store.requisitions.visible(require(principal, Action.VIEW_REQUISITIONS))


def get_requisition(store: Store, principal: Principal, requisition_id: int) -> Requisition:
    """One requisition inside the caller's scope, else NotFoundError."""
    visibility = require(principal, Action.VIEW_REQUISITIONS)
    return store.requisitions.get_visible(requisition_id, visibility)


def create_requisition(store: Store, principal: Principal, body: Body) -> Requisition:
    """Open a requisition (the rules are the web form's: `appliance.hiring.requisitions`)."""
    require(principal, Action.EDIT_REQUISITIONS)
    data = hiring_requisitions.RequisitionInput(
        title=body.text("title"),
        department=body.text("department"),
        location=body.text("location"),
        region=body.text("region", choices=REGIONS),
        status=body.optional_text("status", choices=REQUISITION_STATUSES) or "open",
        competency_model_id=body.optional_integer("competency_model_id"),
    )
    return hiring_requisitions.create_requisition(store, principal, data)


# --- Candidates -------------------------------------------------------------------------------


def list_candidates(
    store: Store,
    principal: Principal,
    *,
    text: str,
    requisition_id: int | None,
    status: str,
    limit: int,
    offset: int,
) -> list[Candidate]:
    """Candidates inside the caller's scope, filtered; each one listed is an audited read."""
    visibility = require(principal, Action.VIEW_CANDIDATES)
    found = store.candidates.visible(
        visibility,
        text=text,
        requisition_id=requisition_id,
        status=status or None,
        limit=min(max(limit, 1), MAX_PAGE),
        offset=max(offset, 0),
    )
    log_candidate_reads(store, principal, [c.pseudonym for c in found], "api.candidates.list")
    return found


def candidate_profile(store: Store, principal: Principal, candidate_id: int) -> dict[str, Any]:
    """A candidate with the interviews, decisions and report ids the caller's scope reaches."""
    visibility = require(principal, Action.VIEW_CANDIDATES)
    candidate = store.candidates.get_visible(candidate_id, visibility)
    interviews = store.interviews.for_candidate_visible(candidate.id, visibility)
    requisitions = {interview.requisition_id for interview in interviews}
    decisions = [
        decision
        for decision in store.decisions.for_candidate(candidate.id)
        if decision.requisition_id in requisitions
    ]
    report_ids = [
        report.id
        for interview in interviews
        for report in store.reports.for_interview(interview.id)
    ]
    log_candidate_read(store, principal, candidate.pseudonym, "api.candidate.profile")
    return {
        **candidate_json(candidate),
        "interviews": [interview_json(interview) for interview in interviews],
        "decisions": [decision_json(decision) for decision in decisions],
        "report_ids": report_ids,
    }


@dataclass(frozen=True)
class CreatedCandidate:
    """A new candidate and their first interview."""

    candidate: Candidate
    interview: Interview


def create_candidate(store: Store, principal: Principal, body: Body) -> CreatedCandidate:
    """Add a candidate with an interview for a requisition the caller can see.

    The rules are the web form's (`appliance.hiring.candidates`): an unknown requisition
    and one outside the caller's scope get the same 422.
    """
    require(principal, Action.EDIT_CANDIDATES)
    data = hiring_candidates.CandidateInput(
        full_name=body.text("full_name"),
        email=body.optional_text("email", max_chars=254) or "",
        phone=body.optional_text("phone", max_chars=40) or "",
        residence_region=body.optional_text("residence_region", choices=REGIONS) or "default",
        language=body.optional_text("language", choices=CANDIDATE_LANGUAGES) or "en",
        requisition_id=body.integer("requisition_id"),
    )
    candidate, interview = hiring_candidates.create_candidate(store, principal, data)
    return CreatedCandidate(candidate, interview)


# --- Interviews -------------------------------------------------------------------------------


def assign_interview(
    store: Store, principal: Principal, interview_id: int, body: Body
) -> list[tuple[int, str]]:
    """Give an interviewer or a technical expert an interview; returns all its assignees."""
    visibility = require(principal, Action.EDIT_CANDIDATES)
    interview = store.interviews.get_visible(interview_id, visibility)  # 404 before 422
    hiring_candidates.assign_interview(
        store,
        principal,
        interview_id=interview.id,
        user_id=body.integer("user_id"),
        duty=body.text("duty", choices=DUTIES),
    )
    return store.interviews.assignees(interview.id)


# --- Uploads ----------------------------------------------------------------------------------


def start_interview_upload(
    store: Store, config: ApplianceConfig, principal: Principal, interview_id: int, body: Body
) -> UploadSession:
    """Open a resumable upload for an interview inside the caller's upload scope."""
    visibility = require(principal, Action.UPLOAD_RECORDING)
    interview = store.interviews.get_visible(interview_id, visibility)
    filename = body.text("filename", max_chars=255)
    content_type = body.text("content_type", max_chars=100)
    total_bytes = body.integer("total_bytes", minimum=1)
    return start_upload(
        store,
        open_spool(config),
        config,
        interview_id=interview.id,
        filename=filename,
        content_type=content_type,
        total_bytes=total_bytes,
        user_id=principal.user_id,
    )


def get_upload(store: Store, principal: Principal, upload_id: str) -> UploadSession:
    """An upload the caller started, on an interview still in their scope, else NotFoundError."""
    visibility = require(principal, Action.UPLOAD_RECORDING)
    if len(upload_id) > MAX_UPLOAD_ID:
        raise NotFoundError("no such upload")
    session = store.uploads.get(upload_id)
    if session.user_id != principal.user_id:
        raise NotFoundError("no such upload")
    store.interviews.get_visible(session.interview_id, visibility)
    return session


def append_upload_piece(
    store: Store,
    config: ApplianceConfig,
    principal: Principal,
    upload_id: str,
    *,
    offset: int,
    data: bytes,
) -> UploadProgress:
    """Add a piece to one's own upload; the last piece records the file and queues its job."""
    session = get_upload(store, principal, upload_id)
    return append_piece(
        store,
        open_spool(config),
        config,
        upload_id=session.id,
        offset=offset,
        data=data,
        actor=principal.actor,
    )


# --- Jobs and reports -------------------------------------------------------------------------


def get_job(store: Store, principal: Principal, job_id: int) -> dict[str, Any]:
    """A job's progress, if its recording's interview lies in the caller's scope."""
    visibility = require(principal, Action.VIEW_JOBS)
    job: Job = store.jobs.get(job_id)
    if job.subject_type != "recording" or job.subject_id is None:
        raise NotFoundError(f"no job {job_id}")  # not tied to an interview: no scope reaches it
    recording = store.recordings.get(job.subject_id)
    interview = store.interviews.get_visible(recording.interview_id, visibility)
    report_ids = [r.id for r in store.reports.for_interview(interview.id) if r.job_id == job.id]
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "step": job.step,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": (
            None
            if job.error_code is None
            else {"code": job.error_code, "message": job.error or job.error_code}
        ),
        "recording_id": recording.id,
        "interview_id": interview.id,
        "report_id": report_ids[0] if report_ids else None,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def get_report(store: Store, principal: Principal, report_id: int) -> dict[str, Any]:
    """A report with the current scores and the human overrides (an audited read)."""
    visibility = require(principal, Action.VIEW_REPORTS)
    report = store.reports.get_visible(report_id, visibility)
    interview = store.interviews.get(report.interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    log_candidate_read(store, principal, candidate.pseudonym, f"api.report:{report.id}")
    return {
        "id": report.id,
        "interview_id": report.interview_id,
        "candidate_id": candidate.id,
        "recording_id": report.recording_id,
        "job_id": report.job_id,
        "model_version": report.model_version,
        "status": report.status,
        "created_at": report.created_at,
        "content": report.content,
        "current_scores": current_scores(store, report.id),
        "overrides": [override_json(o) for o in store.overrides.for_report(report.id)],
    }


# --- Decisions --------------------------------------------------------------------------------


def decision_kinds(recommendation: bool) -> tuple[str, ...]:
    """The kinds one endpoint accepts: decisions, or recommendations."""
    return RECOMMENDATIONS if recommendation else DECISIONS
