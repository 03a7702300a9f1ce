"""Candidate links (HR issues and revokes them) and the candidate's interview room.

Room routes are public: the signed link in the path is the candidate's only credential, and
every request resolves its interview from that link again, so nothing of another interview
can be named. Forms and the room's requests carry the CSRF token of the candidate's session.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from appliance.compliance.consents import ConsentError
from appliance.compliance.self_id import NOT_COLLECTED, SelfIdError
from appliance.hiring.links import (
    InvalidLinkError,
    LinkNotOpenYetError,
    check_link,
    issue_link,
    revoke_link,
)
from appliance.media.spool import Spool
from appliance.platform.errors import MediaRejectedError, NotFoundError
from appliance.room.consent import (
    ConsentAnswers,
    RoomConsentError,
    consent_form,
    record_room_consents,
    room_language,
)
from appliance.room.followups import request_followup
from appliance.room.plan import RoomSettingsError, requisition_settings, save_room_settings
from appliance.room.self_identification import (
    SelfIdAnswers,
    record_room_self_id,
    self_id_step,
)
from appliance.room.service import (
    OpenedRoom,
    RoomClosedError,
    RoomError,
    begin_questions,
    close_room,
    open_room,
    room_of,
    room_state,
    take_view,
)
from appliance.room.takes import (
    MAX_PIECE_BYTES,
    PieceOrderError,
    add_piece,
    discard_take,
    finish_take,
    keep_take,
    start_take,
    submit_take,
    take_of,
)
from appliance.scheduling.capacity import Backlog, backlog, opening_stamp
from appliance.security.permissions import Action
from appliance.store.links import CandidateLink
from webui.api.errors import json_error
from webui.security import app_config, app_store, current_principal, public, requires, visibility
from webui.self_id import posted_answers, refusal_text, self_id_choices
from webui.words import say_error

bp = Blueprint("room", __name__)
F = TypeVar("F", bound=Callable[..., Any])
BANDWIDTH_PROBE_BYTES = 512 << 10


@bp.context_processor
def candidate_page_language() -> dict[str, str]:
    """The language of a candidate's page (they have no account: the browser's choice)."""
    return (
        {"page_lang": "zh-CN" if _language() == "zh" else "en"}
        if request.path.startswith("/room/")
        else {}
    )


@bp.app_template_global()
def interview_links(interview_id: int) -> list[CandidateLink]:
    """The links issued for an interview (profile pages of people who may edit candidates)."""
    return app_store().links.for_interview(interview_id)


@bp.app_template_global()
def analysis_backlog() -> Backlog:
    """The analysis backlog against the box's capacity (shown where links are created), read
    once per request however many interviews the page lists."""
    if "analysis_backlog" not in g:
        g.analysis_backlog = backlog(app_store(), app_config())
    return cast(Backlog, g.analysis_backlog)


@bp.app_template_global()
def room_summary(interview_id: int) -> dict[str, Any] | None:
    """Where a candidate's room stands (profile pages): stage, answers kept, AI choice."""
    store = app_store()
    room = store.room.session_for(interview_id)
    if room is None:
        return None
    return {
        "stage": room.stage,
        "ai": room.ai_choice,
        "answers": len(store.interview_answers.for_interview(interview_id)),
        "questions": len(store.room.questions(room.id)),
        "closed_at": room.closed_at,
    }


def _interview_of(candidate_id: int, interview_id: int) -> None:
    interview = app_store().interviews.get_visible(interview_id, visibility())
    if interview.candidate_id != candidate_id:
        raise NotFoundError(f"no interview {interview_id}")


