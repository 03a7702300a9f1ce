"""The JSON API (`/api/v1`): a thin HTTP layer over `webui.api.support` and the core.

Authentication: `Authorization: Bearer <token>`. The blueprint is exempt from CSRF (clients
are programs, not browsers), so a state-changing call (POST, PUT, DELETE, PATCH) is refused
with 401 unless it carries a bearer token: a browser's session cookie can never drive it.
GET requests accept the token or a logged-in session. Errors use the envelope
`{"error": {"code", "message"}}`; an id that does not exist and one outside the caller's
scope get the same 404. The contract is `webui/openapi.yaml`, served at
`/api/v1/openapi.yaml`.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import UnsupportedMediaType

from appliance.analysis.interview_review import override_interview_score
from appliance.analysis.interview_scores import interview_scores
from appliance.analysis.report_document import (
    explanation,
    interview_document,
    log_document_read,
    log_explanation_export,
)
from appliance.analytics.hiring import hiring_analytics, period_of_days
from appliance.compliance import bias, self_id
from appliance.hiring.common import InvalidInputError
from appliance.hiring.outcome_import import plan_outcomes
from appliance.hiring.outcomes import parse_day, record_outcome, record_rating
from appliance.hiring.review import add_evaluation, current_scores, override_score, record_decision
from appliance.media.uploads import UploadOffsetError
from appliance.security.permissions import Action
from appliance.store.outcomes import PROBATION_RESULTS, HireOutcome, OutcomeFields
from webui.api import support as api
from webui.api.analytics_json import analytics_json
from webui.api.errors import json_error
from webui.security import (
    LoginRequired,
    app_config,
    app_store,
    current_principal,
    current_user,
    public,
    requires,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.before_request
def bearer_for_changes() -> None:
    """Refuse state-changing calls that do not carry a bearer token (no cookie-driven CSRF)."""
    if request.method in SAFE_METHODS:
        return
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        raise LoginRequired("changes through the API need an Authorization: Bearer token")


def _body(*fields: str) -> api.Body:
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    return api.Body(request.get_data(cache=False), fields)


def _created(payload: dict[str, object], location: str | None = None) -> ResponseReturnValue:
    response = jsonify(payload)
    response.status_code = 201
    if location is not None:
        response.headers["Location"] = location
    return response


@bp.get("/openapi.yaml")
@public
def openapi_spec() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    return Response(SPEC_PATH.read_text(encoding="utf-8"), mimetype="application/yaml")


@bp.get("/me")
@requires(Action.VIEW_OWN_ACCOUNT)
def me() -> ResponseReturnValue:
    """The calling account, its scope and its role's permissions."""
    return jsonify(api.user_json(current_user()))


# --- Requisitions -----------------------------------------------------------------------------


@bp.get("/requisitions")
@requires(Action.VIEW_REQUISITIONS)
def list_requisitions() -> ResponseReturnValue:
    """Requisitions inside the caller's scope."""
    found = api.list_requisitions(app_store(), current_principal())
    return jsonify({"items": [api.requisition_json(r) for r in found], "count": len(found)})


@bp.get("/requisitions/<int:requisition_id>")
@requires(Action.VIEW_REQUISITIONS)
def get_requisition(requisition_id: int) -> ResponseReturnValue:
    """One requisition."""
    found = api.get_requisition(app_store(), current_principal(), requisition_id)
    return jsonify(api.requisition_json(found))


@bp.post("/requisitions")
@requires(Action.EDIT_REQUISITIONS)
def create_requisition() -> ResponseReturnValue:
    """Open a requisition."""
    body = _body("title", "department", "location", "region", "status", "competency_model_id")
    created = api.create_requisition(app_store(), current_principal(), body)
    return _created(
        api.requisition_json(created),
        url_for("api.get_requisition", requisition_id=created.id),
    )


# --- Candidates -------------------------------------------------------------------------------


@bp.get("/candidates")
@requires(Action.VIEW_CANDIDATES)
def list_candidates() -> ResponseReturnValue:
    """Candidates inside the caller's scope (search, filters, pagination)."""
    args = request.args
    limit, offset = api.page(args.get("limit"), args.get("offset"))
    found = api.list_candidates(
        app_store(),
        current_principal(),
        text=api.query_text(args.get("q"), "q"),
        requisition_id=api.query_int(args.get("requisition_id"), "requisition_id", minimum=1),
        status=api.query_text(args.get("status"), "status", choices=api.INTERVIEW_STATUSES),
        limit=limit,
        offset=offset,
    )
    return jsonify(
        {
            "items": [api.candidate_json(c) for c in found],
            "count": len(found),
            "limit": limit,
            "offset": offset,
        }
    )


