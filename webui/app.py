"""`create_app`: the Flask application over a config and a store (a thin adapter, no rules)."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Flask,
    current_app,
    g,
    has_app_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale, get_translations
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2.nodes import EvalContext
from jinja2.utils import pass_eval_context
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from appliance.accounts.auth import AuthenticationError
from appliance.accounts.passwords import PasswordPolicyError
from appliance.accounts.service import AccountError
from appliance.platform.clock import from_stamp
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import (
    ApplianceError,
    MediaRejectedError,
    NotFoundError,
    QueueFullError,
    RefusedError,
)
from appliance.platform.jsonlimits import JsonLimitError
from appliance.security.permissions import Action, PermissionDeniedError, allowed
from appliance.store import Store
from appliance.store.people import User
from webui import views
from webui.api.errors import json_error
from webui.api.json_body import LimitedJSONProvider
from webui.error_pages import explain
from webui.navigation import ACCOUNT_LINK, ShownGroup, home_link, may_open, menu_for
from webui.report_words import viewer_language
from webui.security import (
    PasswordChangeRequired,
    is_public,
    optional_user,
    view_action,
    wants_json,
)
from webui.words import say, say_error

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
LANGUAGES = ("en", "zh_CN")

# Core errors → HTTP status, so views stay free of translation code.
STATUS_OF: list[tuple[type[Exception], int, str]] = [
    (PermissionDeniedError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (AuthenticationError, 401, "unauthorized"),
    (PasswordPolicyError, 422, "invalid_password"),
    (RefusedError, 422, "invalid_request"),
    (AccountError, 422, "invalid_request"),
    (MediaRejectedError, 422, "media_rejected"),
    (QueueFullError, 503, "queue_full"),
]


class UnguardedRouteError(RuntimeError):
    """A view that is neither in the permission table nor marked public."""


def _error_response(
    status: int,
    code: str,
    message: str,
    *,
    error: BaseException | None = None,
    detail: str | None = None,
) -> ResponseReturnValue:
    """JSON for API clients (`message` is for programs); for people, the error page in their
    language with a plain sentence (`detail` is shown under it) and a way back."""
    if wants_json():
        return json_error(status, code, message)
    words = explain(status, code, error=error, detail=detail, user=optional_user())
    return render_template("errors/error.html", status=status, code=code, words=words), status


def _select_locale() -> str:
    user = optional_user()
    if user is not None and user.language in LANGUAGES:
        return user.language
    return request.accept_languages.best_match(LANGUAGES) or "en"


def _translations() -> Any:
    """This request's translations for its locale: Flask-Babel's `get_translations` looks them
    up again (a dozen context look-ups) for every string a template translates."""
    if not has_app_context():  # Flask-Babel's own answer: no translation
        return get_translations()
    locale = get_locale()
    kept = g.get("page_translations")
    if kept is None or kept[0] is not locale:
        kept = g.page_translations = (locale, get_translations())
    return kept[1]


# The templates' new-style gettext functions, as Jinja's i18n extension makes them over
# Flask-Babel's (same Markup and `%` formatting), with two costs taken out: the translations are
# found once per request, and they take the evaluation context rather than the template context
# (for a function that takes the template context, Jinja copies every variable of the page into
# a new one at each call inside a loop or block: most of a list page's time went there).


def _formatted(eval_ctx: EvalContext, text: str, variables: dict[str, Any]) -> str:
    """Jinja's new-style rule: a translation is markup where the page escapes (the catalogue is
    trusted, its variables are escaped), and always a format string."""
    template = Markup(text) if eval_ctx.autoescape else text  # noqa: S704 - as Jinja's own
    return template % variables


@pass_eval_context
def _gettext(eval_ctx: EvalContext, string: str, /, **variables: Any) -> str:
    """`_` and `gettext`."""
    rv = _translations().ugettext(string)
    return _formatted(eval_ctx, rv, variables)


@pass_eval_context
def _ngettext(
    eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables: Any
) -> str:
    """`ngettext`."""
    variables.setdefault("num", num)
    rv = _translations().ungettext(singular, plural, num)
    return _formatted(eval_ctx, rv, variables)


@pass_eval_context
def _pgettext(eval_ctx: EvalContext, context: str, string: str, /, **variables: Any) -> str:
    """`pgettext`."""
    variables.setdefault("context", context)
    rv = _translations().upgettext(context, string)
    return _formatted(eval_ctx, rv, variables)


@pass_eval_context
def _npgettext(
    eval_ctx: EvalContext,
    context: str,
    singular: str,
    plural: str,
    num: int,
    /,
    **variables: Any,
) -> str:
    """`npgettext`."""
    variables.setdefault("context", context)
    variables.setdefault("num", num)
    rv = _translations().unpgettext(context, singular, plural, num)
    return _formatted(eval_ctx, rv, variables)


def _install_gettext(app: Flask) -> None:
    """The templates' `_`, `gettext`, `ngettext`, `pgettext` and `npgettext` (Flask-Babel's
    new-style ones, made cheaper): installed after Flask-Babel's."""
    app.jinja_env.globals.update(
        _=_gettext,
        gettext=_gettext,
        ngettext=_ngettext,
        pgettext=_pgettext,
        npgettext=_npgettext,
    )


