"""The dashboard: what needs attention, limited to what the viewer's role reaches."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template
from flask.typing import ResponseReturnValue

from appliance.hiring.common import INTERVIEW_STATUSES
from appliance.hiring.dashboard import dashboard
from appliance.security.permissions import Action, allowed
from webui.navigation import home_url
from webui.security import app_store, current_principal, current_user, requires

bp = Blueprint("dashboard", __name__)


# `/` is everyone's way home (the brand link, a bookmark): a role without a dashboard is sent
# to its own home page rather than refused. The dashboard's figures still need VIEW_DASHBOARD.
@bp.get("/")
@requires(Action.VIEW_OWN_ACCOUNT)
def index() -> ResponseReturnValue:
    """Counts by interview status, newest candidates, reports awaiting a decision, and the
    viewer's own assigned interviews; or, for a role without a dashboard, its home page."""
    principal = current_principal()
    if allowed(principal, Action.VIEW_DASHBOARD) is None:
        return redirect(home_url(current_user()))
    summary = dashboard(app_store(), principal)
    return render_template("dashboard/index.html", summary=summary, statuses=INTERVIEW_STATUSES)