@bp.post("/candidates/<int:candidate_id>/interviews/<int:interview_id>/links")
@requires(Action.EDIT_CANDIDATES)
def issue(candidate_id: int, interview_id: int) -> ResponseReturnValue:
    """Create a link and show it once."""
    _interview_of(candidate_id, interview_id)
    try:
        hours = int(request.form.get("valid_hours", "72"))
        store = app_store()
        issued = issue_link(
            store,
            current_principal(),
            interview_id=interview_id,
            valid_hours=hours,
            opens_at=opening_stamp(store, app_config()),
        )
    except (ValueError, InvalidLinkError) as exc:
        flash(str(exc) if isinstance(exc, InvalidLinkError) else _("Choose a validity."), "error")
        return redirect(url_for("candidates.profile", candidate_id=candidate_id))
    url = url_for("room.invitation", token=issued.token, _external=True)
    return render_template(
        "room/link_issued.html", link=issued.link, url=url, candidate_id=candidate_id
    )


@bp.post("/candidates/<int:candidate_id>/interviews/<int:interview_id>/links/<int:link_id>/revoke")
@requires(Action.EDIT_CANDIDATES)
def revoke(candidate_id: int, interview_id: int, link_id: int) -> ResponseReturnValue:
    """Revoke a link."""
    _interview_of(candidate_id, interview_id)
    store = app_store()
    if link_id not in {link.id for link in store.links.for_interview(interview_id)}:
        raise NotFoundError(f"no link {link_id}")
    revoke_link(store, current_principal(), link_id=link_id)
    flash(_("The link was revoked."), "success")
    return redirect(url_for("candidates.profile", candidate_id=candidate_id))


# --- the candidate's pages ----------------------------------------------------------------------


def _language() -> str:
    return room_language(str(get_locale() or "en"))


def _refused_page(exc: Exception) -> ResponseReturnValue:
    if isinstance(exc, LinkNotOpenYetError):
        # Issued while the box was over its capacity: the interview is scheduled, not refused.
        return render_template("room/refused.html", reason="not_yet", opens_at=exc.opens_at)
    if isinstance(exc, RoomClosedError):
        return render_template("room/refused.html", reason="closed"), 410
    if isinstance(exc, RoomError):
        return render_template(
            "room/refused.html", reason="unavailable", message=say_error(exc)
        ), 409
    return render_template("room/refused.html", reason="invalid"), 404


def _spool() -> Spool:
    config = app_config()
    return Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)


@bp.get("/room/<token>")
@public
def invitation(token: str) -> ResponseReturnValue:
    """Who invites the candidate and why, then the region's notice and the consents."""
    store = app_store()
    try:
        opened = open_room(store, token)
    except RoomClosedError as exc:
        return _refused_page(exc)
    except RoomError:
        # The link is good but the room cannot open yet (no questions planned): say who
        # invites and why, and what is missing, instead of refusing the link.
        interview, link = check_link(store, token)
        requisition = store.requisitions.get(interview.requisition_id)
        return render_template(
            "room/invitation.html",
            token=token,
            interview=interview,
            requisition=requisition,
            link=link,
            contact=store.users.get(link.created_by),
            unavailable=True,
        )
    except InvalidLinkError as exc:
        return _refused_page(exc)
    if opened.room.stage != "consent":
        return redirect(url_for("room.interview", token=token))
    requisition = store.requisitions.get(opened.interview.requisition_id)
    return render_template(
        "room/invitation.html",
        token=token,
        interview=opened.interview,
        requisition=requisition,
        link=opened.link,
        contact=store.users.get(opened.link.created_by),
        form=consent_form(store, opened.interview.id, _language()),
        questions=len(store.room.questions(opened.room.id)),
        settings=requisition_settings(store, requisition.id),
        unavailable=False,
    )