def _select_timezone() -> str:
    user = optional_user()
    return user.timezone if user is not None else "UTC"


def localtime(stamp: str | None, with_zone: bool = True) -> str:
    """A stored UTC timestamp in the viewer's time zone, e.g. `2026-11-29 15:04 CET`."""
    if not stamp:
        return "-"
    return _in_zone(stamp, _select_timezone(), with_zone)


@functools.lru_cache(maxsize=4096)
def _in_zone(stamp: str, zone_name: str, with_zone: bool) -> str:
    """`localtime` of one stamp in one zone: a list page shows dozens, each parsed by strptime
    (remembered: the same stamps come back on every page view)."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    moment = from_stamp(stamp).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M %Z" if with_zone else "%Y-%m-%d %H:%M")


def check_routes(app: Flask) -> None:
    """Refuse to start with a route that bypasses the permission table."""
    unguarded = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and not is_public(app.view_functions[rule.endpoint])
        and view_action(app.view_functions[rule.endpoint]) is None
    ]
    if unguarded:
        raise UnguardedRouteError(f"routes without a permission: {', '.join(unguarded)}")


def _configure(app: Flask, config: ApplianceConfig) -> None:
    """Session, upload, CSRF and translation settings."""
    app.config.update(
        # A fresh secret per start: sessions do not outlive a restart, and no key sits on disk.
        SECRET_KEY=secrets.token_bytes(32),
        MAX_CONTENT_LENGTH=config.web.upload_piece_bytes + (1 << 20),
        SESSION_COOKIE_NAME="appliance_session",
        SESSION_COOKIE_SECURE=config.web.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.web.session_absolute_hours),
        WTF_CSRF_TIME_LIMIT=None,  # the session's own timeouts bound the token's life
        WTF_CSRF_SSL_STRICT=False,  # same-origin is enforced by SameSite=Strict and the token
        BABEL_TRANSLATION_DIRECTORIES="translations",
    )


def _register_blueprints(app: Flask, csrf: CSRFProtect) -> None:
    """Every view's blueprint; refuses to go on if a route bypasses the permission table."""
    for blueprint in views.blueprints():
        app.register_blueprint(blueprint)
    # API clients authenticate with a bearer token, never a cookie: CSRF cannot apply.
    csrf.exempt(views.api.bp)
    check_routes(app)


MENUS_KEPT = 1024  # menus kept per application (roles x languages x pages, far fewer in use)


@dataclass(frozen=True)
class _Menu:
    """What the page header shows of the navigation: the groups, the account link, home."""

    groups: tuple[ShownGroup, ...]
    account_link: bool
    home_url: str
    home_label: str


def _made_menu(user: User | None) -> _Menu:
    """The header's navigation for this person, made afresh."""
    home = home_link(user)
    return _Menu(
        tuple(menu_for(user)),
        may_open(user, ACCOUNT_LINK),
        url_for(home.endpoint),
        str(home.label),
    )


def _menu(user: User | None) -> _Menu:
    """The header's navigation, kept per role, language and page: the same for everyone with
    that role (the permission table is code), and making it costs two dozen URLs, translations
    and permission checks on every page."""
    if user is None:
        return _made_menu(user)
    kept: dict[tuple[Any, ...], _Menu] = current_app.extensions.setdefault("appliance.menus", {})
    key = (
        user.role,
        user.must_change_password,
        str(get_locale()),
        request.endpoint,
        request.script_root,
    )
    if key not in kept:
        if len(kept) >= MENUS_KEPT:
            kept.clear()
        kept[key] = _made_menu(user)
    return kept[key]


