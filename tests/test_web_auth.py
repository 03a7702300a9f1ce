"""Logging in through the real web UI: lockout, cookies, session timeouts, CSRF, redirects."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.accounts.auth import FIRST_LOCK_S, LOCK_AFTER_FAILURES
from appliance.platform.clock import from_stamp, now_stamp, to_stamp, utcnow
from appliance.store import Store
from tests.conftest import USER_PASSWORD, Appliance, csrf_token_from, login, make_user
from webui.redirects import safe_local_path

Web = tuple[Flask, Store]
NEW_PASSWORD = "another long password 2"
REFUSED = (
    "The user name or password is not right, or signing in is paused for a while after "
    "repeated failures."
)


def _flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+"[^>]*>([^<]*)</p>', html)


def _token(client: FlaskClient, path: str = "/account") -> str:
    return csrf_token_from(client.get(path).get_data(as_text=True))


def _logged_in(client: FlaskClient) -> bool:
    reply = client.get("/account")
    return reply.status_code == 200


def _set_locked_until(store: Store, user_id: int, stamp: str | None) -> None:
    with store.transaction():
        store.conn.execute("UPDATE users SET locked_until = ? WHERE id = ?", (stamp, user_id))


def _user_row(store: Store, user_id: int) -> Any:
    return store.conn.execute(
        "SELECT failed_logins, locked_until FROM users WHERE id = ?", (user_id,)
    ).fetchone()


# --- logging in -----------------------------------------------------------------------------------


def test_login_succeeds_and_lands_on_the_dashboard(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    reply = login(client, "rita.recruiter")
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/"
    assert _logged_in(client)
    assert store.audit.entries(action="login.succeeded")


def test_unknown_user_and_wrong_password_get_the_same_answer(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    wrong = login(app.test_client(), "rita.recruiter", "not the right password")
    unknown = login(app.test_client(), "nobody.here", USER_PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert _flashes(wrong.get_data(as_text=True)) == _flashes(unknown.get_data(as_text=True))
    assert _flashes(wrong.get_data(as_text=True)) == [REFUSED]


def test_a_deactivated_account_cannot_log_in(web: Web) -> None:
    app, store = web
    user_id = make_user(store, "gone.user", "recruiter")
    user = store.users.get(user_id)
    with store.transaction():
        store.users.update(
            user_id,
            display_name=user.display_name,
            email=None,
            role=user.role,
            departments=[],
            regions=[],
            active=False,
        )
    reply = login(app.test_client(), "gone.user")
    assert reply.status_code == 401
    assert _flashes(reply.get_data(as_text=True)) == [REFUSED]


def test_lockout_after_five_failures_then_back_off(web: Web) -> None:
    app, store = web
    user_id = make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    for _ in range(LOCK_AFTER_FAILURES):
        assert login(client, "rita.recruiter", "wrong password!!").status_code == 401
    row = _user_row(store, user_id)
    assert row["failed_logins"] == LOCK_AFTER_FAILURES
    first_lock = from_stamp(row["locked_until"]) - utcnow()
    assert timedelta(seconds=FIRST_LOCK_S - 5) < first_lock <= timedelta(seconds=FIRST_LOCK_S)

    # Locked: even the right password is refused, with the answer an unknown name gets.
    locked = login(client, "rita.recruiter")
    assert locked.status_code == 401
    assert _flashes(locked.get_data(as_text=True)) == [REFUSED]
    assert not _logged_in(client)

    # The lock expires; one more wrong password locks again, for twice as long.
    _set_locked_until(store, user_id, now_stamp(-1))
    assert login(client, "rita.recruiter", "wrong password!!").status_code == 401
    second_lock = from_stamp(_user_row(store, user_id)["locked_until"]) - utcnow()
    assert second_lock > timedelta(seconds=FIRST_LOCK_S + 30)
    assert login(client, "rita.recruiter").status_code == 401

    # After that lock expires too, the right password works and resets the count.
    _set_locked_until(store, user_id, now_stamp(-1))
    assert login(client, "rita.recruiter").status_code == 302
    assert _logged_in(client)
    row = _user_row(store, user_id)
    assert row["failed_logins"] == 0
    assert row["locked_until"] is None


# --- the session cookie ---------------------------------------------------------------------------


def _session_cookie(reply: Any) -> str:
    cookies = [c for c in reply.headers.getlist("Set-Cookie") if c.startswith("appliance_session=")]
    assert cookies, reply.headers
    return str(cookies[-1])


def test_session_cookie_is_httponly_and_samesite_strict(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    cookie = _session_cookie(login(app.test_client(), "rita.recruiter"))
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # the `web` fixture turns cookie_secure off


def test_session_cookie_is_secure_when_configured(appliance: Appliance, store: Store) -> None:
    from webui import create_app

    config = appliance.config.model_copy(
        update={"web": appliance.config.web.model_copy(update={"cookie_secure": True})}
    )
    app = create_app(config, store)
    app.config.update(TESTING=True)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    https = "https://localhost"
    page = client.get("/login", base_url=https)
    assert "; Secure" in _session_cookie(page)
    reply = client.post(
        "/login",
        base_url=https,
        data={
            "username": "rita.recruiter",
            "password": USER_PASSWORD,
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert reply.status_code == 302
    cookie = _session_cookie(reply)
    assert "; Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


# --- session timeouts -----------------------------------------------------------------------------


def test_idle_session_ends(web: Web, appliance: Appliance) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    login(client, "rita.recruiter")
    assert _logged_in(client)
    idle = timedelta(minutes=appliance.config.web.session_idle_minutes)
    with client.session_transaction() as session:
        session["seen"] = to_stamp(utcnow() - idle + timedelta(minutes=1))
    assert _logged_in(client)  # just within the limit, and the request renews it
    with client.session_transaction() as session:
        session["seen"] = to_stamp(utcnow() - idle - timedelta(minutes=1))
    reply = client.get("/account")
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/login")
    assert not _logged_in(client)


def test_absolute_session_limit_ends_an_active_session(web: Web, appliance: Appliance) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    login(client, "rita.recruiter")
    limit = timedelta(hours=appliance.config.web.session_absolute_hours)
    with client.session_transaction() as session:
        session["started"] = to_stamp(utcnow() - limit - timedelta(minutes=1))
        session["seen"] = now_stamp()  # active a moment ago
    reply = client.get("/account")
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/login")


def test_api_clients_get_a_json_401_without_a_session(web: Web) -> None:
    app, _ = web
    reply = app.test_client().get("/account", headers={"Accept": "application/json"})
    assert reply.status_code == 401
    assert reply.get_json()["error"]["code"] == "unauthorized"


# --- sessions that end because the account changed ------------------------------------------------


def test_changing_the_password_ends_other_sessions(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "rita.recruiter")
    login(elsewhere, "rita.recruiter")
    assert _logged_in(here) and _logged_in(elsewhere)
    reply = here.post(
        "/account",
        data={
            "form": "password",
            "current_password": USER_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
            "csrf_token": _token(here),
        },
        follow_redirects=True,
    )
    assert "Your password was changed." in _flashes(reply.get_data(as_text=True))
    assert _logged_in(here)
    assert not _logged_in(elsewhere)
    assert login(app.test_client(), "rita.recruiter").status_code == 401
    assert login(app.test_client(), "rita.recruiter", NEW_PASSWORD).status_code == 302


def test_a_deactivated_users_session_ends(web: Web) -> None:
    app, store = web
    user_id = make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    login(client, "rita.recruiter")
    assert _logged_in(client)
    user = store.users.get(user_id)
    with store.transaction():
        store.conn.execute("UPDATE users SET active = 0 WHERE id = ?", (user.id,))
    assert not _logged_in(client)
    # Even reactivated, the old session stays gone: the cookie was cleared.
    with store.transaction():
        store.conn.execute("UPDATE users SET active = 1 WHERE id = ?", (user.id,))
    assert not _logged_in(client)


# --- CSRF -----------------------------------------------------------------------------------------


def test_post_without_csrf_token_is_refused_as_html(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    login(client, "rita.recruiter")
    reply = client.post("/logout")
    assert reply.status_code == 400
    assert 'data-code="csrf_failed"' in reply.get_data(as_text=True)
    assert _logged_in(client)  # the POST did nothing


def test_post_without_csrf_token_is_refused_as_json(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    login(client, "rita.recruiter")
    reply = client.post(
        "/account",
        data={"form": "preferences", "language": "zh_CN", "timezone": "Asia/Shanghai"},
        headers={"Accept": "application/json"},
    )
    assert reply.status_code == 400
    assert reply.get_json()["error"]["code"] == "csrf_failed"
    assert store.users.by_username("rita.recruiter").language == "en"  # type: ignore[union-attr]


def test_login_without_csrf_token_is_refused(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    client.get("/login")
    reply = client.post("/login", data={"username": "rita.recruiter", "password": USER_PASSWORD})
    assert reply.status_code == 400
    assert not _logged_in(client)


def test_a_wrong_csrf_token_is_refused(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    login(client, "rita.recruiter")
    other = app.test_client()
    login(other, "rita.recruiter")
    reply = client.post("/logout", data={"csrf_token": _token(other)})
    assert reply.status_code == 400


# --- redirects after login ------------------------------------------------------------------------


def _login_with_next(client: FlaskClient, target: str) -> Any:
    page = client.get("/login", query_string={"next": target})
    return client.post(
        "/login",
        data={
            "username": "rita.recruiter",
            "password": USER_PASSWORD,
            "next": target,
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )


@pytest.mark.parametrize(
    "target", ["/account", "/candidates?job=3&status=planned", "/reports/5#scores", "/a%20b"]
)
def test_local_paths_are_kept_as_they_are(target: str) -> None:
    assert safe_local_path(target) == target


def test_login_follows_a_local_next(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    reply = _login_with_next(app.test_client(), "/account")
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/account"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "//evil.example/x",
        "/\t/evil.example/",  # browsers drop the tab: //evil.example/
        "/\n/evil.example/",  # would split the header
        "/\r\n/evil.example/",
        "/ /evil.example/",
        "/%2F/evil.example/",  # //evil.example once decoded
        "/%5Cevil.example",  # a backslash once decoded
        "/%09/evil.example/",  # a tab once decoded
        "///evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_login_refuses_an_open_redirect(web: Web, target: str) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    reply = _login_with_next(app.test_client(), target)
    assert reply.status_code == 302
    assert "evil" not in reply.headers["Location"]
    assert reply.headers["Location"] == "/"


def test_logout_ends_the_session(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    login(client, "rita.recruiter")
    reply = client.post("/logout", data={"csrf_token": _token(client)})
    assert reply.status_code == 302
    assert not _logged_in(client)
