"""Administration: accounts, their passwords and API tokens, and the effective settings."""

from __future__ import annotations

import importlib.metadata
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext

from appliance.accounts import service as accounts
from appliance.accounts.service import AccountError
from appliance.platform.clock import now_stamp
from appliance.security.permissions import WILDCARD, Action
from appliance.store.people import ROLES, User
from webui.security import (
    app_config,
    app_store,
    begin_session,
    current_principal,
    end_session,
    requires,
    session_start_limit,
)

bp = Blueprint("admin", __name__)

ROLE_LABELS = {
    "hr_admin": lazy_gettext("HR administrator"),
    "recruiter": lazy_gettext("Recruiter"),
    "interviewer": lazy_gettext("Interviewer"),
    "business_lead": lazy_gettext("Business lead"),
    "tech_expert": lazy_gettext("Technical expert"),
    "auditor": lazy_gettext("Auditor"),
    "service": lazy_gettext("Service account (API)"),
}

# AccountError codes → translated messages (the core speaks English to logs and the CLI).
PROBLEMS = {
    "invalid_username": lazy_gettext(
        "A user name has 2 to 64 characters: letters, digits, dots, dashes or underscores."
    ),
    "username_taken": lazy_gettext("The user name %(username)s is already taken."),
    "name_required": lazy_gettext("Enter a display name."),
    "name_too_long": lazy_gettext("The display name is longer than %(limit)s characters."),
    "invalid_email": lazy_gettext("The e-mail address is not valid."),
    "unknown_role": lazy_gettext("Choose a role from the list."),
    "item_too_long": lazy_gettext("A department or region is longer than %(limit)s characters."),
    "unknown_region": lazy_gettext(
        "Unknown region(s): %(regions)s. Known regions: %(known)s, or * for all."
    ),
    "weak_password": lazy_gettext(
        "The password does not meet the policy: at least 12 characters, and not just a few "
        "repeated characters."
    ),
    "common_password": lazy_gettext(
        "That is a commonly used password, one of the first a guesser tries: choose another."
    ),
    "cannot_deactivate_self": lazy_gettext("You cannot deactivate your own account."),
    "cannot_demote_self": lazy_gettext("You cannot change your own role."),
    "scope_beyond_yours": lazy_gettext(
        "You can only give departments and regions that you have yourself: %(items)s."
    ),
    "not_a_service_account": lazy_gettext("API tokens can only be issued to service accounts."),
    "inactive_account": lazy_gettext("The account is deactivated."),
    "invalid_token_name": lazy_gettext("Give the token a name of at most %(limit)s characters."),
    "invalid_token_days": lazy_gettext("A token is valid for 1 to %(limit)s days."),
}

SETTINGS_SECTIONS = {
    "site": lazy_gettext("Site"),
    "web": lazy_gettext("Web interface"),
    "worker": lazy_gettext("Analysis worker"),
    "media": lazy_gettext("Recordings"),
    "db": lazy_gettext("Database"),
}


def _problem(error: AccountError) -> str:
    message = PROBLEMS.get(error.code)
    return str(message) % error.params if message is not None else str(error)


def _render_scope(values: list[str]) -> str:
    """How a department or region list reads in a table."""
    if WILDCARD in values:
        return str(_("all"))
    return ", ".join(values) or "\N{EN DASH}"


def _form_values(user: User | None = None) -> dict[str, Any]:
    """The account form's values: what was posted, else the account's, else the defaults."""
    if request.method == "POST" and "display_name" in request.form:
        return {
            "username": request.form.get("username", ""),
            "display_name": request.form.get("display_name", ""),
            "email": request.form.get("email", ""),
            "role": request.form.get("role", ""),
            "departments": request.form.get("departments", ""),
            "regions": request.form.get("regions", ""),
            "active": request.form.get("active") == "on",
        }
    if user is None:
        return {"role": "recruiter", "active": True}
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email or "",
        "role": user.role,
        "departments": ", ".join(user.departments),
        "regions": ", ".join(user.regions),
        "active": user.active,
    }


def _common() -> dict[str, Any]:
    roles = {role: ROLE_LABELS.get(role, role) for role in ROLES}
    return {"roles": roles, "regions": accounts.REGIONS, "scope": _render_scope}


@bp.get("/admin/users")
@requires(Action.MANAGE_USERS)
def users() -> ResponseReturnValue:
    """Every account, with its role, scope and state."""
    return render_template(
        "admin/users.html", users=app_store().users.all(), now=now_stamp(), **_common()
    )


def _new_page(status: int = 200) -> ResponseReturnValue:
    return render_template("admin/user_new.html", form=_form_values(), **_common()), status


