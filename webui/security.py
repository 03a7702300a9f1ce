"""Who is asking, and may they: sessions, API tokens, and the per-view permission check.

Every view is decorated with either `requires(Action.X)` or `public`; `create_app` refuses
to start if one is not, so no route can exist outside the permission table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request, session
from werkzeug.exceptions import Forbidden, Unauthorized

from appliance.accounts.auth import AuthenticationError, authenticate_token, principal_of
from appliance.platform.clock import from_stamp, now_stamp, to_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.people import User

F = TypeVar("F", bound=Callable[..., Any])

ACTION_ATTR = "_appliance_action"
PUBLIC_ATTR = "_appliance_public"
API_PREFIX = "/api/"


class LoginRequired(Unauthorized):
    """No valid session or token."""

    description = "please log in"


class PasswordChangeRequired(Forbidden):
    """A session whose account must first replace its initial password (API tokens are not)."""

    description = "set a new password first"


def requires(action: Action, *, before_new_password: bool = False) -> Callable[[F], F]:
    """View decorator: the logged-in principal must hold `action`; `g.visibility` is its scope.

    Until an account has replaced the initial password it was given, its sessions reach only
    the views marked `before_new_password` (the new-password page and logging out).
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if (
                not before_new_password
                and current_user().must_change_password
                and not g.get("via_token")
            ):
                raise PasswordChangeRequired()
            g.visibility = require(principal, action)
            return view(*args, **kwargs)

        setattr(wrapper, ACTION_ATTR, action)
        return cast(F, wrapper)

    return decorate


def public(view: F) -> F:
    """View decorator: reachable without logging in (login page, health check)."""
    setattr(view, PUBLIC_ATTR, True)
    return view


def view_action(view: Callable[..., Any]) -> Action | None:
    """The action a view requires (None for public views)."""
    return cast(Action | None, getattr(view, ACTION_ATTR, None))


def is_public(view: Callable[..., Any]) -> bool:
    """Whether a view was marked public."""
    return bool(getattr(view, PUBLIC_ATTR, False))


def app_store() -> Store:
    """The store the application was created with."""
    return cast(Store, current_app.extensions["appliance.store"])


def app_config() -> ApplianceConfig:
    """The configuration the application was created with."""
    return cast(ApplianceConfig, current_app.extensions["appliance.config"])


def visibility() -> Visibility:
    """The scope granted to the current view's action."""
    return cast(Visibility, g.visibility)


def session_start_limit(config: ApplianceConfig) -> str:
    """The earliest start of a session still within its absolute lifetime."""
    return to_stamp(utcnow() - timedelta(hours=config.web.session_absolute_hours))


def begin_session(user: User, *, keep_start: bool = False) -> None:
    """Log a user in: a fresh session (the old one is dropped, against fixation).

    `keep_start` carries the login time over (after a password change), so renewing the
    session never extends its absolute lifetime.
    """
    started = session.get("started") if keep_start else None
    previous = session.get("sid")
    store, config = app_store(), app_config()
    if isinstance(previous, str):
        store.web_sessions.end(previous)
    forget = utcnow() - timedelta(hours=config.web.session_absolute_hours + 24)
    token = store.web_sessions.start(user.id, forget_before=to_stamp(forget))
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["sid"] = token  # the server-side session: signing out ends it for every copy
    session["epoch"] = user.session_epoch
    session["started"] = started or now_stamp()
    session["seen"] = now_stamp()


def end_session() -> None:
    """Log out: the session ends on the server too, so a copy of the cookie is worthless."""
    token = session.get("sid")
    if isinstance(token, str):
        app_store().web_sessions.end(token)
    session.clear()


def _session_user(store: Store, config: ApplianceConfig) -> User | None:
    uid, token = session.get("uid"), session.get("sid")
    if uid is None:
        return None
    if not isinstance(token, str) or not store.web_sessions.alive(token, int(uid)):
        session.clear()  # ended (signed out elsewhere, or by an administrator) or unknown
        return None
    try:
        user = store.users.get(int(uid))
        started, seen = from_stamp(session["started"]), from_stamp(session["seen"])
    except (NotFoundError, KeyError, ValueError):
        session.clear()
        return None
    now = utcnow()
    expired = (
        not user.active
        or session.get("epoch") != user.session_epoch
        or now - seen > timedelta(minutes=config.web.session_idle_minutes)
        or now - started > timedelta(hours=config.web.session_absolute_hours)
    )
    if expired:
        session.clear()
        return None
    session["seen"] = now_stamp()
    return user


def current_user() -> User:
    """The account making this request (session cookie or bearer token), or 401."""
    if "user" in g:
        return cast(User, g.user)
    store, config = app_store(), app_config()
    header = request.headers.get("Authorization", "")
    user: User | None
    if header.startswith("Bearer "):
        try:
            user = authenticate_token(store, header.removeprefix("Bearer ").strip())
        except AuthenticationError as exc:
            raise LoginRequired(str(exc)) from None
        g.via_token = True
    else:
        user = _session_user(store, config)
    if user is None:
        raise LoginRequired()
    g.user = user
    return user


def current_principal() -> Principal:
    """The acting principal of this request, or 401."""
    return principal_of(current_user())


def optional_user() -> User | None:
    """The logged-in account if any (for pages that also show to anonymous visitors)."""
    try:
        return current_user()
    except LoginRequired:
        return None


def wants_json() -> bool:
    """API paths and JSON clients get JSON errors; browsers get pages."""
    if request.path.startswith(API_PREFIX):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"