@bp.post("/room/<token>/consent")
@public
def consent(token: str) -> ResponseReturnValue:
    """Record the candidate's choices; declining AI still leads to the interview."""
    store = app_store()
    try:
        opened = room_of(store, token)
    except (InvalidLinkError, RoomError) as exc:
        return _refused_page(exc)
    if opened.room.stage != "consent":
        return redirect(url_for("room.interview", token=token))
    choice = request.form.get("ai")
    if choice not in ("accept", "decline"):
        flash(_("Choose whether AI may help evaluate your answers."), "error")
        return redirect(url_for("room.invitation", token=token))
    answers = ConsentAnswers(
        ai_evaluation=choice == "accept",
        visual_cues=request.form.get("visual_cues") == "yes",
        biometric=request.form.get("biometric") == "yes",
        waiver_signed_name=request.form.get("waiver_name", "")[:200],
        waiver_read=request.form.get("waiver_read") == "yes",
    )
    try:
        record_room_consents(store, opened.room, answers, _language())
    except (RoomConsentError, ConsentError) as exc:
        flash(say_error(exc), "error")
        return redirect(url_for("room.invitation", token=token))
    if self_id_step(store, store.room.session(opened.room.id)) is not None:
        return redirect(url_for("room.self_identification", token=token))
    return redirect(url_for("room.interview", token=token))


def _self_id_page(
    token: str, opened: OpenedRoom, status: int = 200, chosen: dict[str, str | None] | None = None
) -> ResponseReturnValue:
    store = app_store()
    offer = self_id_step(store, opened.room)
    if offer is None:  # not asked here, or no longer: the interview goes on
        return redirect(url_for("room.interview", token=token))
    requisition = store.requisitions.get(opened.interview.requisition_id)
    return (
        render_template(
            "room/self_identification.html",
            token=token,
            requisition=requisition,
            offer=offer,
            choices=self_id_choices(),
            chosen=chosen or {},  # the candidate's own choices, kept when the form comes back
        ),
        status,
    )


@bp.route("/room/<token>/self-identification", methods=["GET", "POST"])
@public
def self_identification(token: str) -> ResponseReturnValue:
    """The optional step after the consents: sex and race/ethnicity, for bias audits only.

    Skipping is a link to the interview: it sends nothing and changes nothing."""
    store = app_store()
    try:
        opened = room_of(store, token)
    except (InvalidLinkError, RoomError) as exc:
        return _refused_page(exc)
    if opened.room.stage == "consent":
        return redirect(url_for("room.invitation", token=token))
    if request.method == "GET":
        return _self_id_page(token, opened)
    sex, race, consent_given = posted_answers(request.form)
    answers = SelfIdAnswers(sex, race, consent_given)
    try:
        record_room_self_id(store, opened.room, answers, _language())
    except SelfIdError as exc:
        if exc.code == NOT_COLLECTED:
            message = refusal_text(exc)
            return render_template("room/refused.html", reason="unavailable", message=message), 403
        flash(refusal_text(exc), "error")
        return _self_id_page(token, opened, 422, {"sex": sex, "race_ethnicity": race})
    flash(_("Thank you. Your answers are kept apart and only counted in bias audits."), "success")
    return redirect(url_for("room.interview", token=token))


@bp.get("/room/<token>/interview")
@public
def interview(token: str) -> ResponseReturnValue:
    """The device check and the questions (room.js), also after a reload."""
    store = app_store()
    try:
        opened = room_of(store, token)
    except (InvalidLinkError, RoomError) as exc:
        return _refused_page(exc)
    if opened.room.stage == "consent":
        return redirect(url_for("room.invitation", token=token))
    requisition = store.requisitions.get(opened.interview.requisition_id)
    return render_template(
        "room/interview.html",
        token=token,
        requisition=requisition,
        state=room_state(store, opened.room),
        piece_bytes=MAX_PIECE_BYTES,
        probe_bytes=BANDWIDTH_PROBE_BYTES,
        # The code step comes after the spoken questions: offered beside Finish.
        coding_tasks=len(store.coding_tasks.current(requisition.id)),
    )


@bp.post("/room/<token>/close")
@public
def close(token: str) -> ResponseReturnValue:
    """The candidate finishes: analyses are queued where allowed, HR is told."""
    store = app_store()
    try:
        opened = room_of(store, token)
        closing = close_room(store, app_config(), opened)
    except (InvalidLinkError, RoomError) as exc:
        if isinstance(exc, RoomError) and not isinstance(exc, RoomClosedError):
            flash(say_error(exc), "error")
            back = (
                "room_coding.coding" if request.form.get("from") == "coding" else "room.interview"
            )
            return redirect(url_for(back, token=token))
        return _refused_page(exc)
    return render_template("room/closing.html", closing=closing)


