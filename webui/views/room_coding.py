"""The candidate room's code step: the interview's coding tasks with an editor, autosaved
drafts (resumed after a reload), the visible tests run by the worker, and submissions.

Like the rest of the room, every route is public and authorised by the candidate's signed link
alone, resolved again on each request (appliance.coding_round.work's `room_*`); the POSTs carry
the CSRF token of the candidate's session. The step comes after the spoken questions (the room
links to it beside Finish) and needs the device check to be done. The candidate sees visible
tests only: a hidden case is in no answer of this blueprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from appliance.coding.sandbox import MAX_SOURCE_BYTES
from appliance.coding_round.work import (
    room_drafts,
    room_run,
    room_save_draft,
    room_submissions,
    room_submit,
    room_tasks,
    room_trial,
)
from appliance.hiring.common import InvalidInputError
from appliance.hiring.links import InvalidLinkError
from appliance.platform.errors import NotFoundError, QueueFullError, RefusedError
from appliance.room.service import RoomClosedError, RoomError, room_of
from appliance.store.coding import CodeDraft
from webui.api.errors import json_error
from webui.coding_words import verdict_words
from webui.security import app_config, app_store, public
from webui.views.room import _language, _refused_page, candidate_page_language
from webui.words import say, say_error

bp = Blueprint("room_coding", __name__)
F = TypeVar("F", bound=Callable[..., Any])
# A draft's JSON: the code (at most MAX_SOURCE_BYTES) escaped, with room for the rest.
MAX_BODY_BYTES = 8 * MAX_SOURCE_BYTES
EDITOR_DIR = "vendor/codemirror"
# The candidate's pages are in the browser's language (a blueprint's own context processor).
bp.context_processor(candidate_page_language)


def _started(token: str) -> str | None:
    """Why the room's code step cannot be used yet (None: it can); raises for a bad link."""
    opened = room_of(app_store(), token)
    if opened.room.stage in ("consent", "device_check"):
        return opened.room.stage
    return None


def coding_json(view: F) -> F:
    """Check the link and the room for a JSON request; core errors become JSON answers."""

    @wraps(view)
    def wrapper(token: str, *args: Any, **kwargs: Any) -> ResponseReturnValue:
        try:
            if _started(token) is not None:
                return json_error(409, "room_conflict", "finish the device check first")
            return cast(ResponseReturnValue, view(token, *args, **kwargs))
        except BadBodyError as exc:
            return json_error(exc.status, exc.code, str(exc))
        except InvalidLinkError as exc:
            return json_error(404, "invalid_link", say_error(exc))
        except RoomClosedError as exc:
            return json_error(410, "room_closed", say_error(exc))
        except RoomError as exc:
            return json_error(409, "room_conflict", say_error(exc))
        except NotFoundError as exc:
            return json_error(404, "not_found", say_error(exc))
        except InvalidInputError as exc:
            said_problems = [say(problem) for problem in exc.problems]
            return json_error(422, "invalid_code", "; ".join(said_problems), problems=said_problems)
        except QueueFullError as exc:
            return json_error(503, "queue_full", str(exc))
        except RefusedError as exc:
            return json_error(409, "refused", say_error(exc))

    return cast(F, wrapper)


class BadBodyError(Exception):
    """A request body the code step cannot use (answered with its status before the core)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _code_body() -> tuple[str, str]:
    """The posted {language, code}; BadBodyError says what is wrong with it."""
    too_large = f"the code is larger than {MAX_SOURCE_BYTES >> 10} KiB"
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise BadBodyError(413, "too_large", too_large)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadBodyError(400, "invalid_request", "send JSON: language and code (text)")
    language, code = body.get("language"), body.get("code")
    if not isinstance(language, str) or not isinstance(code, str) or len(language) > 20:
        raise BadBodyError(400, "invalid_request", "send JSON: language and code (text)")
    if len(code.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise BadBodyError(413, "too_large", too_large)
    return language, code.replace("\r\n", "\n")


def editor_vendored() -> bool:
    """Whether `make editor` vendored CodeMirror (else the page keeps its plain text area)."""
    static = Path(current_app.static_folder or "")
    return (static / EDITOR_DIR / "VERSION").is_file()


def _draft_json(draft: CodeDraft) -> dict[str, Any]:
    return {
        "id": draft.id,
        "task_id": draft.task_id,
        "language": draft.language,
        "code": draft.code,
        "saved_at": draft.saved_at,
    }


@bp.get("/room/<token>/coding")
@public
def coding(token: str) -> ResponseReturnValue:
    """The code step: each task's statement, languages, limits and visible tests, an editor."""
    try:
        stage = _started(token)
    except (InvalidLinkError, RoomError) as exc:
        return _refused_page(exc)
    if stage == "consent":
        return redirect(url_for("room.invitation", token=token))
    if stage == "device_check":
        return redirect(url_for("room.interview", token=token))
    tasks = room_tasks(app_store(), token)
    return render_template(
        "room/coding.html",
        token=token,
        tasks=tasks,
        lang=_language(),
        max_bytes=MAX_SOURCE_BYTES,
        strings=page_strings(),
        # Names this room's drafts in the browser's storage without keeping the link there.
        storage_key=hashlib.sha256(token.encode()).hexdigest()[:16],
        editor_vendored=editor_vendored(),
    )


