"""Logging in and out, and one's own account: password and preferences."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from appliance.accounts.auth import (
    AuthenticationError,
    SignInLimits,
    authenticate,
    change_password,
)
from appliance.accounts.passwords import MIN_PASSWORD_CHARS, PasswordPolicyError
from appliance.security.permissions import Action
from appliance.store.people import User
from webui.navigation import home_url
from webui.redirects import safe_local_path
from webui.security import (
    app_config,
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
# PasswordPolicyError codes → translated messages (the core speaks English to logs and the CLI).
PASSWORD_PROBLEMS = {
    "too_short": lazy_gettext("A password needs at least %(limit)s characters."),
    "too_uniform": lazy_gettext(
        "A password needs more variety than that: not just a few repeated characters."
    ),
    "common": lazy_gettext(
        "That is a commonly used password, one of the first a guesser tries: choose another."
    ),
    "unchanged": lazy_gettext("The new password must differ from the current one."),
}


def _landing() -> str:
    # The role's home (webui.navigation): never a page the role would be refused.
    return home_url(optional_user())


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
    web = app_config().web
    limits = SignInLimits(web.login_attempts_per_address, web.login_address_window_minutes * 60.0)
    try:
        # remote_addr is the peer gunicorn sees (a proxy in front of it counts as one client).
        user = authenticate(
            app_store(), username, password, address=request.remote_addr or "-", limits=limits
        )
    except AuthenticationError:
        # One answer for every refusal (unknown name, wrong password, locked, throttled), so
        # neither the status nor the text tells an account that exists from one that does not.
        flash(
            _(
                "The user name or password is not right, or signing in is paused for a while "
                "after repeated failures."
            ),
            "error",
        )
        return render_template("account/login.html", next=request.form.get("next", "")), 401
    begin_session(user)
    g.user = user
    if user.must_change_password:
        return redirect(url_for("account.new_password"))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
@requires(Action.VIEW_OWN_ACCOUNT, before_new_password=True)  # anyone signed in may leave
def logout() -> ResponseReturnValue:
    """End the session."""
    end_session()
    flash(_("You are logged out."), "success")
    return redirect(url_for("account.login"))


def _password_problem(error: PasswordPolicyError) -> str:
    message = PASSWORD_PROBLEMS.get(error.code)
    return str(message) % {"limit": MIN_PASSWORD_CHARS} if message is not None else str(error)


def _change_own_password(user: User) -> bool:
    """Change the password from the posted form; flashes what went wrong (False) or right."""
    form = request.form
    if form.get("new_password") != form.get("confirm_password"):
        flash(_("The two new passwords differ."), "error")
        return False
    try:
        updated = change_password(
            app_store(), user.id, form.get("current_password", ""), form.get("new_password", "")
        )
    except AuthenticationError:
        flash(_("The current password is not right."), "error")
        return False
    except PasswordPolicyError as exc:
        flash(_password_problem(exc), "error")
        return False
    # This session continues (same login time); all others end.
    begin_session(updated, keep_start=True)
    g.user = updated
    flash(_("Your password was changed."), "success")
    return True


@bp.route("/account/new-password", methods=["GET", "POST"])
@requires(Action.CHANGE_OWN_ACCOUNT, before_new_password=True)
def new_password() -> ResponseReturnValue:
    """The first password must be replaced: the only page open until it is."""
    user = current_user()
    if not user.must_change_password:
        return redirect(url_for("account.account"))
    if request.method == "POST" and _change_own_password(user):
        return redirect(_landing())
    status = 422 if request.method == "POST" else 200
    return render_template("account/new_password.html", user=user), status


@bp.route("/account", methods=["GET", "POST"])
@requires(Action.CHANGE_OWN_ACCOUNT)
def account() -> ResponseReturnValue:
    """Change one's password, language and time zone."""
    user = current_user()
    store = app_store()
    if request.method == "POST":
        form = request.form
        if form.get("form") == "password":
            _change_own_password(user)
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
