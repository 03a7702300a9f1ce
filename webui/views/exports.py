"""Auditor exports: the auditor's page, the administrators' recipient page, and the JSON API.

A thin adapter over `appliance.exports.requesting` and `.recipients`. The API routes carry
their full `/api/v1/exports...`
paths in this blueprint (no url_prefix). Like `webui/views/api.py`, they are exempt from CSRF
(see `_exempt_api_views`), so a state-changing API call is refused with 401 unless it carries
an `Authorization: Bearer` token: a browser's session cookie can never drive it. The page
forms keep the CSRF check, also if the whole blueprint were ever exempted (`_guard`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.exports.kinds import EXPORT_KINDS
from appliance.exports.recipients import (
    own_recipient,
    recipients,
    register_recipient,
    set_cross_border,
    set_video_allow_list,
)
from appliance.exports.requesting import (
    ExportStatus,
    bundle_for_download,
    export_status,
    list_exports,
    request_export,
)
from appliance.exports.rules import REGIONS, ExportError, exportable_regions
from appliance.security.permissions import Action
from webui.api import support as api
from webui.api.errors import json_error
from webui.security import (
    LoginRequired,
    app_config,
    app_store,
    current_principal,
    requires,
    wants_json,
)
from webui.words import say_error

bp = Blueprint("exports", __name__)

API = "/api/v1/exports"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REQUEST_FIELDS = ("kind", "region", "period_start", "period_end", "reason")


@bp.before_request
def _guard() -> None:
    """API changes need a bearer token; page forms need their CSRF token."""
    if request.method in SAFE_METHODS:
        return
    if request.path.startswith(API):
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            raise LoginRequired("changes through the API need an Authorization: Bearer token")
        return
    csrf = current_app.extensions.get("csrf")
    if csrf is not None:
        csrf.protect()


@bp.errorhandler(ExportError)
def _refused(error: ExportError) -> ResponseReturnValue:
    """A refused export: 422 with the rule that refused it (pages flash it instead)."""
    if wants_json():
        return json_error(422, "export_refused", str(error), rule=error.rule)
    flash(say_error(error), "error")
    return redirect(url_for("exports.index"), code=303)


# --- JSON shapes ------------------------------------------------------------------------------


def export_json(status: ExportStatus) -> dict[str, Any]:
    """An export as the API shows it."""
    export = status.export
    bundle = None
    if status.state == "succeeded" and export.bundle_name:
        bundle = {
            "name": export.bundle_name,
            "bytes": export.bundle_bytes,
            "sha256": export.bundle_sha256,
            "url": url_for("exports.api_bundle", export_id=export.id),
        }
    return {
        "id": export.id,
        "job_id": export.job_id,
        "kind": export.kind,
        "region": export.region,
        "period_start": export.period_start,
        "period_end": export.period_end,
        "state": status.state,
        "progress": status.progress,
        "step": status.step,
        "error": status.error,
        "created_at": export.created_at,
        "finished_at": export.finished_at,
        "counts": export.counts,
        "bundle": bundle,
    }


# --- API --------------------------------------------------------------------------------------


@bp.post(API)
@requires(Action.VIEW_EXPORTS)
def api_request() -> ResponseReturnValue:
    """Ask for a bundle; 202 with the export and the id of the job that builds it."""
    if not request.is_json:
        raise api.InvalidRequestError("send the body as application/json")
    body = api.Body(request.get_data(cache=False), REQUEST_FIELDS)
    store = app_store()
    export = request_export(
        store,
        current_principal(),
        body.text("kind", choices=tuple(EXPORT_KINDS)),
        body.text("region", choices=REGIONS),
        body.text("period_start", max_chars=40),
        body.text("period_end", max_chars=40),
        reason=body.optional_text("reason", max_chars=1000),
        config=app_config(),
    )
    status = export_status(store, current_principal(), export.id)
    response = jsonify(export_json(status))
    response.status_code = 202
    response.headers["Location"] = url_for("exports.api_status", export_id=export.id)
    return response


@bp.get(API)
@requires(Action.VIEW_EXPORTS)
def api_list() -> ResponseReturnValue:
    """The caller's own exports, newest first."""
    found = list_exports(app_store(), current_principal())
    return jsonify({"items": [export_json(status) for status in found], "count": len(found)})


@bp.get(f"{API}/<int:export_id>")
@requires(Action.VIEW_EXPORTS)
def api_status(export_id: int) -> ResponseReturnValue:
    """One of the caller's exports: state and progress."""
    return jsonify(export_json(export_status(app_store(), current_principal(), export_id)))