@bp.get("/candidates/<int:candidate_id>")
@requires(Action.VIEW_CANDIDATES)
def get_candidate(candidate_id: int) -> ResponseReturnValue:
    """A candidate's profile: interviews, decisions and report ids."""
    return jsonify(api.candidate_profile(app_store(), current_principal(), candidate_id))


@bp.post("/candidates")
@requires(Action.EDIT_CANDIDATES)
def create_candidate() -> ResponseReturnValue:
    """Add a candidate with an interview for a requisition."""
    body = _body(
        "full_name",
        "email",
        "phone",
        "residence_region",
        "language",
        "requisition_id",
    )
    created = api.create_candidate(app_store(), current_principal(), body)
    return _created(
        {
            **api.candidate_json(created.candidate),
            "interview": api.interview_json(created.interview),
        },
        url_for("api.get_candidate", candidate_id=created.candidate.id),
    )


def _decide(candidate_id: int, *, recommendation: bool) -> ResponseReturnValue:
    body = _body("requisition_id", "kind", "reason")
    requisition_id = body.integer("requisition_id")
    kind = body.text("kind", choices=api.decision_kinds(recommendation))
    reason = body.text("reason", max_chars=4000)
    decision = record_decision(
        app_store(),
        current_principal(),
        candidate_id=candidate_id,
        requisition_id=requisition_id,
        kind=kind,
        reason=reason,
    )
    return _created(api.decision_json(decision))


@bp.post("/candidates/<int:candidate_id>/decisions")
@requires(Action.RECORD_DECISION)
def record_candidate_decision(candidate_id: int) -> ResponseReturnValue:
    """Record a decision (advance, reject, hire) with its reason."""
    return _decide(candidate_id, recommendation=False)


@bp.post("/candidates/<int:candidate_id>/recommendations")
@requires(Action.RECORD_RECOMMENDATION)
def record_candidate_recommendation(candidate_id: int) -> ResponseReturnValue:
    """Record a recommendation (recommend_hire, recommend_reject, recommend_hold)."""
    return _decide(candidate_id, recommendation=True)


@bp.put("/candidates/<int:candidate_id>/self-identification")
@requires(Action.EDIT_CANDIDATES)
def put_candidate_self_identification(candidate_id: int) -> ResponseReturnValue:
    """Record what a candidate declared on paper; the categories are never returned."""
    body = _body("sex", "race_ethnicity", "consent")
    sex_choices = (*bias.SEX_CATEGORIES, self_id.PREFER_NOT_TO_SAY)
    race_choices = (*bias.RACE_CATEGORIES, self_id.PREFER_NOT_TO_SAY)
    self_id.set_demographics(
        app_store(),
        current_principal(),
        candidate_id=candidate_id,
        sex=body.optional_text("sex", choices=sex_choices),
        race_ethnicity=body.optional_text("race_ethnicity", choices=race_choices),
        consent=body.flag("consent"),
    )
    return jsonify({"candidate_id": candidate_id, "recorded": True})


# --- Interviews -------------------------------------------------------------------------------


@bp.post("/interviews/<int:interview_id>/assignments")
@requires(Action.EDIT_CANDIDATES)
def assign_interview(interview_id: int) -> ResponseReturnValue:
    """Assign an interviewer or a technical expert to an interview."""
    body = _body("user_id", "duty")
    assignees = api.assign_interview(app_store(), current_principal(), interview_id, body)
    return _created(
        {
            "interview_id": interview_id,
            "assignees": [{"user_id": uid, "duty": duty} for uid, duty in assignees],
        }
    )


def _evaluate(interview_id: int, kind: str) -> ResponseReturnValue:
    body = _body("rating", "summary", "ratings")
    rating = body.integer("rating", minimum=1, maximum=10)
    summary = body.text("summary", max_chars=4000)
    evaluation = add_evaluation(
        app_store(),
        current_principal(),
        interview_id=interview_id,
        kind=kind,
        rating=rating,
        summary=summary,
        ratings=api.optional_ratings(body, "ratings"),
    )
    return _created(api.evaluation_json(evaluation))


@bp.post("/interviews/<int:interview_id>/evaluations")
@requires(Action.ADD_EVALUATION)
def add_interview_evaluation(interview_id: int) -> ResponseReturnValue:
    """An assigned interviewer's evaluation."""
    return _evaluate(interview_id, "interview")


