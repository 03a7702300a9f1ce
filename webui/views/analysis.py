"""Analysis jobs: the list (with what finished since the last visit) and one job's live progress."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.exceptions import HTTPException

from appliance.analysis.control import StopError, stop_analysis
from appliance.analysis.views import (
    JobView,
    finished_since,
    get_job,
    job_summary,
    list_jobs,
    seconds_left,
)
from appliance.platform.clock import from_stamp, now_stamp
from appliance.security.permissions import Action
from webui.security import app_store, current_principal, requires, visibility
from webui.words import say_error

bp = Blueprint("analysis", __name__)

SEEN_KEY = "analysis_seen"
FIRST_VISIT_WINDOW_S = 24 * 3600.0  # without a last visit in this session: the last day


def _existing_path(path: str) -> str | None:
    """`path` if some GET route of the app serves it (pages of other blueprints may be absent)."""
    try:
        current_app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return None
    return path


def report_url(view: JobView) -> str | None:
    """The report page of a finished job, when there is one."""
    if view.report_id is None:
        return None
    return _existing_path(f"/reports/{view.report_id}")


def job_json(view: JobView) -> dict[str, Any]:
    """A job as the progress endpoint returns it."""
    left = seconds_left(app_store(), view)
    return {
        **job_summary(view),
        "seconds_left": left,
        "time_left": _time_left_text(left),
        "detail_url": url_for("analysis.detail", job_id=view.job.id),
        "report_url": report_url(view),
    }


def _time_left_text(seconds: int | None) -> str:
    """ "About 3 minutes left" in the viewer's language; empty when there is no estimate."""
    if seconds is None:
        return ""
    if seconds < 60:
        return str(_("Less than a minute left (estimated from the progress so far)"))
    minutes = round(seconds / 60)
    return str(
        ngettext(
            "About %(num)d minute left (estimated from the progress so far)",
            "About %(num)d minutes left (estimated from the progress so far)",
            minutes,
        )
    )


def _last_visit() -> str | None:
    seen = session.get(SEEN_KEY)
    if not isinstance(seen, str):
        return None
    try:
        from_stamp(seen)
    except ValueError:
        return None
    return seen


def unseen_finished(*, mark_seen: bool = False) -> tuple[list[JobView], bool]:
    """Visible jobs finished since this session last opened the analysis list.

    Returns the jobs and whether there was a last visit (else the window is the last day).
    Nothing new is stored: the last visit is a timestamp in the session.
    """
    now = now_stamp()  # taken first: a job finishing meanwhile shows next time too
    seen = _last_visit()
    jobs = finished_since(app_store(), visibility(), seen or now_stamp(-FIRST_VISIT_WINDOW_S))
    if mark_seen:
        session[SEEN_KEY] = now
    return jobs, seen is not None


@bp.get("/analysis")
@requires(Action.VIEW_JOBS)
def index() -> ResponseReturnValue:
    """Analysis jobs the user may see, and those that finished since the last visit."""
    finished, had_visit = unseen_finished(mark_seen=True)
    jobs = list_jobs(app_store(), visibility())
    return render_template(
        "analysis/index.html",
        jobs=jobs,
        finished=finished,
        had_visit=had_visit,
        report_url=report_url,
    )


@bp.get("/analysis/<int:job_id>")
@requires(Action.VIEW_JOBS)
def detail(job_id: int) -> ResponseReturnValue:
    """One job with live progress (progress.js) and, when done, the link to its report."""
    view = get_job(app_store(), visibility(), job_id)
    return render_template("analysis/detail.html", view=view, job=job_json(view))


@bp.get("/analysis/<int:job_id>.json")
@requires(Action.VIEW_JOBS)
def detail_json(job_id: int) -> ResponseReturnValue:
    """A job's state and progress, polled by progress.js."""
    view = get_job(app_store(), visibility(), job_id)
    return jsonify(job_json(view))


@bp.post("/analysis/<int:job_id>/stop")
@requires(Action.STOP_ANALYSIS)
def stop(job_id: int) -> ResponseReturnValue:
    """A person halts an analysis (human oversight)."""
    try:
        stop_analysis(app_store(), current_principal(), job_id, request.form.get("reason", ""))
    except StopError as exc:
        flash(say_error(exc), "error")
    else:
        flash(_("The analysis was stopped."), "success")
    return redirect(url_for("analysis.detail", job_id=job_id))
