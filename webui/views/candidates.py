"""Candidates: search, creation, the profile with its forms, and the technical rounds."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.coding_round.results import tech_round_coding
from appliance.compliance.self_id import SelfIdError, SelfIdOffer, self_id_offer, set_demographics
from appliance.hiring.candidate_views import (
    CandidateProfile,
    candidate_profile,
    search_candidates,
)
from appliance.hiring.candidates import (
    CANDIDATE_LANGUAGES,
    INTERVIEW_KINDS,
    CandidateInput,
    assign_interview,
    assignable_people,
    create_candidate,
    open_requisitions,
    plan_interview,
)
from appliance.hiring.common import INTERVIEW_STATUSES, REGIONS
from appliance.hiring.requisitions import visible_requisitions
from appliance.hiring.review import (
    DECISIONS,
    RECOMMENDATIONS,
    ReviewError,
    add_evaluation,
    log_candidate_read,
    record_decision,
)
from appliance.hiring.tech_rounds import tech_round, tech_rounds
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.security.permissions import Action, Principal, allowed, require
from appliance.store import Store
from webui.security import app_store, current_principal, requires, visibility
from webui.self_id import posted_answers, refusal_text, self_id_choices
from webui.words import say_error

bp = Blueprint("candidates", __name__)
# Where a form may send the reader back: a report page of this site, never anywhere else.
REPORT_PAGE = re.compile(r"/reports/\d+|/interviews/\d+/report")

PAGE_SIZE = 25
UPLOAD_ENDPOINT = "uploads.upload_page"


# --- small presentation helpers shared by the hiring templates ---------------------------------


@bp.app_template_filter("bytes_human")
def bytes_human(size: int | float | None) -> str:
    """1536 -> '1.5 KiB'."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