# --- the room's JSON requests -------------------------------------------------------------------


def room_json(view: F) -> F:
    """Resolve the link to its open room for a JSON request; room errors become JSON answers."""

    @wraps(view)
    def wrapper(token: str, *args: Any, **kwargs: Any) -> ResponseReturnValue:
        store = app_store()
        try:
            opened = room_of(store, token)
            return cast(ResponseReturnValue, view(opened, *args, **kwargs))
        except InvalidLinkError as exc:
            return json_error(404, "invalid_link", say_error(exc))
        except RoomClosedError as exc:
            return json_error(410, "room_closed", say_error(exc))
        except PieceOrderError as exc:
            return json_error(409, "piece_order", say_error(exc), expected=exc.expected)
        except RoomError as exc:
            return json_error(409, "room_conflict", say_error(exc))
        except MediaRejectedError as exc:
            return json_error(422, "media_rejected", say_error(exc))

    return cast(F, wrapper)


def _state(opened: OpenedRoom, **extra: Any) -> ResponseReturnValue:
    store = app_store()
    room = store.room.session(opened.room.id)
    return jsonify({**room_state(store, room), "csrf": generate_csrf(), **extra})


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.get("/room/<token>/state")
@public
@room_json
def state(opened: OpenedRoom) -> ResponseReturnValue:
    """Where the room stands (the page redraws itself from this after a reload)."""
    return _state(opened)


@bp.post("/room/<token>/begin")
@public
@room_json
def begin(opened: OpenedRoom) -> ResponseReturnValue:
    """The device check is done: the questions start."""
    begin_questions(app_store(), opened)
    return _state(opened)


@bp.post("/room/<token>/bandwidth")
@public
@room_json
def bandwidth(opened: OpenedRoom) -> ResponseReturnValue:
    """Swallow a test upload so the page can time it (the device check)."""
    received = len(request.get_data(cache=False))
    if received > BANDWIDTH_PROBE_BYTES:
        return json_error(413, "too_large", f"the probe is at most {BANDWIDTH_PROBE_BYTES} bytes")
    return jsonify({"bytes": received})


@bp.post("/room/<token>/questions/<int:question_id>/takes")
@public
@room_json
def new_take(opened: OpenedRoom, question_id: int) -> ResponseReturnValue:
    """Start recording an answer: JSON {key, content_type}."""
    body = _body()
    key, content_type = body.get("key"), body.get("content_type")
    if not isinstance(key, str) or not isinstance(content_type, str):
        return json_error(400, "invalid_request", "send JSON: key and content_type (text)")
    take = start_take(app_store(), opened, question_id, key, content_type, spool=_spool())
    return jsonify({"key": take.client_key, "next_seq": take.next_seq, "state": take.state}), 201


@bp.put("/room/<token>/takes/<key>/pieces/<int:seq>")
@public
@room_json
def piece(opened: OpenedRoom, key: str, seq: int) -> ResponseReturnValue:
    """One piece of a recording (raw body); acknowledged once synced in the encrypted spool."""
    if (request.content_length or 0) > MAX_PIECE_BYTES:
        return json_error(413, "piece_too_large", f"a piece is at most {MAX_PIECE_BYTES} bytes")
    take = add_piece(
        app_store(), _spool(), opened, key, seq, request.get_data(cache=False), app_config()
    )
    return jsonify({"next_seq": take.next_seq, "received_bytes": take.received_bytes})