@bp.get(f"{API}/<int:export_id>/bundle")
@requires(Action.VIEW_EXPORTS)
def api_bundle(export_id: int) -> ResponseReturnValue:
    """The age-encrypted bundle, streamed; only to the auditor who asked for it."""
    export, path = bundle_for_download(app_store(), app_config(), current_principal(), export_id)
    response = send_file(
        path,
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=export.bundle_name,
        conditional=True,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    if export.bundle_sha256:
        response.headers["X-Bundle-SHA256"] = export.bundle_sha256
    return response


API_VIEWS = (api_request, api_list, api_status, api_bundle)


@bp.record_once
def _exempt_api_views(state: BlueprintSetupState) -> None:
    """Exempt the API views (not the pages) from CSRF: they require a bearer token instead."""
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        for view in API_VIEWS:
            csrf.exempt(view)


# --- The auditor's page -----------------------------------------------------------------------


def _device_key_pem() -> str | None:
    path = app_config().paths.device_public_key
    return path.read_text(encoding="ascii") if path.is_file() else None


@bp.get("/exports")
@requires(Action.VIEW_EXPORTS)
def index() -> ResponseReturnValue:
    """The auditor's exports, their age key, and the form to ask for a bundle."""
    store, principal = app_store(), current_principal()
    pem = _device_key_pem()
    return render_template(
        "exports/index.html",
        recipient=own_recipient(store, principal),
        exports=list_exports(store, principal),
        kinds=EXPORT_KINDS.values(),
        regions=exportable_regions(principal),
        device_key_pem=pem,
        device_key_sha256=hashlib.sha256(pem.encode()).hexdigest() if pem else None,
    )


@bp.get("/exports/device-key.pem")
@requires(Action.VIEW_EXPORTS)
def device_key() -> ResponseReturnValue:
    """The device's public key, to pin when verifying bundles (`--public-key`)."""
    pem = _device_key_pem()
    if pem is None:
        return render_template(
            "errors/error.html",
            status=404,
            code="not_found",
            message=_("The device has no public key yet."),
        ), 404
    return Response(
        pem,
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": "attachment; filename=device.pub.pem"},
    )


@bp.post("/exports/recipient")
@requires(Action.VIEW_EXPORTS)
def register() -> ResponseReturnValue:
    """Register (or replace) the auditor's age public key and location."""
    register_recipient(
        app_store(),
        current_principal(),
        request.form.get("age_recipient", ""),
        request.form.get("location_country", ""),
    )
    flash(_("Your age public key is registered."), "success")
    return redirect(url_for("exports.index"), code=303)


@bp.post("/exports")
@requires(Action.VIEW_EXPORTS)
def ask() -> ResponseReturnValue:
    """Ask for a bundle from the page."""
    form = request.form
    export = request_export(
        app_store(),
        current_principal(),
        form.get("kind", ""),
        form.get("region", ""),
        form.get("period_start", ""),
        form.get("period_end", ""),
        reason=form.get("reason") or None,
        config=app_config(),
    )
    flash(_("Export #%(id)s is queued.", id=export.id), "success")
    return redirect(url_for("exports.index"), code=303)


# --- Administrators: who may receive what -----------------------------------------------------


@bp.get("/exports/recipients")
@requires(Action.MANAGE_SETTINGS)
def recipients_page() -> ResponseReturnValue:
    """Registered recipients, the video allow-list (IL-2) and cross-border permissions (CN-3)."""
    store, principal = app_store(), current_principal()
    found = recipients(store, principal)
    names = {user.id: user.username for user in store.users.all()}
    return render_template("exports/recipients.html", recipients=found, names=names)


def _allowed_and_reason() -> tuple[bool, str]:
    return request.form.get("allowed") == "1", request.form.get("reason", "")


@bp.post("/exports/recipients/<int:user_id>/videos")
@requires(Action.MANAGE_SETTINGS)
def recipient_videos(user_id: int) -> ResponseReturnValue:
    """IL-2: put a recipient on or off the video allow-list, with a reason."""
    allowed, reason = _allowed_and_reason()
    try:
        set_video_allow_list(
            app_store(), current_principal(), user_id, allowed=allowed, reason=reason
        )
    except ExportError as exc:
        flash(say_error(exc), "error")
    else:
        flash(_("The video allow-list was changed."), "success")
    return redirect(url_for("exports.recipients_page"), code=303)


@bp.post("/exports/recipients/<int:user_id>/cross-border")
@requires(Action.MANAGE_SETTINGS)
def recipient_cross_border(user_id: int) -> ResponseReturnValue:
    """CN-3: allow or stop China-region data to a recipient outside China, with a reason."""
    allowed, reason = _allowed_and_reason()
    try:
        set_cross_border(app_store(), current_principal(), user_id, allowed=allowed, reason=reason)
    except ExportError as exc:
        flash(say_error(exc), "error")
    else:
        flash(_("The cross-border permission was changed."), "success")
    return redirect(url_for("exports.recipients_page"), code=303)