@bp.app_template_filter("seconds_human")
def seconds_human(seconds: float | None) -> str:
    """75.4 -> '1:15'; None -> '-'."""
    if seconds is None:
        return "-"
    whole = round(float(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def upload_url(interview_id: int) -> str | None:
    """The upload page of an interview, when the uploads blueprint offers one."""
    if UPLOAD_ENDPOINT not in current_app.view_functions:
        return None
    for rule in current_app.url_map.iter_rules(UPLOAD_ENDPOINT):
        arguments = sorted(rule.arguments)
        if len(arguments) == 1:
            values: dict[str, Any] = {arguments[0]: interview_id}
            return url_for(UPLOAD_ENDPOINT, **values)
    return None


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


# --- list and creation -------------------------------------------------------------------------


@bp.get("/candidates")
@requires(Action.VIEW_CANDIDATES)
def index() -> ResponseReturnValue:
    """Search by name or e-mail, filter by job and interview status, page through."""
    store, vis = app_store(), visibility()
    text = request.args.get("q", "").strip()[:200]
    job = _int(request.args.get("job"))
    status = request.args.get("status") or None
    if status not in INTERVIEW_STATUSES:
        status = None
    page = max(1, _int(request.args.get("page")) or 1)
    rows, more = search_candidates(
        store, vis, text=text, requisition_id=job, status=status, page=page, page_size=PAGE_SIZE
    )
    return render_template(
        "candidates/index.html",
        rows=rows,
        more=more,
        page=page,
        q=text,
        job=job,
        status=status,
        jobs=visible_requisitions(store, vis),
        statuses=INTERVIEW_STATUSES,
    )


def _render_new(
    values: CandidateInput | None, problems: list[str], status: int
) -> ResponseReturnValue:
    return (
        render_template(
            "candidates/new.html",
            values=values,
            problems=problems,
            jobs=open_requisitions(app_store(), visibility()),
            regions=REGIONS,
            languages=CANDIDATE_LANGUAGES,
            preselected=_int(request.args.get("job")),
        ),
        status,
    )


@bp.route("/candidates/new", methods=["GET", "POST"])
@requires(Action.EDIT_CANDIDATES)
def new() -> ResponseReturnValue:
    """Add a candidate and their first interview for a job."""
    if request.method == "GET":
        return _render_new(None, [], 200)
    form = request.form
    values = CandidateInput(
        full_name=form.get("full_name", ""),
        email=form.get("email", ""),
        phone=form.get("phone", ""),
        residence_region=form.get("residence_region", ""),
        language=form.get("language", ""),
        requisition_id=_int(form.get("requisition_id")),
    )
    try:
        candidate, _interview = create_candidate(app_store(), current_principal(), values)
    except RefusedError as exc:
        return _render_new(
            values, getattr(exc, "problems", [exc.args[0] if exc.args else str(exc)]), 422
        )
    flash(_("The candidate was added with a first interview."), "success")
    return redirect(url_for("candidates.profile", candidate_id=candidate.id), 303)


# --- the profile -------------------------------------------------------------------------------


def _profile_page(
    store: Store,
    principal: Principal,
    candidate_id: int,
    *,
    problems: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """Render the profile with the VIEW_CANDIDATES scope, and log the read."""
    vis = require(principal, Action.VIEW_CANDIDATES)
    profile = candidate_profile(store, vis, candidate_id)
    log_candidate_read(store, principal, profile.candidate.pseudonym, "profile")
    return (
        render_template(
            "candidates/profile.html",
            profile=profile,
            problems=problems or {},
            values=values or {},
            decisions=DECISIONS,
            recommendations=RECOMMENDATIONS,
            kinds=INTERVIEW_KINDS,
            languages=CANDIDATE_LANGUAGES,
            assignable=_assignable(store, profile, principal),
            my_duties=_my_duties(store, profile, principal),
            upload_links=_upload_links(profile, principal),
            plan_jobs=(
                open_requisitions(store, require(principal, Action.EDIT_CANDIDATES))
                if allowed(principal, Action.EDIT_CANDIDATES)
                else []
            ),
            self_id=_self_id_form(store, principal, profile),
            self_id_choices=self_id_choices(),
        ),
        status,
    )


def _self_id_form(
    store: Store, principal: Principal, profile: CandidateProfile
) -> SelfIdOffer | None:
    """The paper self-identification form's policy, for people who may edit the candidate.

    Write-only: what was declared is never read back onto this page (it counts in audits only).
    """
    if allowed(principal, Action.EDIT_CANDIDATES) is None:
        return None
    return self_id_offer(store, profile.candidate.id)


def _assignable(
    store: Store, profile: CandidateProfile, principal: Principal
) -> dict[int, list[Any]]:
    if allowed(principal, Action.EDIT_CANDIDATES) is None:
        return {}
    return {
        detail.interview.id: assignable_people(store, detail.requisition)
        for detail in profile.interviews
    }


def _my_duties(
    store: Store, profile: CandidateProfile, principal: Principal
) -> dict[int, set[str]]:
    return {
        detail.interview.id: {
            duty
            for user_id, duty in ((a.user_id, a.duty) for a in detail.assignees)
            if user_id == principal.user_id
        }
        for detail in profile.interviews
    }


def _upload_links(profile: CandidateProfile, principal: Principal) -> dict[int, str]:
    if allowed(principal, Action.UPLOAD_RECORDING) is None:
        return {}
    links = {}
    for detail in profile.interviews:
        link = upload_url(detail.interview.id)
        if link:
            links[detail.interview.id] = link
    return links


@bp.get("/candidates/<int:candidate_id>")
@requires(Action.VIEW_CANDIDATES)
def profile(candidate_id: int) -> ResponseReturnValue:
    """Details, interviews with recordings, reports, evaluations, decisions and timeline."""
    return _profile_page(app_store(), current_principal(), candidate_id)


def _back(candidate_id: int, message: str) -> ResponseReturnValue:
    flash(message, "success")
    back = request.form.get("back", "")
    if REPORT_PAGE.fullmatch(back):  # a decision taken on a report page returns there
        return redirect(back, 303)
    return redirect(url_for("candidates.profile", candidate_id=candidate_id), 303)


def _failed(candidate_id: int, form_name: str, exc: RefusedError) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    if allowed(principal, Action.VIEW_CANDIDATES) is None:
        raise exc
    problems = getattr(exc, "problems", None) or [say_error(exc)]
    values = {key: request.form.get(key, "") for key in request.form if key != "csrf_token"}
    return _profile_page(
        store, principal, candidate_id, problems={form_name: problems}, values=values, status=422
    )


def _decide(
    candidate_id: int, allowed_kinds: tuple[str, ...], form_name: str
) -> ResponseReturnValue | None:
    store, principal = app_store(), current_principal()
    kind = request.form.get("kind", "")
    try:
        if kind not in allowed_kinds:
            raise ReviewError(_("choose one of the listed options"))
        requisition_id = _int(request.form.get("requisition_id"))
        if requisition_id is None:
            raise ReviewError(_("choose the job"))
        record_decision(
            store,
            principal,
            candidate_id=candidate_id,
            requisition_id=requisition_id,
            kind=kind,
            reason=request.form.get("reason", ""),
        )
    except RefusedError as exc:
        return _failed(candidate_id, form_name, exc)
    return None


@bp.post("/candidates/<int:candidate_id>/decisions")
@requires(Action.RECORD_DECISION)
def decide(candidate_id: int) -> ResponseReturnValue:
    """Advance, reject or hire, with a mandatory reason."""
    failed = _decide(candidate_id, DECISIONS, "decision")
    if failed is not None:
        return failed
    return _back(candidate_id, _("The decision was recorded."))


@bp.post("/candidates/<int:candidate_id>/recommendations")
@requires(Action.RECORD_RECOMMENDATION)
def recommend(candidate_id: int) -> ResponseReturnValue:
    """A business lead's recommendation, with a mandatory reason."""
    failed = _decide(candidate_id, RECOMMENDATIONS, "recommendation")
    if failed is not None:
        return failed
    return _back(candidate_id, _("The recommendation was recorded."))


@bp.post("/candidates/<int:candidate_id>/self-identification")
@requires(Action.EDIT_CANDIDATES)
def self_identification(candidate_id: int) -> ResponseReturnValue:
    """Record what a candidate declared on a paper form (sex, race/ethnicity, or neither)."""
    sex, race, consent = posted_answers(request.form)
    try:
        set_demographics(
            app_store(),
            current_principal(),
            candidate_id=candidate_id,
            sex=sex,
            race_ethnicity=race,
            consent=consent,
        )
    except SelfIdError as exc:
        return _failed(candidate_id, "self-id", RefusedError(refusal_text(exc)))
    return _back(candidate_id, _("The self-identification was recorded. It is not shown anywhere."))


def _interview_of(candidate_id: int, interview_id: int) -> None:
    """404 unless the interview belongs to the candidate in the URL (and the view's scope)."""
    interview = app_store().interviews.get_visible(interview_id, visibility())
    if interview.candidate_id != candidate_id:
        raise NotFoundError(f"no interview {interview_id}")


@bp.post("/candidates/<int:candidate_id>/interviews")
@requires(Action.EDIT_CANDIDATES)
def plan(candidate_id: int) -> ResponseReturnValue:
    """Plan another interview round."""
    try:
        requisition_id = _int(request.form.get("requisition_id"))
        if requisition_id is None:
            raise ReviewError(_("choose the job"))
        plan_interview(
            app_store(),
            current_principal(),
            candidate_id=candidate_id,
            requisition_id=requisition_id,
            kind=request.form.get("kind", ""),
            language=request.form.get("language", ""),
        )
    except RefusedError as exc:
        return _failed(candidate_id, "plan", exc)
    return _back(candidate_id, _("The interview was planned."))


@bp.post("/candidates/<int:candidate_id>/interviews/<int:interview_id>/assignments")
@requires(Action.EDIT_CANDIDATES)
def assign(candidate_id: int, interview_id: int) -> ResponseReturnValue:
    """Assign an interviewer or a technical expert to an interview."""
    _interview_of(candidate_id, interview_id)
    try:
        user_id = _int(request.form.get("user_id"))
        if user_id is None:
            raise ReviewError(_("choose a person"))
        assign_interview(
            app_store(),
            current_principal(),
            interview_id=interview_id,
            user_id=user_id,
            duty=request.form.get("duty", ""),
        )
    except RefusedError as exc:
        return _failed(candidate_id, f"assign-{interview_id}", exc)
    return _back(candidate_id, _("The assignment was saved."))


def _rating() -> int:
    rating = _int(request.form.get("rating"))
    if rating is None:
        raise ReviewError(_("a rating is between 1 and 10"))
    return rating


SCORECARD_FIELD = "rating."


def _scorecard() -> dict[str, int]:
    """The scorecard's ratings from the form: `rating.<competency key>`, empty ones left out."""
    ratings: dict[str, int] = {}
    for name, value in request.form.items():
        if not name.startswith(SCORECARD_FIELD) or not value.strip():
            continue
        rating = _int(value)
        if rating is None:
            raise ReviewError(_("a rating is between 1 and 10"))
        ratings[name.removeprefix(SCORECARD_FIELD)] = rating
    return ratings


@bp.post("/candidates/<int:candidate_id>/interviews/<int:interview_id>/evaluations")
@requires(Action.ADD_EVALUATION)
def evaluate(candidate_id: int, interview_id: int) -> ResponseReturnValue:
    """An assigned interviewer's evaluation of their interview."""
    _interview_of(candidate_id, interview_id)
    try:
        add_evaluation(
            app_store(),
            current_principal(),
            interview_id=interview_id,
            kind="interview",
            rating=_rating(),
            summary=request.form.get("summary", ""),
            ratings=_scorecard(),
        )
    except RefusedError as exc:
        return _failed(candidate_id, f"evaluate-{interview_id}", exc)
    return _back(candidate_id, _("Your evaluation was saved."))


# --- technical rounds --------------------------------------------------------------------------


@bp.get("/tech")
@requires(Action.VIEW_TECH_ROUND)
def tech_index() -> ResponseReturnValue:
    """The technical rounds assigned to the viewer."""
    return render_template(
        "candidates/tech_index.html", rounds=tech_rounds(app_store(), current_principal())
    )


def _tech_page(
    interview_id: int, problems: list[str], values: dict[str, str], status: int
) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    found = tech_round(store, principal, interview_id)
    log_candidate_read(store, principal, found.candidate_pseudonym, f"tech_round:{interview_id}")
    return (
        render_template(
            "candidates/tech_round.html",
            round=found,
            coding=tech_round_coding(store, principal, interview_id),
            problems=problems,
            values=values,
        ),
        status,
    )


@bp.get("/tech/interviews/<int:interview_id>", endpoint="tech_round")
@requires(Action.VIEW_TECH_ROUND)
def tech_round_page(interview_id: int) -> ResponseReturnValue:
    """One assigned technical round and the form for the technical evaluation."""
    return _tech_page(interview_id, [], {}, 200)


@bp.post("/tech/interviews/<int:interview_id>/evaluations")
@requires(Action.ADD_TECH_EVALUATION)
def tech_evaluate(interview_id: int) -> ResponseReturnValue:
    """Add the technical evaluation of an assigned round."""
    store, principal = app_store(), current_principal()
    tech_round(store, principal, interview_id)  # 404 for rounds not assigned to the viewer
    try:
        add_evaluation(
            store,
            principal,
            interview_id=interview_id,
            kind="technical",
            rating=_rating(),
            summary=request.form.get("summary", ""),
            ratings=_scorecard(),
        )
    except RefusedError as exc:
        values = {
            name: request.form.get(name, "")
            for name in request.form
            if name in ("rating", "summary") or name.startswith(SCORECARD_FIELD)
        }
        return _tech_page(interview_id, [say_error(exc)], values, 422)
    flash(_("Your technical evaluation was saved."), "success")
    return redirect(url_for("candidates.tech_round", interview_id=interview_id), 303)
