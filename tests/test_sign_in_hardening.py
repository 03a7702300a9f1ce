"""Signing in through the real web UI: no account enumeration, the per-address limit, and the
first administrator's forced password change (issue 18)."""

# The Chinese message is quoted with its own punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.accounts import auth
from appliance.accounts.auth import issue_api_token
from appliance.platform.clock import now_stamp
from appliance.store import Store
from tests.conftest import USER_PASSWORD, Appliance, csrf_token_from, login, make_user
from tests.support.sign_in import CountingHasher, all_at_once

Web = tuple[Flask, Store]
ADMIN_PASSWORD = "admin-password-for-tests"  # what tests/conftest.py provisions with
NEW_ADMIN_PASSWORD = "the admin's own long passphrase 7"
_CSRF_VALUES = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")[^"]+')
REFUSED = (
    "The user name or password is not right, or signing in is paused for a while after "
    "repeated failures."
)


def _flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+"[^>]*>([^<]*)</p>', html)


def _timed_login(client: FlaskClient, username: str, password: str) -> tuple[float, Any]:
    """One sign-in POST (its form fetched first, outside the time)."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    started = time.perf_counter()
    reply = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    return time.perf_counter() - started, reply


def _app_with(appliance: Appliance, store: Store, **web: Any) -> Flask:
    from webui import create_app

    config = appliance.config.model_copy(
        update={"web": appliance.config.web.model_copy(update=web)}
    )
    app = create_app(config, store)
    app.config.update(TESTING=True, SESSION_COOKIE_SECURE=False)
    return app


# --- racing guesses --------------------------------------------------------------------------


def test_sixteen_guesses_at_once_check_no_more_passwords_than_the_lockout_allows(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = web
    user_id = make_user(store, "rita.recruiter", "recruiter")
    hasher = CountingHasher()
    monkeypatch.setattr(auth, "_HASHER", hasher)
    answers: list[tuple[int, tuple[str, ...]]] = []

    def guesser(n: int) -> Callable[[Callable[[], object]], None]:
        def guess(go: Callable[[], object]) -> None:
            client = app.test_client()  # its own session, form and CSRF token
            token = csrf_token_from(client.get("/login").get_data(as_text=True))
            go()
            try:
                reply = client.post(
                    "/login",
                    data={
                        "username": "rita.recruiter",
                        "password": f"wrong guess number {n}",
                        "csrf_token": token,
                    },
                )
                answers.append((reply.status_code, tuple(_flashes(reply.get_data(as_text=True)))))
            finally:
                store.close()  # this thread's connection

        return guess

    all_at_once([guesser(n) for n in range(16)])
    # Each attempt was counted before its hash: five were checked, the rest met the lock.
    assert hasher.checked == auth.LOCK_AFTER_FAILURES
    assert answers == [(401, (REFUSED,))] * 16
    user = store.users.get(user_id)
    assert user.failed_logins == auth.LOCK_AFTER_FAILURES and user.locked_until is not None
    assert login(app.test_client(), "rita.recruiter").status_code == 401  # locked: even this
    assert hasher.checked == auth.LOCK_AFTER_FAILURES


# --- no enumeration ---------------------------------------------------------------------------


def test_an_unknown_name_a_locked_account_and_a_wrong_password_look_alike(web: Web) -> None:
    app, store = web
    locked_id = make_user(store, "rita.recruiter", "recruiter")
    wrong_id = make_user(store, "bob.recruiter", "recruiter")
    with store.transaction():
        store.conn.execute(
            "UPDATE users SET locked_until = ? WHERE id = ?", (now_stamp(600), locked_id)
        )
    client = app.test_client()
    # The locked account is given its right password: still nothing tells it exists.
    tries = {
        "unknown": ("nobody.here", USER_PASSWORD),
        "locked": ("rita.recruiter", USER_PASSWORD),
        "wrong": ("bob.recruiter", "not the password at all"),
    }
    times: dict[str, list[float]] = {kind: [] for kind in tries}
    pages: dict[str, set[tuple[int, str]]] = {kind: set() for kind in tries}
    for _ in range(5):
        with store.transaction():  # the wrong password never reaches bob's lockout
            store.conn.execute("UPDATE users SET failed_logins = 0 WHERE id = ?", (wrong_id,))
        for kind, (username, password) in tries.items():
            elapsed, reply = _timed_login(client, username, password)
            times[kind].append(elapsed)
            page = _CSRF_VALUES.sub(r"\1-", reply.get_data(as_text=True))
            pages[kind].add((reply.status_code, page))
    # The same status and the very same page, byte for byte (but the CSRF token).
    assert pages["unknown"] == pages["locked"] == pages["wrong"] and len(pages["unknown"]) == 1
    ((status, page),) = pages["unknown"]
    assert status == 401
    assert _flashes(page) == [REFUSED]
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    # Each pays one password hash (a locked account used to answer at once, about 100 times
    # faster than an unknown name): a generous factor, so a busy machine does not fail this.
    unknown = medians["unknown"]
    assert unknown / 3 < medians["locked"] < unknown * 3, medians
    assert unknown / 3 < medians["wrong"] < unknown * 3, medians


def test_one_address_is_stopped_at_its_limit_and_another_is_not(
    appliance: Appliance, store: Store
) -> None:
    app = _app_with(appliance, store, login_attempts_per_address=3)
    make_user(store, "rita.recruiter", "recruiter")
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    for name in ("ann.one", "bob.two", "rita.recruiter"):  # unknown names count as well
        assert login(guesser, name, "some wrong password").status_code == 401
    refused = login(guesser, "rita.recruiter")  # the right password, from that address
    assert refused.status_code == 401
    assert store.audit.entries(action="login.throttled")
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.20"
    assert login(other, "rita.recruiter").status_code == 302


# --- the first administrator's password -------------------------------------------------------


def test_the_first_administrator_must_set_a_new_password_before_anything_else(
    web: Web,
) -> None:
    app, store = web
    admin = store.users.by_username("admin")
    assert admin is not None and admin.must_change_password  # set by provisioning
    client = app.test_client()
    signed_in = login(client, "admin", ADMIN_PASSWORD)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == "/account/new-password"

    # Every other page leads back to the form; JSON asks plainly; no menu is offered.
    for path in ("/", "/candidates", "/admin/users", "/account"):
        reply = client.get(path)
        assert reply.status_code == 302, path
        assert reply.headers["Location"] == "/account/new-password", path
    api = client.get("/api/v1/me")
    assert api.status_code == 403
    assert api.get_json()["error"]["code"] == "password_change_required"
    page = client.get("/account/new-password").get_data(as_text=True)
    assert "Set a new password" in page and 'href="/candidates"' not in page
    token = csrf_token_from(page)

    def change(new: str, current: str = ADMIN_PASSWORD) -> Any:
        return client.post(
            "/account/new-password",
            data={
                "csrf_token": token,
                "current_password": current,
                "new_password": new,
                "confirm_password": new,
            },
        )

    common = change("password1234")
    assert common.status_code == 422
    assert _flashes(common.get_data(as_text=True)) == [
        "That is a commonly used password, one of the first a guesser tries: choose another."
    ]
    wrong = change(NEW_ADMIN_PASSWORD, current="not the password it was")
    assert _flashes(wrong.get_data(as_text=True)) == ["The current password is not right."]
    assert store.users.get(admin.id).must_change_password

    done = change(NEW_ADMIN_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert not store.users.get(admin.id).must_change_password
    assert client.get("/").status_code == 200
    assert client.get("/candidates").status_code == 200
    assert client.get("/account/new-password").headers["Location"] == "/account"
    assert login(app.test_client(), "admin", NEW_ADMIN_PASSWORD).headers["Location"] == "/"


def test_logging_out_stays_open_and_api_tokens_are_not_held_back(web: Web) -> None:
    app, store = web
    client = app.test_client()
    login(client, "admin", ADMIN_PASSWORD)
    token = csrf_token_from(client.get("/account/new-password").get_data(as_text=True))
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 302 and out.headers["Location"] == "/login"

    service_id = make_user(store, "svc.sync", "service", regions=["*"])
    with store.transaction():
        store.conn.execute("UPDATE users SET must_change_password = 1 WHERE id = ?", (service_id,))
    secret = issue_api_token(store, 1, service_id, "sync").secret
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.get_json()["username"] == "svc.sync"


def test_the_account_page_refuses_a_common_password_in_the_users_language(web: Web) -> None:
    app, store = web
    user_id = make_user(store, "li.recruiter", "recruiter")
    with store.transaction():
        store.users.set_preferences(user_id, language="zh_CN", timezone="Asia/Shanghai")
    client = app.test_client()
    login(client, "li.recruiter")
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    reply = client.post(
        "/account",
        data={
            "csrf_token": token,
            "form": "password",
            "current_password": USER_PASSWORD,
            "new_password": "Password1234",
            "confirm_password": "Password1234",
        },
        follow_redirects=True,
    )
    assert "这是一个常用密码，猜测者最先尝试的密码之一：请另选一个。" in _flashes(
        reply.get_data(as_text=True)
    )
    assert login(app.test_client(), "li.recruiter").status_code == 302  # still the old one
