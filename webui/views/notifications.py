"""The signed-in person's notifications (the bell in the menu): both kinds on one page, each
naming the candidate and linking to them. Thin: `appliance.notify.inbox` does the work."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.notify.inbox import INTERVIEW, SCHEDULING, inbox, mark_all_read, mark_read
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Action
from webui.security import app_store, current_principal, requires

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@requires(Action.VIEW_INAPP_NOTIFICATIONS)
def index() -> ResponseReturnValue:
    """Every notification of the reader, newest first, unread ones marked."""
    return render_template(
        "notifications/index.html",
        items=inbox(app_store(), current_principal()),
        INTERVIEW=INTERVIEW,
        SCHEDULING=SCHEDULING,
    )


@bp.post("/notifications/<source>/<int:notification_id>/read")
@requires(Action.VIEW_INAPP_NOTIFICATIONS)
def read(source: str, notification_id: int) -> ResponseReturnValue:
    """Mark one notification read."""
    if source not in (INTERVIEW, SCHEDULING):
        raise NotFoundError("no such notification")
    mark_read(app_store(), current_principal(), source, notification_id)
    return redirect(url_for(".index"))


@bp.post("/notifications/read-all")
@requires(Action.VIEW_INAPP_NOTIFICATIONS)
def read_all() -> ResponseReturnValue:
    """Mark every notification read."""
    count = mark_all_read(app_store(), current_principal())
    flash(_("%(count)s notifications marked as read.", count=count), "success")
    return redirect(url_for(".index"))
