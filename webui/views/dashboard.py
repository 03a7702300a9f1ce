"""The dashboard: what needs attention, limited to what the viewer's role reaches."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from appliance.hiring.common import INTERVIEW_STATUSES
from appliance.hiring.dashboard import dashboard
from appliance.security.permissions import Action
from webui.security import app_store, current_principal, requires

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@requires(Action.VIEW_DASHBOARD)
def index() -> ResponseReturnValue:
    """Counts by interview status, newest candidates, reports awaiting a decision, and the
    viewer's own assigned interviews."""
    summary = dashboard(app_store(), current_principal())
    return render_template("dashboard/index.html", summary=summary, statuses=INTERVIEW_STATUSES)
