"""Sign-in sessions live on the server: signing out, a password change, an administrator's
"sign out everywhere" or a role change end them at once, whatever copies of the cookie exist.
Real app, real encrypted store, the real sign-in form."""

from __future__ import annotations

import hashlib

from appliance.store import Store
from tests.conftest import USER_PASSWORD, csrf_token_from, login, make_user

COOKIE = "appliance_session"
NEW_PASSWORD = "a different long password 7"


def _signed_in(app, username: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    found = client.get_cookie(COOKIE)
    assert found is not None
    return str(found.value)


def _with_cookie(app, value: str):  # type: ignore[no-untyped-def]
    copy = app.test_client()
    copy.set_cookie(COOKIE, value)
    return copy


def _token(client) -> str:  # type: ignore[no-untyped-def]
    return csrf_token_from(client.get("/account").get_data(as_text=True))


def test_a_copied_cookie_dies_with_the_session_it_was_copied_from(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    make_user(store, "sess.rec", "recruiter", departments=["*"], regions=["EU"])
    browser = _signed_in(app, "sess.rec")
    stolen = _cookie(browser)
    assert _with_cookie(app, stolen).get("/api/v1/me").status_code == 200
    other_device = _signed_in(app, "sess.rec")
    reply = browser.post("/logout", data={"csrf_token": _token(browser)})
    assert reply.status_code == 302
    assert _with_cookie(app, stolen).get("/api/v1/me").status_code == 401
    assert browser.get("/api/v1/me").status_code == 401
    # Signing out ends this session only: the other device stays signed in.
    assert other_device.get("/api/v1/me").status_code == 200
    # The database holds no usable session: only hashes of the secrets.
    secrets_stored = [row[0] for row in store.conn.execute("SELECT token_hash FROM web_sessions")]
    assert len(secrets_stored) == 2 and all(len(h) == 64 for h in secrets_stored)


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    make_user(store, "sess.pw", "recruiter", departments=["*"], regions=["EU"])
    here, elsewhere = _signed_in(app, "sess.pw"), _signed_in(app, "sess.pw")
    copied = _cookie(here)
    reply = here.post(
        "/account",
        data={
            "csrf_token": _token(here),
            "form": "password",
            "current_password": USER_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert reply.status_code in (200, 302, 303)
    assert here.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401
    assert _with_cookie(app, copied).get("/api/v1/me").status_code == 401  # the pre-change one


def test_an_administrator_signs_someone_out_everywhere(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    make_user(store, "sess.admin", "hr_admin", departments=["*"], regions=["*"])
    user_id = make_user(store, "sess.victim", "recruiter", departments=["*"], regions=["EU"])
    phone, laptop = _signed_in(app, "sess.victim"), _signed_in(app, "sess.victim")
    admin = _signed_in(app, "sess.admin")
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "2 browsers are signed in to this account." in page
    reply = admin.post(
        f"/admin/users/{user_id}/sessions/end", data={"csrf_token": csrf_token_from(page)}
    )
    assert reply.status_code == 302
    assert phone.get("/api/v1/me").status_code == 401
    assert laptop.get("/api/v1/me").status_code == 401
    assert admin.get("/api/v1/me").status_code == 200
    [entry] = store.audit.entries(action="sessions.ended")
    assert entry.subject == f"user:{user_id}" and entry.details["sessions"] == 2
    # Others may not: a recruiter's attempt is refused and ends nothing.
    again = _signed_in(app, "sess.victim")
    refused = again.post(f"/admin/users/{user_id}/sessions/end", data={"csrf_token": _token(again)})
    assert refused.status_code == 403
    assert again.get("/api/v1/me").status_code == 200


def test_a_role_change_ends_the_sessions_on_the_server(web) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    user_id = make_user(store, "sess.role", "recruiter", departments=["*"], regions=["EU"])
    client = _signed_in(app, "sess.role")
    user = store.users.get(user_id)
    with store.transaction():
        store.users.update(
            user_id,
            display_name=user.display_name,
            email=user.email,
            role="interviewer",
            departments=user.departments,
            regions=user.regions,
            active=True,
        )
    assert client.get("/api/v1/me").status_code == 401
    alive = store.conn.execute(
        "SELECT count(*) FROM web_sessions WHERE user_id = ? AND ended_at IS NULL", (user_id,)
    ).fetchone()[0]
    assert alive == 0


def test_a_forged_session_id_is_refused(web, store: Store) -> None:  # type: ignore[no-untyped-def]
    app, store = web
    make_user(store, "sess.forge", "recruiter", departments=["*"], regions=["EU"])
    client = _signed_in(app, "sess.forge")
    with client.session_transaction() as session:
        real = session["sid"]
        session["sid"] = "x" * len(real)
    assert client.get("/api/v1/me").status_code == 401
    stored = store.conn.execute("SELECT token_hash FROM web_sessions").fetchone()[0]
    assert stored == hashlib.sha256(real.encode()).hexdigest()
