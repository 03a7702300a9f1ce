"""Live assist pages and their JSON requests: stream audio in, read the running view out.

Nothing here transcribes: pieces are stored and the worker's `live_assist` job does the work,
so a gunicorn thread is never busy with inference.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue

from appliance.live.assist import (
    MAX_PIECE_BYTES,
    SAMPLE_RATE,
    LiveAssistError,
    LivePieceOrderError,
    add_audio,
    end_live,
    live_view,
    start_live,
)
from appliance.platform.errors import MediaRejectedError
from appliance.room.service import AnalysisRefusedError, start_analysis
from appliance.security.permissions import Action
from webui.api.errors import json_error
from webui.security import app_config, app_store, current_principal, requires, visibility

bp = Blueprint("live_assist", __name__)


@bp.record_once
def _exempt_api(state: Any) -> None:
    # The API endpoint is called with a bearer token, never a cookie: CSRF cannot apply.
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(f"{__name__}.api_start_analysis")


@bp.get("/live")
@requires(Action.LIVE_ASSIST)
def index() -> ResponseReturnValue:
    """Interviews the person may assist live."""
    return render_template(
        "live/index.html", interviews=app_store().live.interviews_for(visibility())
    )


@bp.get("/interviews/<int:interview_id>/live")
@requires(Action.LIVE_ASSIST)
def page(interview_id: int) -> ResponseReturnValue:
    """The live-assist page for one interview (live.js captures and streams the call's audio)."""
    store = app_store()
    interview = store.interviews.get_visible(interview_id, visibility())
    requisition = store.requisitions.get(interview.requisition_id)
    return render_template(
        "live/assist.html",
        interview=interview,
        requisition=requisition,
        sample_rate=SAMPLE_RATE,
        start_url=url_for("live_assist.start", interview_id=interview.id),
    )


@bp.post("/interviews/<int:interview_id>/live/sessions")
@requires(Action.LIVE_ASSIST)
def start(interview_id: int) -> ResponseReturnValue:
    """Open a live session: JSON {language, sample_rate}."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    language = body.get("language") or ""
    rate = body.get("sample_rate", SAMPLE_RATE)
    if not isinstance(language, str) or not isinstance(rate, int) or isinstance(rate, bool):
        return json_error(400, "invalid_request", "language is text, sample_rate a whole number")
    try:
        session = start_live(
            app_store(),
            app_config(),
            current_principal(),
            interview_id=interview_id,
            language=language,
            sample_rate=rate,
        )
    except LiveAssistError as exc:
        return json_error(409, "live_refused", str(exc))
    return jsonify(_urls(session.id) | {"id": session.id, "piece_bytes": MAX_PIECE_BYTES}), 201


def _urls(live_id: int) -> dict[str, str]:
    return {
        "audio_url": url_for("live_assist.audio", live_id=live_id, seq=0)[:-1],
        "view_url": url_for("live_assist.view", live_id=live_id),
        "end_url": url_for("live_assist.end", live_id=live_id),
    }


@bp.put("/live/<int:live_id>/audio/<int:seq>")
@requires(Action.LIVE_ASSIST)
def audio(live_id: int, seq: int) -> ResponseReturnValue:
    """One piece of audio (16-bit mono PCM at 16 kHz, raw body)."""
    if (request.content_length or 0) > MAX_PIECE_BYTES:
        return json_error(413, "piece_too_large", f"a piece is at most {MAX_PIECE_BYTES} bytes")
    try:
        session = add_audio(
            app_store(), current_principal(), live_id, seq, request.get_data(cache=False)
        )
    except LivePieceOrderError as exc:
        return json_error(409, "piece_order", str(exc), expected=exc.expected)
    except LiveAssistError as exc:
        return json_error(409, "live_ended", str(exc))
    except MediaRejectedError as exc:
        return json_error(422, "media_rejected", str(exc))
    return jsonify({"next_seq": session.next_seq})


@bp.get("/live/<int:live_id>")
@requires(Action.LIVE_ASSIST)
def view(live_id: int) -> ResponseReturnValue:
    """The running transcript, competencies covered and alerts."""
    return jsonify(live_view(app_store(), current_principal(), live_id))


@bp.post("/live/<int:live_id>/end")
@requires(Action.LIVE_ASSIST)
def end(live_id: int) -> ResponseReturnValue:
    """End the session; the worker saves the recording when the last words are transcribed."""
    session = end_live(app_store(), current_principal(), live_id)
    return jsonify({"id": session.id, "state": session.state})


@bp.post("/api/v1/recordings/<int:recording_id>/analysis")
@requires(Action.UPLOAD_RECORDING)
def api_start_analysis(recording_id: int) -> ResponseReturnValue:
    """Queue a recording's analysis; refused (409) where consent or region policy says no."""
    try:
        job = start_analysis(app_store(), app_config(), current_principal(), recording_id)
    except AnalysisRefusedError as exc:
        return json_error(409, "analysis_refused", str(exc))
    return jsonify({"job_id": job.id, "state": job.state}), 202
