"""AI reports: scores with evidence, current scores after overrides, and the override form."""

from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.hiring_service import report_detail
from appliance.permissions import Action, Visibility, allowed, require
from appliance.review import ReviewError, log_candidate_read, override_score
from webui.security import app_store, current_principal, requires, visibility

bp = Blueprint("reports", __name__)


def _report_page(
    report_id: int,
    vis: Visibility,
    *,
    problems: list[str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    store, principal = app_store(), current_principal()
    detail = report_detail(store, vis, report_id)
    log_candidate_read(store, principal, detail.candidate.pseudonym, f"report:{report_id}")
    return (
        render_template(
            "reports/show.html",
            detail=detail,
            may_override=allowed(principal, Action.OVERRIDE_SCORE) is not None,
            problems=problems or [],
            values=values or {},
        ),
        status,
    )


@bp.get("/reports/<int:report_id>")
@requires(Action.VIEW_REPORTS)
def show(report_id: int) -> ResponseReturnValue:
    """A report: media, steps run, scores with evidence, overrides; read-only unless the
    viewer may override scores."""
    return _report_page(report_id, visibility())


@bp.post("/reports/<int:report_id>/overrides")
@requires(Action.OVERRIDE_SCORE)
def override(report_id: int) -> ResponseReturnValue:
    """Replace an AI score with a person's, with a mandatory reason."""
    store, principal = app_store(), current_principal()
    form = request.form
    try:
        try:
            score = float(form.get("score", "").strip().replace(",", "."))
        except ValueError:
            raise ReviewError("a score is between 1 and 10") from None
        if not math.isfinite(score):
            raise ReviewError("a score is between 1 and 10")
        override_score(
            store,
            principal,
            report_id=report_id,
            dimension=form.get("dimension", ""),
            new_score=score,
            reason=form.get("reason", ""),
        )
    except ReviewError as exc:
        values = {key: form.get(key, "") for key in ("dimension", "score", "reason")}
        return _report_page(
            report_id,
            require(principal, Action.VIEW_REPORTS),
            problems=[str(exc)],
            values=values,
            status=422,
        )
    flash(_("The score was overridden."), "success")
    return redirect(url_for("reports.show", report_id=report_id), 303)