@bp.route("/admin/users/new", methods=["GET", "POST"])
@requires(Action.MANAGE_USERS)
def new_user() -> ResponseReturnValue:
    """Create an account with an initial password."""
    if request.method == "GET":
        return _new_page()
    form = request.form
    if form.get("password", "") != form.get("confirm_password", ""):
        flash(_("The two new passwords differ."), "error")
        return _new_page(422)
    try:
        user = accounts.create_account(
            app_store(),
            current_principal(),
            username=form.get("username", ""),
            display_name=form.get("display_name", ""),
            email=form.get("email"),
            role=form.get("role", ""),
            departments=accounts.parse_list(form.get("departments", "")),
            regions=accounts.parse_regions(form.get("regions", "")),
            password=form.get("password", ""),
        )
    except AccountError as exc:
        flash(_problem(exc), "error")
        return _new_page(422)
    flash(_("The account %(username)s was created.", username=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


def _edit_page(user: User, status: int = 200) -> ResponseReturnValue:
    tokens = accounts.tokens_of(app_store(), current_principal(), user.id)
    return (
        render_template(
            "admin/user_edit.html",
            user=user,
            form=_form_values(user),
            tokens=tokens,
            open_sessions=app_store().web_sessions.count_alive(
                user.id, since=session_start_limit(app_config())
            ),
            is_self=user.id == current_principal().user_id,
            now=now_stamp(),
            **_common(),
        ),
        status,
    )


def _keep_own_session(user_id: int) -> None:
    # Changing one's own account ends all its sessions; this one goes on, and its absolute
    # limit still counts from the login.
    if user_id != current_principal().user_id:
        return
    updated = app_store().users.get(user_id)
    if session.get("epoch") != updated.session_epoch:
        started = session.get("started")
        begin_session(updated)
        session["started"] = started or session["started"]


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@requires(Action.MANAGE_USERS)
def edit_user(user_id: int) -> ResponseReturnValue:
    """Change an account's role, scope and activity, or set its password."""
    store, principal = app_store(), current_principal()
    user = store.users.get(user_id)
    if request.method == "GET":
        return _edit_page(user)
    form = request.form
    try:
        if form.get("form") == "password":
            if form.get("new_password", "") != form.get("confirm_password", ""):
                flash(_("The two new passwords differ."), "error")
                return _edit_page(user, 422)
            accounts.set_account_password(store, principal, user_id, form.get("new_password", ""))
            message = _("The password was set. The account's sessions have ended.")
        else:
            accounts.update_account(
                store,
                principal,
                user_id,
                display_name=form.get("display_name", ""),
                email=form.get("email"),
                role=form.get("role", ""),
                departments=accounts.parse_list(form.get("departments", "")),
                regions=accounts.parse_regions(form.get("regions", "")),
                active=form.get("active") == "on",
            )
            message = _("The account was saved.")
    except AccountError as exc:
        flash(_problem(exc), "error")
        return _edit_page(user, 422)
    _keep_own_session(user_id)
    flash(message, "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.post("/admin/users/<int:user_id>/tokens")
@requires(Action.MANAGE_USERS)
def issue_token(user_id: int) -> ResponseReturnValue:
    """Issue an API token for a service account; its secret is shown on this page only."""
    store = app_store()
    user = store.users.get(user_id)
    try:
        try:
            days = int(request.form.get("valid_days", "365"))
        except ValueError:
            days = 0  # refused below with the same message as any other bad number
        issued = accounts.issue_token(
            store, current_principal(), user_id, request.form.get("name", ""), valid_days=days
        )
    except AccountError as exc:
        flash(_problem(exc), "error")
        return _edit_page(user, 422)
    return render_template("admin/token.html", user=user, issued=issued)


@bp.post("/admin/users/<int:user_id>/sessions/end")
@requires(Action.MANAGE_USERS)
def end_sessions(user_id: int) -> ResponseReturnValue:
    """Sign an account out of every browser at once."""
    ended = accounts.end_sessions(app_store(), current_principal(), user_id)
    if user_id == current_principal().user_id:
        end_session()
        return redirect(url_for("account.login"))
    flash(
        ngettext("%(num)d session was ended.", "%(num)d sessions were ended.", ended),
        "success",
    )
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.post("/admin/users/<int:user_id>/tokens/<int:token_id>/revoke")
@requires(Action.MANAGE_USERS)
def revoke_token(user_id: int, token_id: int) -> ResponseReturnValue:
    """Revoke an API token for good."""
    accounts.revoke_token(app_store(), current_principal(), user_id, token_id)
    flash(_("The token was revoked."), "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


@bp.get("/admin/settings")
@requires(Action.MANAGE_SETTINGS)
def settings() -> ResponseReturnValue:
    """The effective configuration, read-only (the key settings are never shown)."""
    config = app_config()
    dumped = config.model_dump(mode="json", include=set(SETTINGS_SECTIONS))
    sections = [
        (name, label, [(key, _setting_text(value)) for key, value in dumped[name].items()])
        for name, label in SETTINGS_SECTIONS.items()
    ]
    try:
        tzdata_version: str | None = importlib.metadata.version("tzdata")
    except importlib.metadata.PackageNotFoundError:
        tzdata_version = None
    return render_template(
        "admin/settings.html",
        sections=sections,
        config_path=str(config.paths.config),
        tzdata_version=tzdata_version,
        zone_count=len(available_timezones()),
    )
