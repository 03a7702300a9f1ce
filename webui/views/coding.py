"""Coding rounds on the web: a job's coding tasks (upload a task file, download a version,
create or edit one in a form), HR's page for trying a round out on an interview, and the
coding API (routes on the API blueprint, so they share its bearer-token rule and CSRF
exemption).

The candidate room's own editor is wired elsewhere; it calls the core's `room_*` functions
with the candidate's signed link (appliance/coding_round/work.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.exceptions import UnsupportedMediaType

from appliance.coding.task import task_from_json
from appliance.coding.task_file import MAX_BYTES, TaskFileError
from appliance.coding_round import tasks as coding_tasks
from appliance.coding_round.results import interview_coding, submission_json
from appliance.coding_round.task_form import (
    MAX_ROWS,
    FieldFault,
    TaskForm,
    TaskFormError,
    create_task,
    edit_task,
    editable_task,
    form_from_task,
    new_form,
    newest_version,
)
from appliance.coding_round.work import interview_tasks, save_draft, submit
from appliance.hiring.common import InvalidInputError
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.security.permissions import Action, allowed
from appliance.store.coding import CodeDraft, CodeSubmission, StoredTask
from webui import coding_words
from webui.api import support as api
from webui.api.errors import json_error
from webui.coding_task_form import (
    edit_rows,
    fault_lists,
    posted_languages,
    shown_languages,
    task_form_from_post,
)
from webui.security import app_config, app_store, current_principal, requires, visibility
from webui.views.api import bp as api_bp
from webui.views.requisitions import render_detail

bp = Blueprint("coding", __name__)
coding_words.register(bp)

MAX_CODE_CHARS = 256 * 1024


# --- a job's coding tasks ----------------------------------------------------------------------


@bp.post("/jobs/<int:requisition_id>/coding-tasks")
@requires(Action.EDIT_REQUISITIONS)
def import_task(requisition_id: int) -> ResponseReturnValue:
    """Upload a task file: a new task, or the next version of the job's task with its key;
    faults are listed on the job's page with their lines."""
    upload = request.files.get("task_file")
    if upload is None or not upload.filename:
        return render_detail(requisition_id, [_("Choose a task file to upload.")], 422)
    data = upload.stream.read(MAX_BYTES + 1)
    try:
        saved = coding_tasks.import_task(
            app_store(), current_principal(), requisition_id, data, upload.filename
        )
    except TaskFileError as exc:
        return render_detail(requisition_id, [str(problem) for problem in exc.problems], 422)
    return _saved(requisition_id, saved)


@bp.get("/jobs/<int:requisition_id>/coding-tasks/<int:task_id>/export")
@requires(Action.EDIT_REQUISITIONS)
def export_task(requisition_id: int, task_id: int) -> ResponseReturnValue:
    """Download one task version as a YAML or JSON file (hidden tests and reference included)."""
    fmt = request.args.get("format", "yaml")
    name, data = coding_tasks.export_task(app_store(), current_principal(), task_id, fmt)
    mimetype = "application/json" if fmt == "json" else "application/yaml"
    return Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- a task in a form ---------------------------------------------------------------------------


def _task_form_page(
    requisition_id: int,
    form: TaskForm,
    languages: list[str],
    *,
    stored: StoredTask | None = None,
    faults: list[FieldFault] | None = None,
    autofocus: str = "",
    status: int = 200,
) -> ResponseReturnValue:
    """The task form, new (`stored` None) or an edit of the version `stored`."""
    store = app_store()
    job = store.requisitions.get_visible(requisition_id, visibility())
    errors, summary = fault_lists(faults or [])
    task = task_from_json(stored.spec) if stored is not None else None
    return (
        render_template(
            "coding/task_form.html",
            job=job,
            form=form,
            stored=stored,
            newest=newest_version(store, stored) if stored is not None else None,
            generator=task.generator if task is not None else None,
            languages=languages,
            offered=coding_tasks.offered_languages(),
            errors=errors,
            summary=summary,
            autofocus=autofocus,
            max_rows=MAX_ROWS,
        ),
        status,
    )


def _saved(requisition_id: int, saved: StoredTask) -> ResponseReturnValue:
    flash(
        _(
            "The coding task %(key)s was saved as version %(version)s.",
            key=saved.key,
            version=saved.version,
        ),
        "success",
    )
    return redirect(
        url_for("requisitions.detail", requisition_id=requisition_id) + "#coding-tasks", 303
    )


