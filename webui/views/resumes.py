"""A candidate's resume: upload, the skills match per job, the personalised interview questions."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.resumes.service import (
    add_personal_question,
    delete_personal_question,
    edit_personal_question,
    resume_file,
    resume_overview,
    upload_resume,
)
from appliance.resumes.text import MAX_RESUME_BYTES, ResumeError
from appliance.security.permissions import Action, allowed
from webui.security import app_store, current_principal, requires
from webui.words import say_error

bp = Blueprint("resumes", __name__)


def _page(
    candidate_id: int, *, problems: list[str] | None = None, status: int = 200
) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    overview = resume_overview(store, principal, candidate_id)
    candidate = store.candidates.get(candidate_id)
    return (
        render_template(
            "candidates/resume.html",
            candidate=candidate,
            overview=overview,
            may_edit=allowed(principal, Action.EDIT_CANDIDATES) is not None,
            max_mb=MAX_RESUME_BYTES // (1024 * 1024),
            problems=problems or [],
        ),
        status,
    )


@bp.get("/candidates/<int:candidate_id>/resume")
@requires(Action.VIEW_CANDIDATES)
def show(candidate_id: int) -> ResponseReturnValue:
    """The resume, its match against each job and the personalised questions."""
    return _page(candidate_id)


@bp.post("/candidates/<int:candidate_id>/resume")
@requires(Action.EDIT_CANDIDATES)
def upload(candidate_id: int) -> ResponseReturnValue:
    """Take a resume (PDF, DOCX or TXT): sealed, read, matched; questions drafted."""
    store, principal = app_store(), current_principal()
    upload_file = request.files.get("resume")
    try:
        if upload_file is None or not upload_file.filename:
            raise ResumeError("choose a resume file (PDF, DOCX or TXT)")
        # One byte over the cap is enough to refuse: the rest is never read.
        data = upload_file.stream.read(MAX_RESUME_BYTES + 1)
        upload_resume(
            store, principal, candidate_id=candidate_id, filename=upload_file.filename, data=data
        )
    except ResumeError as exc:
        return _page(candidate_id, problems=[say_error(exc)], status=422)
    flash(_("The resume was read; questions were added to the interview plan."), "success")
    return redirect(url_for("resumes.show", candidate_id=candidate_id), 303)


@bp.get("/resumes/<int:resume_id>/file")
@requires(Action.VIEW_CANDIDATES)
def download(resume_id: int) -> ResponseReturnValue:
    """The uploaded resume file, as it was sent."""
    resume, data = resume_file(app_store(), current_principal(), resume_id)
    extension = {"application/pdf": "pdf", "text/plain": "txt"}.get(resume.content_type, "docx")
    response = Response(data, mimetype=resume.content_type)
    # The stored name may hold anything: the download gets a neutral one.
    response.headers["Content-Disposition"] = (
        f'attachment; filename="resume-{resume.id}.{extension}"'
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/candidates/<int:candidate_id>/plan-questions")
@requires(Action.EDIT_CANDIDATES)
def add_question(candidate_id: int) -> ResponseReturnValue:
    """HR adds a question of their own to the candidate's plan for a job."""
    form = request.form
    try:
        try:
            requisition_id = int(form.get("requisition_id", ""))
        except ValueError:
            raise ResumeError("choose the job the question is for") from None
        add_personal_question(
            app_store(),
            current_principal(),
            candidate_id=candidate_id,
            requisition_id=requisition_id,
            text=form.get("text", ""),
            dimension_key=form.get("dimension_key"),
            language=form.get("language", "en"),
        )
    except ResumeError as exc:
        return _page(candidate_id, problems=[say_error(exc)], status=422)
    flash(_("The question was added."), "success")
    return redirect(url_for("resumes.show", candidate_id=candidate_id), 303)


@bp.post("/plan-questions/<int:question_id>")
@requires(Action.EDIT_CANDIDATES)
def edit_question(question_id: int) -> ResponseReturnValue:
    """HR rewrites a question of the plan."""
    store, principal = app_store(), current_principal()
    candidate_id = store.personal_questions.get(question_id).candidate_id
    try:
        edit_personal_question(
            store,
            principal,
            question_id,
            text=request.form.get("text", ""),
            dimension_key=request.form.get("dimension_key"),
        )
    except ResumeError as exc:
        return _page(candidate_id, problems=[say_error(exc)], status=422)
    flash(_("The question was saved."), "success")
    return redirect(url_for("resumes.show", candidate_id=candidate_id), 303)


@bp.post("/plan-questions/<int:question_id>/delete")
@requires(Action.EDIT_CANDIDATES)
def delete_question(question_id: int) -> ResponseReturnValue:
    """HR removes a question from the plan."""
    candidate_id = delete_personal_question(app_store(), current_principal(), question_id)
    flash(_("The question was removed."), "success")
    return redirect(url_for("resumes.show", candidate_id=candidate_id), 303)