@bp.post("/interviews/<int:interview_id>/technical-evaluations")
@requires(Action.ADD_TECH_EVALUATION)
def add_technical_evaluation(interview_id: int) -> ResponseReturnValue:
    """An assigned technical expert's evaluation."""
    return _evaluate(interview_id, "technical")


# --- Uploads ----------------------------------------------------------------------------------


@bp.post("/interviews/<int:interview_id>/uploads")
@requires(Action.UPLOAD_RECORDING)
def start_upload(interview_id: int) -> ResponseReturnValue:
    """Start a resumable upload of an interview's recording."""
    body = _body("filename", "content_type", "total_bytes")
    config = app_config()
    session = api.start_interview_upload(
        app_store(), config, current_principal(), interview_id, body
    )
    return _created(
        api.upload_json(session, config), url_for("api.get_upload", upload_id=session.id)
    )


@bp.get("/uploads/<upload_id>")
@requires(Action.UPLOAD_RECORDING)
def get_upload(upload_id: str) -> ResponseReturnValue:
    """Where an upload stands (to resume after a dropped connection)."""
    session = api.get_upload(app_store(), current_principal(), upload_id)
    return jsonify(api.upload_json(session, app_config()))


@bp.put("/uploads/<upload_id>")
@requires(Action.UPLOAD_RECORDING)
def put_upload_piece(upload_id: str) -> ResponseReturnValue:
    """Send the piece that starts at `offset`; the last piece completes the upload."""
    offset = api.query_int(request.args.get("offset"), "offset")
    if offset is None:
        raise api.InvalidRequestError("offset is required")
    config = app_config()
    try:
        progress = api.append_upload_piece(
            app_store(),
            config,
            current_principal(),
            upload_id,
            offset=offset,
            data=request.get_data(cache=False),
        )
    except UploadOffsetError as exc:
        return json_error(409, "offset_mismatch", str(exc), expected=exc.expected)
    payload = api.upload_json(progress.session, config)
    if progress.ingested is None:
        return jsonify(payload)
    job_id = progress.ingested.job.id
    return _created(
        {**payload, "recording_id": progress.ingested.recording.id, "job_id": job_id},
        url_for("api.get_job", job_id=job_id),
    )


# --- Jobs and reports -------------------------------------------------------------------------


@bp.get("/jobs/<int:job_id>")
@requires(Action.VIEW_JOBS)
def get_job(job_id: int) -> ResponseReturnValue:
    """An analysis job's state, progress, step and error."""
    return jsonify(api.get_job(app_store(), current_principal(), job_id))


@bp.get("/reports/<int:report_id>")
@requires(Action.VIEW_REPORTS)
def get_report(report_id: int) -> ResponseReturnValue:
    """A report with its current scores and the human overrides."""
    return jsonify(api.get_report(app_store(), current_principal(), report_id))


@bp.get("/interviews/<int:interview_id>/report")
@requires(Action.VIEW_REPORTS)
def get_interview_report(interview_id: int) -> ResponseReturnValue:
    """The interview's report as one document (an audited read)."""
    store, principal = app_store(), current_principal()
    document = interview_document(store, principal, interview_id)
    log_document_read(store, principal, document, f"api.interview-report:{interview_id}")
    return jsonify(document)


@bp.get("/interviews/<int:interview_id>/explanation")
@requires(Action.EXPORT_EXPLANATION)
def get_interview_explanation(interview_id: int) -> ResponseReturnValue:
    """The candidate's explanation (logged as a disclosure)."""
    store, principal = app_store(), current_principal()
    document = interview_document(store, principal, interview_id)
    log_explanation_export(store, principal, document)
    return jsonify(explanation(document))


@bp.post("/interviews/<int:interview_id>/overrides")
@requires(Action.OVERRIDE_SCORE)
def override_interview(interview_id: int) -> ResponseReturnValue:
    """Replace the interview's score for a competency (all answers together), with a reason."""
    body = _body("dimension", "score", "reason")
    dimension = body.text("dimension", max_chars=100)
    score = body.number("score", minimum=1, maximum=10)
    reason = body.text("reason", max_chars=4000)
    store, principal = app_store(), current_principal()
    override = override_interview_score(
        store,
        principal,
        interview_id=interview_id,
        dimension=dimension,
        new_score=score,
        reason=reason,
    )
    current = interview_scores(store, store.interviews.get(interview_id)).current
    return _created({**api.interview_override_json(override), "current_scores": current})


