"""Privacy desk: data-subject requests and deadlines, legal holds, erasure, a candidate's export.

A thin adapter: appliance.privacy.erasure and appliance.privacy.subject_export hold the rules,
check the
permission table and write the audit entries.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.hiring.review import log_candidate_read, log_candidate_reads
from appliance.media.spool import Spool
from appliance.platform.clock import now_stamp
from appliance.privacy.erasure import (
    PrivacyError,
    close_request,
    erase_candidate,
    erasures_of,
    list_holds,
    list_requests,
    open_request,
    parse_received,
    place_hold,
    release_hold,
)
from appliance.privacy.subject_export import subject_export
from appliance.security.permissions import Action, Principal, allowed, require
from appliance.store import Store
from appliance.store.data_requests import REQUEST_KINDS
from appliance.store.decision_log import DecisionLogRepository
from appliance.store.erasures import ErasureRepository
from webui.security import app_config, app_store, current_principal, requires, visibility

bp = Blueprint("privacy", __name__)

SEARCH_LIMIT = 25


def _spool() -> Spool:
    config = app_config()
    return Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def _values() -> dict[str, str]:
    return {key: request.form.get(key, "") for key in request.form if key != "csrf_token"}


def _index_page(problems: list[str] | None = None, status: int = 200) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    text = request.args.get("q", "").strip()[:200]
    found = store.candidates.visible(visibility(), text=text, limit=SEARCH_LIMIT) if text else []
    rows = list_requests(store, principal)
    holds = list_holds(store, principal) if allowed(principal, Action.MANAGE_LEGAL_HOLDS) else []
    shown = {c.pseudonym for c in found} | {row.candidate.pseudonym for row in rows}
    log_candidate_reads(store, principal, sorted(shown), "privacy")
    return (
        render_template(
            "privacy/index.html",
            q=text,
            found=found,
            rows=rows,
            holds=holds,
            erasures=erasures_of(store, principal),
            kinds=REQUEST_KINDS,
            problems=problems or [],
            values=_values() if problems else {},
            now=now_stamp(),
        ),
        status,
    )


@bp.get("/privacy")
@requires(Action.MANAGE_DATA_REQUESTS)
def index() -> ResponseReturnValue:
    """Requests (overdue ones first and marked), holds, erasures, and a candidate search."""
    return _index_page()


def _candidate_page(
    store: Store,
    principal: Principal,
    candidate_id: int,
    *,
    problems: dict[str, list[str]] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    vis = require(principal, Action.MANAGE_DATA_REQUESTS)
    candidate = store.candidates.get_visible(candidate_id, vis)
    log_candidate_read(store, principal, candidate.pseudonym, "privacy")
    may_hold = allowed(principal, Action.MANAGE_LEGAL_HOLDS) is not None
    return (
        render_template(
            "privacy/candidate.html",
            c=candidate,
            rows=list_requests(store, principal, candidate_id=candidate.id),
            holds=(
                list_holds(store, principal, active_only=False, candidate_id=candidate.id)
                if may_hold
                else []
            ),
            may_hold=may_hold,
            may_erase=allowed(principal, Action.ERASE_CANDIDATE) is not None,
            erasure=ErasureRepository(store).for_candidate(candidate.id),
            log_entries=len(DecisionLogRepository(store).for_pseudonym(candidate.pseudonym)),
            kinds=REQUEST_KINDS,
            problems=problems or {},
            values=_values() if problems else {},
        ),
        status,
    )


@bp.get("/privacy/candidates/<int:candidate_id>")
@requires(Action.MANAGE_DATA_REQUESTS)
def candidate(candidate_id: int) -> ResponseReturnValue:
    """One candidate's requests, holds and erasure, with the export and the erase form."""
    return _candidate_page(app_store(), current_principal(), candidate_id)


def _failed(candidate_id: int | None, form: str, exc: PrivacyError) -> ResponseReturnValue:
    if candidate_id is None:
        return _index_page([str(exc)], 422)
    return _candidate_page(
        app_store(), current_principal(), candidate_id, problems={form: [str(exc)]}, status=422
    )


def _to_candidate(candidate_id: int, message: str) -> ResponseReturnValue:
    flash(message, "success")
    return redirect(url_for("privacy.candidate", candidate_id=candidate_id), 303)


