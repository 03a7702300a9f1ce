"""Jobs (requisitions) and their versioned competency models."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.analytics.hiring import hiring_analytics
from appliance.analytics.questions import QuestionRow, question_key, suggestions_for
from appliance.coding_round.tasks import job_tasks, offered_languages
from appliance.competency.service import starter_choices
from appliance.hiring.common import InvalidInputError, allowed_regions
from appliance.hiring.competency_models import (
    ANCHOR_LEVELS,
    QUESTION_LANGUAGES,
    DimensionInput,
    dimension_rows,
    save_competency_model,
)
from appliance.hiring.requisitions import (
    REQUISITION_STATUSES,
    RequisitionInput,
    create_requisition,
    models_in_use,
    update_requisition,
)
from appliance.security.permissions import Action, allowed
from appliance.store.competency import ModelSpec
from appliance.store.hiring import Requisition
from webui.security import app_store, current_principal, requires, visibility

bp = Blueprint("requisitions", __name__)

EXTRA_ROWS = 2
MAX_ROWS = 40


@bp.get("/jobs")
@requires(Action.VIEW_REQUISITIONS)
def index() -> ResponseReturnValue:
    """The jobs the viewer can see, with region, department, status and model version."""
    store = app_store()
    jobs = store.requisitions.visible(visibility())
    models = {
        job.competency_model_id: store.competency.spec(job.competency_model_id)
        for job in jobs
        if job.competency_model_id is not None
    }
    return render_template("requisitions/index.html", jobs=jobs, models=models)


@bp.get("/jobs/<int:requisition_id>")
@requires(Action.VIEW_REQUISITIONS)
def detail(requisition_id: int) -> ResponseReturnValue:
    """One job with its competency model (dimensions, weights, questions, version) and its
    coding tasks."""
    return render_detail(requisition_id)


def render_detail(
    requisition_id: int, task_problems: list[str] | None = None, status: int = 200
) -> ResponseReturnValue:
    """The job page; `task_problems` are the faults of a coding-task file just uploaded."""
    store = app_store()
    job = store.requisitions.get_visible(requisition_id, visibility())
    model = (
        store.competency.spec(job.competency_model_id)
        if job.competency_model_id is not None
        else None
    )
    versions = store.competency.versions(model.name) if model is not None else []
    return (
        render_template(
            "requisitions/detail.html",
            job=job,
            model=model,
            versions=versions,
            languages=QUESTION_LANGUAGES,
            levels=ANCHOR_LEVELS,
            coding_tasks=job_tasks(store, current_principal(), job.id),
            coding_languages=offered_languages(),
            task_problems=task_problems or [],
        ),
        status,
    )


STARTER_PREFIX = "starter:"  # a new job's model choice that opens a built-in starter


def _requisition_input() -> RequisitionInput:
    form = request.form
    model_id = form.get("competency_model_id", "")
    return RequisitionInput(
        title=form.get("title", ""),
        department=form.get("department", ""),
        location=form.get("location", ""),
        region=form.get("region", ""),
        status=form.get("status", ""),
        competency_model_id=int(model_id) if model_id.isdigit() else None,
    )


def _render_form(
    job: Requisition | None, values: RequisitionInput | None, problems: list[str], status: int
) -> ResponseReturnValue:
    vis = visibility()
    principal = current_principal()
    return (
        render_template(
            "requisitions/form.html",
            job=job,
            values=values,
            problems=problems,
            regions=allowed_regions(vis),
            statuses=REQUISITION_STATUSES,
            departments=[d for d in principal.departments if d != "*"],
            models=models_in_use(app_store(), vis) if job is None else [],
            starters=starter_choices() if job is None else [],
            chosen_model=request.form.get("competency_model_id", ""),
        ),
        status,
    )


@bp.route("/jobs/new", methods=["GET", "POST"])
@requires(Action.EDIT_REQUISITIONS)
def new() -> ResponseReturnValue:
    """Open a new job."""
    if request.method == "GET":
        return _render_form(None, None, [], 200)
    values = _requisition_input()
    starter = request.form.get("competency_model_id", "").removeprefix(STARTER_PREFIX)
    chose_starter = request.form.get("competency_model_id", "").startswith(STARTER_PREFIX)
    if chose_starter and starter not in {key for key, _en, _zh in starter_choices()}:
        return _render_form(None, values, [_("Choose a built-in model from the list.")], 422)
    try:
        job = create_requisition(app_store(), current_principal(), values)
    except InvalidInputError as exc:
        return _render_form(None, values, exc.problems, 422)
    flash(_("The job was created."), "success")
    if chose_starter:
        # The built-in model opens in the editor as a draft: HR reviews it and saves version 1.
        return redirect(
            url_for("competency.starter_for_new_job", requisition_id=job.id, key=starter), 303
        )
    return redirect(url_for("requisitions.detail", requisition_id=job.id), 303)


@bp.route("/jobs/<int:requisition_id>/edit", methods=["GET", "POST"])
@requires(Action.EDIT_REQUISITIONS)
def edit(requisition_id: int) -> ResponseReturnValue:
    """Change a job's title, department, location, region or status."""
    store = app_store()
    job = store.requisitions.get_visible(requisition_id, visibility())
    if request.method == "GET":
        return _render_form(job, None, [], 200)
    values = _requisition_input()
    try:
        update_requisition(store, current_principal(), job.id, values)
    except InvalidInputError as exc:
        return _render_form(job, values, exc.problems, 422)
    flash(_("The job was saved."), "success")
    return redirect(url_for("requisitions.detail", requisition_id=job.id), 303)


