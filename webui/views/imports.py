"""Data migration from another HR system: upload, dry run, confirmation, verification report."""

from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.imports.parsing import MAX_SOURCE_BYTES, ImportSource
from appliance.imports.planning import (
    STAGE_TTL_S,
    ImportPlan,
    discard_batch,
    get_batch,
    plan_import,
    recent_batches,
    staged_plan,
)
from appliance.imports.problems import ImportFailedError, ImportRejectedError
from appliance.imports.service import run_import
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Action
from appliance.store import Store
from webui.security import app_store, current_principal, requires
from webui.words import say_error

bp = Blueprint("imports", __name__)

ACCEPTED = ".json,.csv,application/json,text/csv"


def _usernames(store: Store, user_ids: set[int]) -> dict[int, str]:
    found = {}
    for user_id in user_ids:
        try:
            found[user_id] = store.users.get(user_id).username
        except NotFoundError:
            found[user_id] = f"#{user_id}"
    return found


def _index_page(problems: list[str], status: int) -> ResponseReturnValue:
    store = app_store()
    found = recent_batches(store, current_principal())
    return (
        render_template(
            "imports/index.html",
            batches=found,
            usernames=_usernames(store, {b.created_by for b in found}),
            problems=problems,
            limit_mib=MAX_SOURCE_BYTES >> 20,
            ttl_minutes=STAGE_TTL_S // 60,
            accepted=ACCEPTED,
        ),
        status,
    )


def _plan_page(plan: ImportPlan) -> ResponseReturnValue:
    return (
        render_template(
            "imports/plan.html",
            plan=plan,
            records=plan.records(),
            ttl_minutes=STAGE_TTL_S // 60,
        ),
        200 if plan.ok else 422,
    )


@bp.get("/imports")
@requires(Action.IMPORT_DATA)
def index() -> ResponseReturnValue:
    """The upload form and the past import batches."""
    return _index_page([], 200)


@bp.post("/imports")
@requires(Action.IMPORT_DATA)
def upload() -> ResponseReturnValue:
    """Upload a file: the dry run shows what would be imported, problems and duplicates."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _index_page([_("Choose a JSON or CSV file to import.")], 422)
    data = upload.stream.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        return _index_page(
            [_("The file is larger than %(limit)s MiB.", limit=MAX_SOURCE_BYTES >> 20)], 413
        )
    plan = plan_import(
        app_store(), current_principal(), ImportSource(upload.filename, data), stage=True
    )
    return _plan_page(plan)


@bp.get("/imports/<int:batch_id>")
@requires(Action.IMPORT_DATA)
def show(batch_id: int) -> ResponseReturnValue:
    """One batch: its dry-run summary, or the verification report of its import."""
    store, principal = app_store(), current_principal()
    found = get_batch(store, principal, batch_id)
    report = found.report or {}
    return render_template(
        "imports/batch.html",
        batch=found,
        creator=_usernames(store, {found.created_by})[found.created_by],
        plan=report.get("plan"),
        report=report if "counts" in report or "error" in report else None,
        may_confirm=(
            found.status == "planned" and found.staged and found.created_by == principal.user_id
        ),
    )


@bp.get("/imports/<int:batch_id>/report.json")
@requires(Action.IMPORT_DATA)
def report_json(batch_id: int) -> ResponseReturnValue:
    """The batch's report as a JSON download (counts, locations and hashes only)."""
    found = get_batch(app_store(), current_principal(), batch_id)
    body = json.dumps(found.report or {}, indent=2, sort_keys=True, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="import-{found.id}-report.json"'},
    )


@bp.post("/imports/<int:batch_id>/confirm")
@requires(Action.IMPORT_DATA)
def confirm(batch_id: int) -> ResponseReturnValue:
    """Import a staged batch: everything in one transaction, verified before it commits."""
    store, principal = app_store(), current_principal()
    try:
        plan = staged_plan(store, principal, batch_id)
    except ImportRejectedError as exc:
        flash(say_error(exc), "error")
        return redirect(url_for("imports.show", batch_id=batch_id), 303)
    if not plan.ok:
        return _plan_page(plan)
    try:
        run_import(store, principal, plan)
    except ImportRejectedError as exc:
        flash(say_error(exc), "error")
    except ImportFailedError:
        flash(_("The import failed and was rolled back: nothing was imported."), "error")
    else:
        flash(_("The import is complete; counts, hashes and the round trip match."), "success")
    return redirect(url_for("imports.show", batch_id=batch_id), 303)


@bp.post("/imports/<int:batch_id>/discard")
@requires(Action.IMPORT_DATA)
def discard(batch_id: int) -> ResponseReturnValue:
    """Drop an uploaded file instead of importing it."""
    discard_batch(app_store(), current_principal(), batch_id)
    flash(_("The uploaded file was discarded; nothing was imported."), "success")
    return redirect(url_for("imports.index"), 303)