def _add_template_globals(app: Flask, config: ApplianceConfig) -> None:
    """What every template sees: the user, their role, `can`, the site name, the menu and the
    person's home page."""

    @app.context_processor
    def navigation() -> dict[str, Any]:
        user = optional_user()
        role = user.role if user else None

        def can(action: Action) -> bool:
            if user is None:
                return False
            from appliance.accounts.auth import principal_of

            return allowed(principal_of(user), action) is not None

        # The bell: one unread count over both kinds of notification, for those who get any.
        unread_notifications: int | None = None
        if (
            user is not None
            and not user.must_change_password
            and can(Action.VIEW_INAPP_NOTIFICATIONS)
        ):
            from appliance.notify.inbox import unread
            from webui.security import app_store

            unread_notifications = unread(app_store(), user.id)

        # Each page appears in the menu only for roles whose permission opens it, grouped by
        # task (webui.navigation); no menu until an initial password is replaced.
        menu = _menu(user)
        return {
            "unread_notifications": unread_notifications,
            "nav_groups": list(menu.groups),
            "account_link": menu.account_link,
            "home_url": menu.home_url,
            "home_label": menu.home_label,
            "home_is_login": user is None,
            "current_user": user,
            "current_role": role,
            "can": can,
            "Action": Action,
            "site_name": config.site.name,
        }


def _security_headers(response: Any) -> Any:
    """Browser hardening on every response; a view's own Cache-Control is kept."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(self), geolocation=()"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    return _error_response(400, "csrf_failed", error.description or "CSRF check failed")


def _own_description(error: HTTPException) -> str | None:
    """A description a view gave (`abort(404, description=...)`), not werkzeug's stock one."""
    stock = type(error).description
    return error.description if error.description and error.description != stock else None


def _http_error(error: HTTPException) -> ResponseReturnValue:
    code = (error.name or "error").lower().replace(" ", "_")
    if error.code == 401 and not wants_json():
        return redirect(url_for("account.login", next=request.full_path))
    return _error_response(
        error.code or 500,
        code,
        error.description or code,
        error=error,
        detail=_own_description(error),
    )


def _password_change_required(error: PasswordChangeRequired) -> ResponseReturnValue:
    if wants_json():
        return json_error(403, "password_change_required", "set a new password first")
    return redirect(url_for("account.new_password"))


def _json_limit_error(error: JsonLimitError) -> ResponseReturnValue:
    # A JSON body gets a JSON answer whatever the client accepts (the room's and live assist's
    # scripts post JSON to paths outside /api/).
    if wants_json() or request.is_json:
        return json_error(422, "json_limit", str(error))
    return _error_response(422, "json_limit", str(error), detail=str(error))


def _appliance_error(error: ApplianceError) -> ResponseReturnValue:
    for kind, status, code in STATUS_OF:
        if isinstance(error, kind):
            if status == 404:
                return _error_response(404, code, "not found")  # no hint what exists
            # A refusal's reason is for the person, in their language (the API keeps English);
            # a permission is said in words instead.
            detail = None if status in (401, 403) else say_error(error)
            return _error_response(status, code, str(error), error=error, detail=detail)
    return _error_response(500, "internal_error", "the appliance could not do that", error=error)


def _add_error_handlers(app: Flask) -> None:
    """Errors as the error page (or JSON for API clients), with core errors mapped to statuses."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(PasswordChangeRequired, _password_change_required)
    app.register_error_handler(JsonLimitError, _json_limit_error)
    app.register_error_handler(ApplianceError, _appliance_error)


def _forget_user(_: BaseException | None) -> None:
    """The signed-in user is looked up per request: nothing of it outlives the request."""
    g.pop("user", None)


def create_app(config: ApplianceConfig | None = None, store: Store | None = None) -> Flask:
    """Build the web application over an opened store."""
    if config is None or store is None:
        raise ValueError("create_app needs a config and an opened store")
    app = Flask(__name__)
    app.json = LimitedJSONProvider(app)
    _configure(app, config)
    app.extensions["appliance.config"] = config
    app.extensions["appliance.store"] = store
    csrf = CSRFProtect(app)
    Babel(app, locale_selector=_select_locale, timezone_selector=_select_timezone)
    _install_gettext(app)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["say"] = say
    # The language a page's own words are read in ("en", "zh"): for labels a model has in both.
    app.jinja_env.globals["reading_language"] = viewer_language

    _register_blueprints(app, csrf)
    _add_template_globals(app, config)
    app.after_request(_security_headers)
    _add_error_handlers(app)
    app.teardown_request(_forget_user)
    return app