@bp.route("/jobs/<int:requisition_id>/coding-tasks/new", methods=["GET", "POST"])
@requires(Action.EDIT_REQUISITIONS)
def new_task(requisition_id: int) -> ResponseReturnValue:
    """A new coding task in a form: statement, languages, starter code, tests as rows,
    limits and reference solutions, checked by the task file's rules when saved."""
    offered = coding_tasks.offered_languages()
    if request.method == "GET":
        return _task_form_page(requisition_id, new_form(), offered)
    languages = posted_languages(request.form, offered)
    form = task_form_from_post(request.form, languages)
    focus = edit_rows(form, request.form)
    if focus is not None:
        return _task_form_page(requisition_id, form, languages, autofocus=focus)
    try:
        saved = create_task(app_store(), current_principal(), requisition_id, form)
    except TaskFormError as exc:
        return _task_form_page(requisition_id, form, languages, faults=exc.faults, status=422)
    return _saved(requisition_id, saved)


@bp.route("/jobs/<int:requisition_id>/coding-tasks/<int:task_id>/edit", methods=["GET", "POST"])
@requires(Action.EDIT_REQUISITIONS)
def edit_task_form(requisition_id: int, task_id: int) -> ResponseReturnValue:
    """A task version in the form; saving makes the task's next version (its key and input
    generator stay)."""
    store, principal = app_store(), current_principal()
    stored, task = editable_task(store, principal, task_id)
    if stored.requisition_id != requisition_id:
        raise NotFoundError("no such coding task for this job")
    offered = coding_tasks.offered_languages()
    if request.method == "GET":
        form = form_from_task(task)
        return _task_form_page(requisition_id, form, shown_languages(offered, form), stored=stored)
    languages = posted_languages(request.form, offered)
    form = task_form_from_post(request.form, languages)
    form.key = stored.key
    focus = edit_rows(form, request.form)
    if focus is not None:
        return _task_form_page(requisition_id, form, languages, stored=stored, autofocus=focus)
    try:
        saved = edit_task(store, principal, task_id, form)
    except TaskFormError as exc:
        return _task_form_page(
            requisition_id, form, languages, stored=stored, faults=exc.faults, status=422
        )
    return _saved(requisition_id, saved)


# --- trying a round out (HR) --------------------------------------------------------------------


def _try_page(
    interview_id: int, values: dict[str, str], problems: list[str], status: int
) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    tasks = interview_tasks(store, principal, interview_id)
    results = (
        interview_coding(store, principal, interview_id)
        if allowed(principal, Action.VIEW_REPORTS) is not None
        else None
    )
    return (
        render_template(
            "coding/interview.html",
            interview_id=interview_id,
            tasks=tasks,
            results=results,
            values=values,
            problems=problems,
        ),
        status,
    )


@bp.get("/interviews/<int:interview_id>/coding")
@requires(Action.SUBMIT_CODE)
def try_round(interview_id: int) -> ResponseReturnValue:
    """An interview's coding tasks as the candidate gets them, a form to save a draft or submit
    code on the candidate's behalf (for testing), and the results so far."""
    return _try_page(interview_id, {}, [], 200)


@bp.post("/interviews/<int:interview_id>/coding")
@requires(Action.SUBMIT_CODE)
def try_submit(interview_id: int) -> ResponseReturnValue:
    """Save the form's code as a draft, or submit it for judging."""
    form = request.form
    values = {name: form.get(name, "") for name in ("task_id", "language", "code", "action")}
    task_id = values["task_id"]
    if not task_id.isdigit():
        return _try_page(interview_id, values, [_("Choose a task.")], 422)
    store, principal = app_store(), current_principal()
    code = values["code"].replace("\r\n", "\n")
    try:
        if values["action"] == "draft":
            save_draft(store, principal, interview_id, int(task_id), values["language"], code)
            flash(_("The draft was saved."), "success")
        else:
            submit(
                store, app_config(), principal, interview_id, int(task_id), values["language"], code
            )
            flash(_("The code was submitted; the worker judges it in a moment."), "success")
    except InvalidInputError as exc:
        return _try_page(interview_id, values, exc.problems, 422)
    except RefusedError as exc:
        return _try_page(interview_id, values, [str(exc)], 422)
    return redirect(url_for("coding.try_round", interview_id=interview_id), 303)


# --- API ---------------------------------------------------------------------------------------


def _body(*fields: str) -> api.Body:
    if not request.is_json:
        raise UnsupportedMediaType("send the body as application/json")
    return api.Body(request.get_data(cache=False), fields)


