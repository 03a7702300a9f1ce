"""Answer segmentation: review and correct how a recording splits into answers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.analysis.segment_service import rows_from_form, save_correction, segment_view
from appliance.analysis.segmentation import SegmentationError
from appliance.security.permissions import Action, allowed
from webui.security import app_config, app_store, current_principal, requires
from webui.words import say_error

bp = Blueprint("segments", __name__)


def _segments_page(
    recording_id: int, *, problems: list[str] | None = None, status: int = 200
) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    view = segment_view(store, principal, recording_id)
    return (
        render_template(
            "reports/segments.html",
            view=view,
            may_correct=allowed(principal, Action.CORRECT_SEGMENTS) is not None,
            problems=problems or [],
            blank_rows=3,
        ),
        status,
    )


@bp.get("/recordings/<int:recording_id>/segments")
@requires(Action.VIEW_REPORTS)
def show(recording_id: int) -> ResponseReturnValue:
    """The answers of a recording: boundaries and questions, automatic or corrected."""
    return _segments_page(recording_id)


@bp.post("/recordings/<int:recording_id>/segments")
@requires(Action.CORRECT_SEGMENTS)
def correct(recording_id: int) -> ResponseReturnValue:
    """Save a person's boundaries and question assignment (optionally re-analyse)."""
    store, principal, config = app_store(), current_principal(), app_config()
    form = request.form
    try:
        if form.get("action") == "reset":
            rows: list[dict[str, Any]] = []
        else:
            view = segment_view(store, principal, recording_id)
            rows = rows_from_form(
                form.getlist("start"),
                form.getlist("end"),
                form.getlist("question"),
                view.choices,
            )
            if not rows:
                raise SegmentationError(
                    "give at least one answer, or return to the automatic split"
                )
        _correction, job = save_correction(
            store,
            principal,
            recording_id,
            rows,
            reanalyse=form.get("reanalyse") == "1",
            max_open=config.worker.max_queued_jobs,
            max_attempts=config.worker.max_attempts,
        )
    except SegmentationError as exc:
        return _segments_page(recording_id, problems=[say_error(exc)], status=422)
    if job is not None:
        flash(_("The answers were saved; a new analysis is queued."), "success")
    else:
        flash(_("The answers were saved; the next analysis uses them."), "success")
    return redirect(url_for("segments.show", recording_id=recording_id), 303)
