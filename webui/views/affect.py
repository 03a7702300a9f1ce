"""The per-requisition "affect may feed scores" setting: one small admin page.

Thin: the rules (justification required, never in a region that forbids affect, every change
kept and audited) live in `appliance.analysis.affect_scoring`.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.analysis.affect_scoring import (
    MIN_JUSTIFICATION,
    AffectScoringError,
    affect_scoring_view,
    set_affect_scoring,
)
from appliance.security.permissions import Action
from webui.security import app_store, current_principal, requires
from webui.words import say_error

bp = Blueprint("affect", __name__)


def _page(requisition_id: int, status: int = 200) -> ResponseReturnValue:
    view = affect_scoring_view(app_store(), current_principal(), requisition_id)
    users = {u.id: u.username for u in app_store().users.all()} if view.history else {}
    return (
        render_template(
            "affect/scoring.html", view=view, users=users, min_justification=MIN_JUSTIFICATION
        ),
        status,
    )


@bp.route("/requisitions/<int:requisition_id>/affect-scoring", methods=["GET", "POST"])
@requires(Action.MANAGE_AFFECT_SCORING)
def scoring(requisition_id: int) -> ResponseReturnValue:
    """Show or change whether affect observations may feed this requisition's scores."""
    if request.method == "GET":
        return _page(requisition_id)
    try:
        set_affect_scoring(
            app_store(),
            current_principal(),
            requisition_id,
            enabled=request.form.get("enabled") == "on",
            justification=request.form.get("justification", ""),
        )
    except AffectScoringError as exc:
        flash(say_error(exc), "error")
        return _page(requisition_id, 422)
    flash(_("The affect-scoring setting was saved with its justification."), "success")
    return redirect(url_for("affect.scoring", requisition_id=requisition_id), 303)