def _code(body: api.Body) -> str:
    code = body.raw("code")
    if not isinstance(code, str):
        raise api.InvalidRequestError("code must be a string")
    if len(code) > MAX_CODE_CHARS:
        raise api.InvalidRequestError(f"code is longer than {MAX_CODE_CHARS} characters")
    return code


def _created(payload: dict[str, Any]) -> ResponseReturnValue:
    response = jsonify(payload)
    response.status_code = 201
    return response


def _draft_json(draft: CodeDraft) -> dict[str, Any]:
    return {
        "id": draft.id,
        "interview_id": draft.interview_id,
        "task_id": draft.task_id,
        "language": draft.language,
        "size_bytes": draft.size_bytes,
        "saved_at": draft.saved_at,
    }


def _submission_ack(submission: CodeSubmission) -> dict[str, Any]:
    return {
        "id": submission.id,
        "interview_id": submission.interview_id,
        "task_id": submission.task_id,
        "language": submission.language,
        "state": submission.state,
        "job_id": submission.job_id,
        "submitted_at": submission.submitted_at,
    }


@api_bp.get("/requisitions/<int:requisition_id>/coding-tasks")
@requires(Action.VIEW_REQUISITIONS)
def api_job_tasks(requisition_id: int) -> ResponseReturnValue:
    """The job's coding tasks (current versions): no test contents, no reference."""
    found = coding_tasks.job_tasks(app_store(), current_principal(), requisition_id)
    items = [
        {**coding_tasks.summary_json(item.stored, item.task), "versions": item.versions}
        for item in found
    ]
    return jsonify({"items": items, "count": len(items)})


@api_bp.post("/requisitions/<int:requisition_id>/coding-tasks")
@requires(Action.EDIT_REQUISITIONS)
def api_import_task(requisition_id: int) -> ResponseReturnValue:
    """Save a task file (its text in `content`) as the next version of the job's task; faults
    come back as 422 with every problem and its line."""
    body = _body("content", "filename")
    content = body.raw("content")
    if not isinstance(content, str) or not content.strip():
        raise api.InvalidRequestError("content must be the task file's text")
    filename = body.optional_text("filename", max_chars=200) or ""
    try:
        saved = coding_tasks.import_task(
            app_store(),
            current_principal(),
            requisition_id,
            content.encode("utf-8"),
            filename,
            origin="api",
        )
    except TaskFileError as exc:
        problems = [{"where": p.where, "message": p.message} for p in exc.problems]
        return json_error(422, "invalid_task_file", str(exc), problems=problems)
    # Versions are numbered from 1 without gaps: the new one's number is how many there are.
    summary = coding_tasks.summary_json(saved, task_from_json(saved.spec))
    return _created({**summary, "versions": saved.version})


@api_bp.get("/interviews/<int:interview_id>/coding/tasks")
@requires(Action.SUBMIT_CODE)
def api_interview_tasks(interview_id: int) -> ResponseReturnValue:
    """The interview's coding tasks as the candidate is given them (visible tests only)."""
    items = interview_tasks(app_store(), current_principal(), interview_id)
    return jsonify({"items": items, "count": len(items)})


@api_bp.post("/interviews/<int:interview_id>/coding/drafts")
@requires(Action.SUBMIT_CODE)
def api_save_draft(interview_id: int) -> ResponseReturnValue:
    """Keep an autosave of the candidate's code (the same code twice is kept once)."""
    body = _body("task_id", "language", "code")
    draft = save_draft(
        app_store(),
        current_principal(),
        interview_id,
        body.integer("task_id"),
        body.text("language", max_chars=20),
        _code(body),
    )
    return _created(_draft_json(draft))


@api_bp.post("/interviews/<int:interview_id>/coding/submissions")
@requires(Action.SUBMIT_CODE)
def api_submit(interview_id: int) -> ResponseReturnValue:
    """Submit code for judging; the worker judges it (GET the submissions for the result)."""
    body = _body("task_id", "language", "code")
    submission = submit(
        app_store(),
        app_config(),
        current_principal(),
        interview_id,
        body.integer("task_id"),
        body.text("language", max_chars=20),
        _code(body),
    )
    return _created(_submission_ack(submission))


@api_bp.get("/interviews/<int:interview_id>/coding/submissions")
@requires(Action.VIEW_REPORTS)
def api_submissions(interview_id: int) -> ResponseReturnValue:
    """The interview's submissions with code and results (a hidden test shows its verdict
    and usage only)."""
    found = interview_coding(app_store(), current_principal(), interview_id)
    items = [submission_json(view) for view in found.submissions]
    return jsonify({"items": items, "count": len(items)})