@bp.post("/reports/<int:report_id>/overrides")
@requires(Action.OVERRIDE_SCORE)
def override_report_score(report_id: int) -> ResponseReturnValue:
    """Replace an AI score with a person's, giving the reason."""
    body = _body("dimension", "score", "reason")
    dimension = body.text("dimension", max_chars=100)
    score = body.number("score", minimum=1, maximum=10)
    reason = body.text("reason", max_chars=4000)
    store = app_store()
    override = override_score(
        store,
        current_principal(),
        report_id=report_id,
        dimension=dimension,
        new_score=score,
        reason=reason,
    )
    return _created(
        {**api.override_json(override), "current_scores": current_scores(store, report_id)}
    )


# --- Outcomes after hire and hiring analytics -------------------------------------------------


def _outcome_json(outcome: HireOutcome) -> dict[str, object]:
    return {
        "candidate_id": outcome.candidate_id,
        "requisition_id": outcome.requisition_id,
        "employee_id": outcome.employee_id,
        "start_date": outcome.start_date,
        "probation": outcome.probation,
        "left_on": outcome.left_on,
        "left_voluntarily": outcome.left_voluntarily,
        "ratings": [{"rated_on": r.rated_on, "rating": r.rating} for r in outcome.ratings],
        "updated_at": outcome.updated_at,
    }


@bp.put("/hires/<int:candidate_id>/<int:requisition_id>/outcome")
@requires(Action.RECORD_OUTCOMES)
def put_hire_outcome(candidate_id: int, requisition_id: int) -> ResponseReturnValue:
    """Create or replace what is known about a hire after the decision."""
    body = _body("employee_id", "start_date", "probation", "left_on", "left_voluntarily")
    left_on = parse_day(body.optional_text("left_on", max_chars=10), "left_on")
    voluntary = body.raw("left_voluntarily")
    if voluntary is not None and not isinstance(voluntary, bool):
        raise InvalidInputError(["left_voluntarily must be true, false or null"])
    outcome = record_outcome(
        app_store(),
        current_principal(),
        candidate_id=candidate_id,
        requisition_id=requisition_id,
        employee_id=body.text("employee_id", max_chars=64),
        fields=OutcomeFields(
            parse_day(body.optional_text("start_date", max_chars=10), "start_date"),
            body.optional_text("probation", choices=PROBATION_RESULTS) or "pending",
            left_on,
            voluntary,
        ),
    )
    return jsonify(_outcome_json(outcome))


@bp.post("/hires/<int:candidate_id>/<int:requisition_id>/ratings")
@requires(Action.RECORD_OUTCOMES)
def add_hire_rating(candidate_id: int, requisition_id: int) -> ResponseReturnValue:
    """Add a performance rating (1-5) of a date; a second one of the same date replaces it."""
    body = _body("rated_on", "rating")
    outcome = record_rating(
        app_store(),
        current_principal(),
        candidate_id=candidate_id,
        requisition_id=requisition_id,
        rated_on=body.text("rated_on", max_chars=10),
        rating=body.number("rating", minimum=1, maximum=5),
    )
    return _created(_outcome_json(outcome))


@bp.post("/outcomes/import")
@requires(Action.RECORD_OUTCOMES)
def import_hire_outcomes() -> ResponseReturnValue:
    """Check (`?dry_run=true`) or import an outcome file sent as the body (CSV or XLSX)."""
    kind = request.mimetype
    if kind not in ("text/csv", XLSX_TYPE):
        raise UnsupportedMediaType(f"send the file as text/csv or {XLSX_TYPE}")
    data = request.get_data(cache=False)
    plan = plan_outcomes(
        app_store(),
        current_principal(),
        "outcomes.xlsx" if kind == XLSX_TYPE else "outcomes.csv",
        data,
        apply=request.args.get("dry_run", "false").lower() not in ("1", "true", "yes"),
    )
    response = jsonify(
        {
            "applied": plan.applied,
            "sha256": plan.source_sha256,
            "lines": plan.lines,
            "linked": plan.linked,
            "updated": plan.updated,
            "unchanged": plan.unchanged,
            "ratings": plan.ratings,
            "problems": [
                {"line": p.line, "column": p.column, "message": p.message} for p in plan.problems
            ],
        }
    )
    response.status_code = 422 if plan.problems else 200
    return response


@bp.get("/analytics")
@requires(Action.VIEW_ANALYTICS)
def get_analytics() -> ResponseReturnValue:
    """Hiring analytics of the caller's reach (aggregates only), people interviewed from the
    day `start` to the day `end` (both YYYY-MM-DD, included)."""
    start, end = period_of_days(request.args.get("start"), request.args.get("end"))
    found = hiring_analytics(app_store(), current_principal(), start=start, end=end)
    return jsonify(analytics_json(found))