@bp.post("/privacy/requests")
@requires(Action.MANAGE_DATA_REQUESTS)
def create_request() -> ResponseReturnValue:
    """Record a request as received (its deadline follows from the candidate's regions)."""
    form = request.form
    candidate_id = _int(form.get("candidate_id"))
    try:
        if candidate_id is None:
            raise PrivacyError("choose the candidate (their number)")
        open_request(
            app_store(),
            current_principal(),
            candidate_id=candidate_id,
            kind=form.get("kind", ""),
            received_at=parse_received(form.get("received", "")),
            note=form.get("note", ""),
        )
    except PrivacyError as exc:
        return _failed(candidate_id if form.get("from") == "candidate" else None, "request", exc)
    return _to_candidate(candidate_id, _("The request was recorded."))


@bp.post("/privacy/requests/<int:request_id>/close")
@requires(Action.MANAGE_DATA_REQUESTS)
def close(request_id: int) -> ResponseReturnValue:
    """Mark a request answered or refused."""
    store, principal = app_store(), current_principal()
    try:
        closed = close_request(
            store, principal, request_id, status=request.form.get("status", "done")
        )
    except PrivacyError as exc:
        return _index_page([str(exc)], 422)
    return _to_candidate(closed.candidate_id, _("The request was closed."))


@bp.get("/privacy/candidates/<int:candidate_id>/export")
@requires(Action.MANAGE_DATA_REQUESTS)
def export(candidate_id: int) -> ResponseReturnValue:
    """The candidate's data and explanation as a ZIP, streamed (never stored)."""
    store, principal = app_store(), current_principal()
    try:
        made = subject_export(
            store,
            _spool(),
            principal,
            candidate_id,
            request_id=_int(request.args.get("request")),
        )
    except PrivacyError as exc:
        return _failed(candidate_id, "export", exc)
    headers: dict[str, Any] = {
        "Content-Disposition": f'attachment; filename="{made.filename}"',
        "Cache-Control": "no-store",
    }
    return Response(made.chunks, mimetype="application/zip", headers=headers)


@bp.post("/privacy/candidates/<int:candidate_id>/erase")
@requires(Action.ERASE_CANDIDATE)
def erase(candidate_id: int) -> ResponseReturnValue:
    """Erase a candidate: the reference typed as confirmation, and a reason."""
    store, principal = app_store(), current_principal()
    form = request.form
    try:
        found = store.candidates.get_visible(candidate_id, visibility())
        if form.get("confirm", "").strip() != found.pseudonym:
            raise PrivacyError("type the candidate's reference to confirm the erasure")
        erase_candidate(
            store,
            _spool(),
            principal,
            candidate_id,
            form.get("reason", ""),
            request_id=_int(form.get("request_id")),
        )
    except PrivacyError as exc:
        if allowed(principal, Action.MANAGE_DATA_REQUESTS) is None:
            raise
        return _failed(candidate_id, "erase", exc)
    return _to_candidate(candidate_id, _("The candidate was erased."))


@bp.post("/privacy/holds")
@requires(Action.MANAGE_LEGAL_HOLDS)
def hold() -> ResponseReturnValue:
    """Place a legal hold on a candidate."""
    form = request.form
    candidate_id = _int(form.get("candidate_id"))
    try:
        if candidate_id is None:
            raise PrivacyError("choose the candidate (their number)")
        place_hold(
            app_store(),
            current_principal(),
            candidate_id=candidate_id,
            reason=form.get("reason", ""),
        )
    except PrivacyError as exc:
        if allowed(current_principal(), Action.MANAGE_DATA_REQUESTS) is None:
            raise
        return _failed(candidate_id if form.get("from") == "candidate" else None, "hold", exc)
    return _to_candidate(candidate_id, _("The legal hold was placed."))


@bp.post("/privacy/holds/<int:hold_id>/release")
@requires(Action.MANAGE_LEGAL_HOLDS)
def release(hold_id: int) -> ResponseReturnValue:
    """Release a legal hold."""
    released = release_hold(app_store(), current_principal(), hold_id)
    return _to_candidate(released.candidate_id, _("The legal hold was released."))