@bp.get("/room/<token>/coding/state")
@public
@coding_json
def coding_state(token: str) -> ResponseReturnValue:
    """The newest draft of each task and the submissions so far (the page resumes from it)."""
    store = app_store()
    drafts = {str(task_id): _draft_json(d) for task_id, d in room_drafts(store, token).items()}
    return jsonify(
        {"drafts": drafts, "submissions": room_submissions(store, token), "csrf": generate_csrf()}
    )


@bp.post("/room/<token>/coding/tasks/<int:task_id>/draft")
@public
@coding_json
def save_draft(token: str, task_id: int) -> ResponseReturnValue:
    """An autosave: JSON {language, code}; the same code again is kept once."""
    parsed = _code_body()
    draft = room_save_draft(app_store(), token, task_id, *parsed)
    return jsonify({**_draft_json(draft), "code": None, "csrf": generate_csrf()})


@bp.post("/room/<token>/coding/tasks/<int:task_id>/runs")
@public
@coding_json
def run_tests(token: str, task_id: int) -> ResponseReturnValue:
    """Run the visible tests: JSON {language, code}; the page asks for the result."""
    parsed = _code_body()
    job = room_run(app_store(), app_config(), token, task_id, *parsed)
    return jsonify({"id": job.id, "state": "running", "csrf": generate_csrf()}), 202


@bp.get("/room/<token>/coding/runs/<int:run_id>")
@public
@coding_json
def run_state(token: str, run_id: int) -> ResponseReturnValue:
    """A test run: running, done (the visible cases' results) or failed."""
    return jsonify(room_trial(app_store(), token, run_id))


@bp.post("/room/<token>/coding/tasks/<int:task_id>/submissions")
@public
@coding_json
def submit(token: str, task_id: int) -> ResponseReturnValue:
    """Submit code: JSON {language, code}; judged by the worker (GET the submissions)."""
    parsed = _code_body()
    store = app_store()
    made = room_submit(store, app_config(), token, task_id, *parsed)
    shown = next(s for s in room_submissions(store, token) if s["id"] == made.id)
    return jsonify({**shown, "csrf": generate_csrf()}), 201


@bp.get("/room/<token>/coding/submissions")
@public
@coding_json
def submissions(token: str) -> ResponseReturnValue:
    """The interview's submissions: state, and the visible tests' results once judged."""
    return jsonify({"items": room_submissions(app_store(), token)})


VERDICTS = (
    "ok",
    "wrong",
    "time_limit",
    "memory_limit",
    "output_limit",
    "runtime_error",
    "compile_error",
    "refused",
)


def page_strings() -> dict[str, str]:
    """The code step's texts for room_coding.js (rendered as data attributes)."""
    verdicts = {f"verdict-{v}": verdict_words(v) for v in VERDICTS}
    return {
        **verdicts,
        "saved": _("Saved {time}"),
        "offline": _("Not saved yet: offline, will retry. Your code is kept on this device."),
        "saving": _("Saving…"),
        "restored": _("Your unsaved code from this device was restored."),
        "running": _("Running the visible tests…"),
        "passed": _("Passed {passed} of {total} visible tests."),
        "submitting": _("Submitting…"),
        "judging": _("Submitted: your code is being judged…"),
        "judged": _("Submitted and judged: {passed} of {total} visible tests passed."),
        "judge-failed": _(
            "Your code was submitted, but could not be judged; the team will see it."
        ),
        "run-failed": _("The tests could not be run; please try again."),
        "error": _("Something went wrong: {reason}"),
        "case": _("{name}: {verdict}"),
        "output": _("Your output"),
        "compile": _("The compiler said:"),
    }
