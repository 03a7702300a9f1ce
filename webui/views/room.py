"""Candidate links: HR issues and revokes them; the candidate's link opens their invitation."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.candidate_links import InvalidLinkError, issue_link, revoke_link, verify_link
from appliance.errors import NotFoundError
from appliance.permissions import Action
from appliance.store.links import CandidateLink
from webui.security import app_store, current_principal, public, requires, visibility

bp = Blueprint("room", __name__)


@bp.app_template_global()
def interview_links(interview_id: int) -> list[CandidateLink]:
    """The links issued for an interview (profile pages of people who may edit candidates)."""
    return app_store().links.for_interview(interview_id)


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
        issued = issue_link(
            app_store(), current_principal(), interview_id=interview_id, valid_hours=hours
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


@bp.get("/room/<token>")
@public
def invitation(token: str) -> ResponseReturnValue:
    """What a candidate's link opens: who invites them, for which position, until when."""
    store = app_store()
    try:
        interview, link = verify_link(store, token)
    except InvalidLinkError:
        abort(404, description=_("This interview link is not valid or has expired."))
    requisition = store.requisitions.get(interview.requisition_id)
    contact = store.users.get(link.created_by)
    return render_template(
        "room/invitation.html",
        interview=interview,
        requisition=requisition,
        link=link,
        contact=contact,
    )
