"""Playing a recording in the report pages: its bytes, a range at a time, for the players."""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.media.playback import RangeNotSatisfiableError, RecordingErasedError, open_playback
from appliance.media.spool import Spool
from appliance.security.permissions import Action
from webui.security import app_config, app_store, current_principal, requires, visibility

bp = Blueprint("playback", __name__)


def _spool() -> Spool:
    config = app_config()
    return Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)


def _plain(status: int, message: str) -> Response:
    response = Response(message + "\n", status=status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/recordings/<int:recording_id>/media")
@requires(Action.VIEW_REPORTS)
def media(recording_id: int) -> ResponseReturnValue:
    """The recording's bytes (HTTP range requests answered 206), for whoever may see its report."""
    try:
        playback = open_playback(
            app_store(),
            _spool(),
            visibility(),
            recording_id,
            request.headers.get("Range"),
            actor=current_principal().actor,
        )
    except RecordingErasedError:
        return _plain(410, _("This recording was erased with the candidate's data."))
    except RangeNotSatisfiableError as exc:
        response = _plain(416, _("The requested part of the recording does not exist."))
        response.headers["Content-Range"] = f"bytes */{exc.size}"
        response.headers["Accept-Ranges"] = "bytes"
        return response
    response = Response(
        playback.stream,
        status=206 if playback.part is not None else 200,
        mimetype=playback.content_type,
        direct_passthrough=True,  # the stream is sent as it is decrypted, never buffered whole
    )
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Length"] = str(playback.length)
    content_range = playback.content_range()
    if content_range is not None:
        response.headers["Content-Range"] = content_range
    # Decrypted media stays out of every cache; only pages of this origin may embed it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