@bp.post("/room/<token>/takes/<key>/finish")
@public
@room_json
def finish(opened: OpenedRoom, key: str) -> ResponseReturnValue:
    """Every piece is sent: JSON {pieces, bytes, background}.

    With `background` true (this version's page) the take is marked finished and stored by the
    worker: the reply comes at once and the page asks GET .../takes/<key> until it is safe.
    Without it (a page loaded before this version) the take is stored before the reply.
    """
    body = _body()
    pieces, total = body.get("pieces"), body.get("bytes")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (pieces, total)):
        return json_error(400, "invalid_request", "send JSON: pieces and bytes (whole numbers)")
    store, spool, config = app_store(), _spool(), app_config()
    if body.get("background") is True:
        take = submit_take(
            store,
            spool,
            config,
            opened,
            key,
            pieces=cast(int, pieces),
            total_bytes=cast(int, total),
        )
        return _state(opened, finished=take_view(take))
    done = finish_take(
        store, spool, config, opened, key, pieces=cast(int, pieces), total_bytes=cast(int, total)
    )
    return _state(opened, finished={"key": key, "duration_s": round(done.duration_s, 2)})


@bp.get("/room/<token>/takes/<key>")
@public
@room_json
def take_state(opened: OpenedRoom, key: str) -> ResponseReturnValue:
    """Where a take stands: `safe` once the answer is stored and checked, `problem` if it
    could not be (read only: the page asks this until the answer is safe)."""
    return jsonify(take_view(take_of(app_store(), opened, key)))


@bp.post("/room/<token>/takes/<key>/keep")
@public
@room_json
def keep(opened: OpenedRoom, key: str) -> ResponseReturnValue:
    """Keep a finished take as the answer; a follow-up may be prepared within its budget."""
    store = app_store()
    take = keep_take(store, opened, key)
    waiting = request_followup(store, app_config(), opened, take)
    return _state(opened, followup_until=waiting)


@bp.post("/room/<token>/takes/<key>/discard")
@public
@room_json
def discard(opened: OpenedRoom, key: str) -> ResponseReturnValue:
    """Throw a take away (a retake, or pieces lost with another browser)."""
    discard_take(app_store(), _spool(), opened, key)
    return _state(opened)


# --- HR: how the room runs, and notifications ---------------------------------------------------


@bp.route("/requisitions/<int:requisition_id>/room", methods=["GET", "POST"])
@requires(Action.EDIT_REQUISITIONS)
def settings(requisition_id: int) -> ResponseReturnValue:
    """The room's settings for a requisition's candidates."""
    store = app_store()
    requisition = store.requisitions.get_visible(requisition_id, visibility())
    if request.method == "POST":
        data: dict[str, Any] = {}
        try:
            for name in (
                "retakes",
                "thinking_s",
                "max_answer_s",
                "followup_budget_s",
                "max_followups",
                "max_questions",
            ):
                data[name] = int(request.form.get(name, ""))
        except ValueError:
            flash(_("Enter whole numbers."), "error")
            return redirect(url_for("room.settings", requisition_id=requisition.id))
        for name in ("read_aloud", "followups"):
            data[name] = request.form.get(name) == "yes"
        try:
            save_room_settings(store, current_principal(), requisition.id, data)
        except RoomSettingsError as exc:
            flash(say_error(exc), "error")
        else:
            flash(_("The interview room settings are saved."), "success")
        return redirect(url_for("room.settings", requisition_id=requisition.id))
    return render_template(
        "room/settings.html",
        requisition=requisition,
        settings=requisition_settings(store, requisition.id),
    )


@bp.get("/hr-notifications")
@requires(Action.VIEW_DASHBOARD)
def notifications() -> ResponseReturnValue:
    """The interview notices now live with every other notification (the bell)."""
    return redirect(url_for("notifications.index"))


@bp.post("/hr-notifications/<int:notification_id>/read")
@requires(Action.VIEW_DASHBOARD)
def notification_read(notification_id: int) -> ResponseReturnValue:
    """Mark one notification read."""
    store = app_store()
    with store.transaction():
        found = store.hr_notifications.mark_read(current_principal().user_id, notification_id)
    if not found:
        abort(404)
    return redirect(url_for("notifications.index"))
