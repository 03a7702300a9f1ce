"""Logging in and out, and one's own account: password and preferences."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from appliance.accounts.auth import (
    AccountLockedError,
    AuthenticationError,
    PasswordPolicyError,
    authenticate,
    change_password,
    principal_of,
)
from appliance.security.permissions import Action, allowed
from webui.redirects import safe_local_path
from webui.security import (
    app_store,
    begin_session,
    current_user,
    end_session,
    optional_user,
    public,
    requires,
)

bp = Blueprint("account", __name__)

LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}


def _landing() -> str:
    user = optional_user()
    if user is not None and allowed(principal_of(user), Action.VIEW_DASHBOARD) is None:
        return url_for("account.account")  # auditors have no dashboard
    return url_for("dashboard.index")


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would help phishing.
    return safe_local_path(target) or _landing()


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    """The login form."""
    if request.method == "GET":
        if optional_user() is not None:
            return redirect(_landing())
        return render_template("account/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    try:
        user = authenticate(app_store(), username, password)
    except AccountLockedError as exc:
        flash(str(exc), "error")
        return render_template("account/login.html", next=request.form.get("next", "")), 429
    except AuthenticationError:
        flash(_("The user name or password is not right."), "error")
        return render_template("account/login.html", next=request.form.get("next", "")), 401
    begin_session(user)
    g.user = user
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
@requires(Action.CHANGE_OWN_ACCOUNT)
def logout() -> ResponseReturnValue:
    """End the session."""
    end_session()
    flash(_("You are logged out."), "success")
    return redirect(url_for("account.login"))


@bp.route("/account", methods=["GET", "POST"])
@requires(Action.CHANGE_OWN_ACCOUNT)
def account() -> ResponseReturnValue:
    """Change one's password, language and time zone."""
    user = current_user()
    store = app_store()
    if request.method == "POST":
        form = request.form
        if form.get("form") == "password":
            if form.get("new_password") != form.get("confirm_password"):
                flash(_("The two new passwords differ."), "error")
            else:
                try:
                    updated = change_password(
                        store,
                        user.id,
                        form.get("current_password", ""),
                        form.get("new_password", ""),
                    )
                except (AuthenticationError, PasswordPolicyError) as exc:
                    flash(str(exc), "error")
                else:
                    # This session continues (same login time); all others end.
                    begin_session(updated, keep_start=True)
                    flash(_("Your password was changed."), "success")
        elif form.get("form") == "preferences":
            language = form.get("language", "en")
            timezone = form.get("timezone", "UTC")
            if language not in LANGUAGE_NAMES or timezone not in available_timezones():
                flash(_("Choose a language and a time zone from the lists."), "error")
            else:
                with store.transaction():
                    store.users.set_preferences(user.id, language=language, timezone=timezone)
                flash(_("Your preferences were saved."), "success")
        return redirect(url_for("account.account"))
    return render_template(
        "account/account.html",
        user=user,
        languages=LANGUAGE_NAMES,
        timezones=sorted(available_timezones()),
    )