def _dimension_inputs() -> list[DimensionInput]:
    form = request.form
    try:
        count = min(MAX_ROWS, max(0, int(form.get("rows", "0"))))
    except ValueError:
        count = 0
    return [
        DimensionInput(
            key=form.get(f"dim-{n}-key", ""),
            name=form.get(f"dim-{n}-name", ""),
            weight=form.get(f"dim-{n}-weight", ""),
            description=form.get(f"dim-{n}-description", ""),
            questions={
                language: form.get(f"dim-{n}-questions-{language}", "")
                for language in QUESTION_LANGUAGES
            },
            remove=form.get(f"dim-{n}-remove") == "1",
            name_zh=form.get(f"dim-{n}-name_zh", ""),
            anchors={
                f"{level}-{language}": form.get(f"dim-{n}-anchor-{level}-{language}", "")
                for level in ANCHOR_LEVELS
                for language in QUESTION_LANGUAGES
            },
            keywords={
                language: form.get(f"dim-{n}-keywords-{language}", "")
                for language in QUESTION_LANGUAGES
            },
        )
        for n in range(count)
    ]


@bp.route("/jobs/<int:requisition_id>/model", methods=["GET", "POST"])
@requires(Action.EDIT_REQUISITIONS)
def model(requisition_id: int) -> ResponseReturnValue:
    """The competency-model editor: saving creates a new version the job then points to."""
    store = app_store()
    job = store.requisitions.get_visible(requisition_id, visibility())
    current = (
        store.competency.spec(job.competency_model_id)
        if job.competency_model_id is not None
        else None
    )
    problems: list[str] = []
    status = 200
    origin = request.form.get("origin", "editor")
    if request.method == "POST":
        rows = _dimension_inputs()
        try:
            saved = save_competency_model(
                store,
                current_principal(),
                job.id,
                rows,
                name=request.form.get("name", ""),
                description=request.form.get("description", ""),
                origin=origin,
            )
        except InvalidInputError as exc:
            problems, status = exc.problems, 422
        else:
            flash(_("Saved %(label)s; this job now uses it.", label=saved.label), "success")
            return redirect(url_for("requisitions.detail", requisition_id=job.id), 303)
        name = request.form.get("name", "")
        description = request.form.get("description", "")
    else:
        rows = dimension_rows(current)
        name = current.name if current else job.title
        description = current.description if current else ""
    dropped = request.args.getlist("drop")
    taken_out = without_questions(rows, dropped) if dropped and request.method == "GET" else []
    try:
        extra = min(MAX_ROWS, max(EXTRA_ROWS, int(request.args.get("extra", EXTRA_ROWS))))
    except ValueError:
        extra = EXTRA_ROWS
    rows = [*rows, *(DimensionInput() for _blank in range(extra))][:MAX_ROWS]
    return render_model_editor(
        job,
        current,
        rows,
        name,
        description,
        problems,
        status,
        extra=extra,
        origin=origin,
        draft_note=_(
            "Taken out of the draft: %(questions)s. Save to make it the job's next model "
            "version; until then nothing has changed.",
            questions="; ".join(taken_out),
        )
        if taken_out
        else "",
        question_advice=_question_advice(current, dropped),
    )


def without_questions(rows: list[DimensionInput], keys: list[str]) -> list[str]:
    """Take the questions with these keys out of the rows (in place); the texts taken out."""
    removed: list[str] = []
    for row in rows:
        for language, text in list(row.questions.items()):
            kept = []
            for line in text.splitlines():
                if line.strip() and question_key(line) in keys:
                    removed.append(line.strip())
                else:
                    kept.append(line)
            row.questions[language] = "\n".join(kept)
    return removed


def _question_advice(current: ModelSpec | None, dropped: list[str]) -> list[QuestionRow]:
    """Questions of the model that the hiring data show predict nothing (for those who may
    see analytics); a person decides whether to take each out."""
    principal = current_principal()
    if current is None or allowed(principal, Action.VIEW_ANALYTICS) is None:
        return []
    if not app_store().outcomes.any_rated():
        return []  # the common case: no outcome data, so no need to read every person's scores
    texts = [q.text for dim in current.dimensions for q in dim.questions]
    rows = hiring_analytics(app_store(), principal).questions
    return [row for row in suggestions_for(rows, texts) if row.key not in dropped]


def render_model_editor(
    job: Requisition,
    current: ModelSpec | None,
    rows: list[DimensionInput],
    name: str,
    description: str,
    problems: list[str],
    status: int,
    *,
    extra: int = EXTRA_ROWS,
    origin: str = "editor",
    draft_note: str = "",
    draft_warnings: list[str] | None = None,
    starter: str = "",
    question_advice: list[QuestionRow] | None = None,
) -> ResponseReturnValue:
    """The model editor page (also showing a starter model or an imported dictionary as a
    draft that HR edits before saving)."""
    return (
        render_template(
            "requisitions/model.html",
            job=job,
            current=current,
            rows=rows,
            name=name,
            description=description,
            problems=problems,
            languages=QUESTION_LANGUAGES,
            levels=ANCHOR_LEVELS,
            extra=extra,
            origin=origin if origin in ("editor", "starter", "import") else "editor",
            draft_note=draft_note,
            draft_warnings=draft_warnings or [],
            starters=starter_choices(),
            chosen_starter=starter,
            question_advice=question_advice or [],
        ),
        status,
    )
