"""Recordings into the appliance: resumable uploads in pieces, and a small-file form without JS."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.analysis.views import job_for_recording, own_upload
from appliance.hiring.review import log_candidate_read
from appliance.media.recordings import ingest_recording
from appliance.media.spool import Spool
from appliance.media.uploads import UploadOffsetError, append_piece, start_upload
from appliance.platform.errors import MediaRejectedError, NotARecordingError, QueueFullError
from appliance.security.permissions import Action
from appliance.store.uploads import UploadSession
from webui.api.errors import json_error
from webui.security import (
    app_config,
    app_store,
    current_principal,
    current_user,
    requires,
    visibility,
)
from webui.words import say_error

bp = Blueprint("uploads", __name__)


def _spool() -> Spool:
    config = app_config()
    return Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)


def _offset_conflict(expected: int) -> ResponseReturnValue:
    return json_error(
        409, "offset_mismatch", f"the upload continues at byte {expected}", expected=expected
    )


def _upload_body(session: UploadSession, job_id: int | None) -> dict[str, Any]:
    return {
        "id": session.id,
        "interview_id": session.interview_id,
        "filename": session.display_name,
        "total_bytes": session.total_bytes,
        "received_bytes": session.received_bytes,
        "piece_bytes": app_config().web.upload_piece_bytes,
        "completed": session.completed_at is not None,
        "recording_id": session.recording_id,
        "job_id": job_id,
        "job_url": url_for("analysis.detail", job_id=job_id) if job_id is not None else None,
        "status_url": url_for("uploads.status", upload_id=session.id),
        "piece_url": url_for("uploads.piece", upload_id=session.id),
    }


def _job_id_of(session: UploadSession) -> int | None:
    if session.recording_id is None:
        return None
    view = job_for_recording(app_store(), visibility(), session.recording_id)
    return view.job.id if view is not None else None


@bp.get("/interviews/<int:interview_id>/upload")
@requires(Action.UPLOAD_RECORDING)
def upload_page(interview_id: int) -> ResponseReturnValue:
    """The upload page: resumable upload with JavaScript, a small-file form without."""
    store, config = app_store(), app_config()
    interview = store.interviews.get_visible(interview_id, visibility())
    requisition = store.requisitions.get(interview.requisition_id)
    candidate = store.candidates.get(interview.candidate_id)
    log_candidate_read(store, current_principal(), candidate.pseudonym, "upload page")
    return render_template(
        "uploads/upload.html",
        interview=interview,
        requisition=requisition,
        candidate=candidate,
        piece_bytes=config.web.upload_piece_bytes,
        piece_mib=round(config.web.upload_piece_bytes / 2**20, 1),
        max_gib=round(config.media.max_upload_bytes / 2**30, 1),
    )


@bp.post("/interviews/<int:interview_id>/upload/simple")
@requires(Action.UPLOAD_RECORDING)
def simple(interview_id: int) -> ResponseReturnValue:
    """A whole small recording in one multipart POST (for browsers without JavaScript)."""
    store, config = app_store(), app_config()
    interview = store.interviews.get_visible(interview_id, visibility())
    back = url_for("uploads.upload_page", interview_id=interview.id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a recording first."), "error")
        return redirect(back, 303)
    limit = config.web.upload_piece_bytes
    data = upload.stream.read(limit + 1)
    try:
        if len(data) > limit:
            raise MediaRejectedError(
                _(
                    "Without JavaScript only files up to %(size)s MiB can be uploaded.",
                    size=round(limit / 2**20, 1),
                )
            )
        done = ingest_recording(
            store,
            _spool(),
            config,
            interview_id=interview.id,
            source=io.BytesIO(data),
            filename=upload.filename,
            content_type=upload.mimetype or "application/octet-stream",
            actor=current_principal().actor,
        )
    except NotARecordingError:
        flash(_("The file does not look like an audio or video recording."), "error")
        return redirect(back, 303)
    except (MediaRejectedError, QueueFullError) as exc:
        flash(say_error(exc), "error")
        return redirect(back, 303)
    flash(_("The recording is stored and its analysis is queued."), "success")
    return redirect(url_for("analysis.detail", job_id=done.job.id), 303)


@bp.post("/interviews/<int:interview_id>/uploads")
@requires(Action.UPLOAD_RECORDING)
def start(interview_id: int) -> ResponseReturnValue:
    """Open a resumable upload: JSON {filename, content_type, total_bytes}."""
    store, config = app_store(), app_config()
    interview = store.interviews.get_visible(interview_id, visibility())
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "invalid_request", "send JSON: filename, content_type, total_bytes")
    filename = body.get("filename")
    content_type = body.get("content_type") or "application/octet-stream"
    total = body.get("total_bytes")
    if (
        not isinstance(filename, str)
        or not isinstance(content_type, str)
        or not isinstance(total, int)
        or isinstance(total, bool)
    ):
        return json_error(
            400,
            "invalid_request",
            "filename and content_type are text, total_bytes is a whole number",
        )
    session = start_upload(
        store,
        _spool(),
        config,
        interview_id=interview.id,
        filename=filename,
        content_type=content_type,
        total_bytes=total,
        user_id=current_user().id,
    )
    return jsonify(_upload_body(session, None)), 201


@bp.put("/uploads/<upload_id>")
@requires(Action.UPLOAD_RECORDING)
def piece(upload_id: str) -> ResponseReturnValue:
    """One piece (raw body) at `?offset=N`; the last one completes the upload."""
    store, config = app_store(), app_config()
    session, _interview = own_upload(store, visibility(), upload_id, current_user().id)
    offset_text = request.args.get("offset", "")
    if not offset_text.isdigit():
        return json_error(400, "invalid_request", "give the piece's offset as ?offset=N")
    offset = int(offset_text)
    if session.completed_at is not None:
        return _offset_conflict(session.total_bytes)
    if offset != session.received_bytes:
        return _offset_conflict(session.received_bytes)  # before reading a body sent in vain
    data = request.get_data(cache=False)
    if len(data) > config.web.upload_piece_bytes:
        return json_error(
            413,
            "piece_too_large",
            f"a piece is at most {config.web.upload_piece_bytes} bytes",
        )
    try:
        progress = append_piece(
            store,
            _spool(),
            config,
            upload_id=session.id,
            offset=offset,
            data=data,
            actor=current_principal().actor,
        )
    except UploadOffsetError as exc:
        return _offset_conflict(exc.expected)
    job_id = progress.ingested.job.id if progress.ingested is not None else None
    return jsonify(_upload_body(progress.session, job_id))


@bp.get("/uploads/<upload_id>")
@requires(Action.UPLOAD_RECORDING)
def status(upload_id: str) -> ResponseReturnValue:
    """Where an upload stands: the offset to continue at, or its job once complete."""
    session, _interview = own_upload(app_store(), visibility(), upload_id, current_user().id)
    return jsonify(_upload_body(session, _job_id_of(session)))
