"""Views: dashboard (being written)."""

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from appliance.permissions import Action
from webui.security import requires

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@requires(Action.VIEW_DASHBOARD)
def index() -> ResponseReturnValue:
    """The dashboard."""
    return render_template("base.html")
