"""Administration pages through the real web UI: accounts, passwords, API tokens, settings."""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any
from zoneinfo import available_timezones

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.accounts.auth import AuthenticationError, authenticate_token
from appliance.store import Store
from tests.conftest import Appliance, csrf_token_from, login, make_user

Web = tuple[Flask, Store]
NEW_PASSWORD = "fresh password for new user"
TOKEN = re.compile(r"iat_[A-Za-z0-9_\-]{20,}")


def _flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-\w+"[^>]*>([^<]*)</p>', html)


def _errors(reply: Any) -> list[str]:
    return re.findall(
        r'<p class="flash flash-error"[^>]*>([^<]*)</p>', reply.get_data(as_text=True)
    )


def _token(client: FlaskClient, path: str = "/admin/users") -> str:
    return csrf_token_from(client.get(path).get_data(as_text=True))


def _post(client: FlaskClient, path: str, data: dict[str, str], **kwargs: Any) -> Any:
    return client.post(path, data={**data, "csrf_token": _token(client)}, **kwargs)


@pytest.fixture
def admin(web: Web) -> tuple[FlaskClient, int]:
    """A logged-in HR administrator: (client, their user id)."""
    app, store = web
    admin_id = make_user(store, "hana.admin", "hr_admin", regions=["*"], departments=["*"])
    client = app.test_client()
    assert login(client, "hana.admin").status_code == 302
    return client, admin_id


NEW_USER = {
    "username": "ivan.interviewer",
    "display_name": "Ivan Interviewer",
    "email": "ivan@example.invalid",
    "role": "interviewer",
    "departments": "Engineering, Sales ,Engineering,",
    "regions": "EU, CN",
    "password": NEW_PASSWORD,
    "confirm_password": NEW_PASSWORD,
    "active": "on",
}


def _details(user_id: int, store: Store, **changes: str) -> dict[str, str]:
    """The edit form as the page would post it, with changes."""
    user = store.users.get(user_id)
    form = {
        "form": "details",
        "display_name": user.display_name,
        "email": user.email or "",
        "role": user.role,
        "departments": ", ".join(user.departments),
        "regions": ", ".join(user.regions),
        "active": "on" if user.active else "",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value != ""}


# --- accounts -------------------------------------------------------------------------------------


def test_admin_creates_a_user(web: Web, admin: tuple[FlaskClient, int]) -> None:
    app, store = web
    client, admin_id = admin
    reply = _post(client, "/admin/users/new", NEW_USER)
    assert reply.status_code == 302
    user = store.users.by_username("ivan.interviewer")
    assert user is not None
    assert reply.headers["Location"] == f"/admin/users/{user.id}"
    assert user.role == "interviewer"
    assert user.display_name == "Ivan Interviewer"
    assert user.email == "ivan@example.invalid"
    assert user.departments == ["Engineering", "Sales"]
    assert user.regions == ["EU", "CN"]
    assert user.active
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert NEW_PASSWORD not in user.password_hash

    created = store.audit.entries(action="user.created")
    assert [(e.actor, e.subject) for e in created] == [(f"user:{admin_id}", f"user:{user.id}")]
    assert "ivan" not in str(created[0].details).lower()  # ids and roles only, never names

    listing = client.get("/admin/users").get_data(as_text=True)
    assert "ivan.interviewer" in listing and "Engineering, Sales" in listing
    assert login(app.test_client(), "ivan.interviewer", NEW_PASSWORD).status_code == 302


def test_wildcard_scope_means_all(web: Web, admin: tuple[FlaskClient, int]) -> None:
    _, store = web
    client, _ = admin
    _post(client, "/admin/users/new", {**NEW_USER, "departments": "Sales, *", "regions": "*"})
    user = store.users.by_username("ivan.interviewer")
    assert user is not None
    assert user.departments == ["*"] and user.regions == ["*"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "hana.admin"}, "The user name hana.admin is already taken."),
        ({"username": "a b"}, "A user name has 2 to 64 characters"),
        ({"display_name": "  "}, "Enter a display name."),
        ({"email": "not-an-address"}, "The e-mail address is not valid."),
        ({"role": "superuser"}, "Choose a role from the list."),
        ({"regions": "EU, Atlantis"}, "Unknown region(s): Atlantis."),
        ({"password": "short", "confirm_password": "short"}, "does not meet the policy"),
        ({"password": "", "confirm_password": ""}, "does not meet the policy"),
        (
            {"password": "password1234", "confirm_password": "password1234"},
            "That is a commonly used password",
        ),
        ({"confirm_password": "something else entirely"}, "The two new passwords differ."),
    ],
)
def test_invalid_new_users_are_refused_with_a_clear_message(
    web: Web, admin: tuple[FlaskClient, int], changes: dict[str, str], message: str
) -> None:
    _, store = web
    client, _ = admin
    before = store.users.count()
    reply = _post(client, "/admin/users/new", {**NEW_USER, **changes})
    assert reply.status_code == 422
    errors = _errors(reply)
    assert len(errors) == 1 and message in errors[0].replace("&#39;", "'"), errors
    assert store.users.count() == before
    assert not store.audit.entries(action="user.created")
    # The form keeps what was typed, except the password.
    html = reply.get_data(as_text=True)
    assert 'value="Engineering, Sales ,Engineering,"' in html
    assert NEW_PASSWORD not in html


def test_admin_edits_role_and_regions(web: Web, admin: tuple[FlaskClient, int]) -> None:
    app, store = web
    client, admin_id = admin
    user_id = make_user(store, "rita.recruiter", "recruiter", regions=["EU"])
    rita = app.test_client()
    login(rita, "rita.recruiter")
    assert rita.get("/account").status_code == 200

    page = client.get(f"/admin/users/{user_id}")
    assert page.status_code == 200 and "rita.recruiter" in page.get_data(as_text=True)
    reply = _post(
        client,
        f"/admin/users/{user_id}",
        _details(user_id, store, role="business_lead", regions="EU, US-NYC", departments="Sales"),
    )
    assert reply.status_code == 302
    user = store.users.get(user_id)
    assert (user.role, user.regions, user.departments) == (
        "business_lead",
        ["EU", "US-NYC"],
        ["Sales"],
    )
    updated = store.audit.entries(action="user.updated")
    assert updated[-1].actor == f"user:{admin_id}" and updated[-1].subject == f"user:{user_id}"
    assert updated[-1].details["role"] == {"from": "recruiter", "to": "business_lead"}
    assert set(updated[-1].details["changed"]) == {"role", "regions", "departments"}
    # A change of role or scope ends the account's sessions.
    assert rita.get("/account").status_code == 302


def test_admin_deactivates_and_reactivates_a_user(web: Web, admin: tuple[FlaskClient, int]) -> None:
    app, store = web
    client, _ = admin
    user_id = make_user(store, "rita.recruiter", "recruiter")
    _post(client, f"/admin/users/{user_id}", _details(user_id, store, active=""))
    assert not store.users.get(user_id).active
    assert store.audit.entries(action="user.updated")[-1].details["active"] is False
    assert login(app.test_client(), "rita.recruiter").status_code == 401
    _post(client, f"/admin/users/{user_id}", _details(user_id, store, active="on"))
    assert store.users.get(user_id).active
    assert login(app.test_client(), "rita.recruiter").status_code == 302


def test_an_unchanged_form_changes_nothing(web: Web, admin: tuple[FlaskClient, int]) -> None:
    app, store = web
    client, _ = admin
    user_id = make_user(store, "rita.recruiter", "recruiter", regions=["EU"])
    rita = app.test_client()
    login(rita, "rita.recruiter")
    assert _post(client, f"/admin/users/{user_id}", _details(user_id, store)).status_code == 302
    assert not store.audit.entries(action="user.updated")
    assert rita.get("/account").status_code == 200


def test_admin_cannot_deactivate_or_demote_themselves(
    web: Web, admin: tuple[FlaskClient, int]
) -> None:
    _, store = web
    client, admin_id = admin
    own = f"/admin/users/{admin_id}"
    reply = _post(client, own, _details(admin_id, store, active=""))
    assert reply.status_code == 422
    assert _errors(reply) == ["You cannot deactivate your own account."]
    reply = _post(client, own, _details(admin_id, store, role="recruiter"))
    assert reply.status_code == 422
    assert _errors(reply) == ["You cannot change your own role."]
    me = store.users.get(admin_id)
    assert me.active and me.role == "hr_admin"
    assert not store.audit.entries(action="user.updated")
    # The page does not even offer it.
    html = client.get(own).get_data(as_text=True)
    assert 'name="role" value="hr_admin"' in html and '<select id="role"' not in html
    # Other changes to one's own account are fine, and the session goes on (from the login).
    with client.session_transaction() as session:
        started = session["started"]
    assert _post(client, own, _details(admin_id, store, regions="EU")).status_code == 302
    with client.session_transaction() as session:
        assert session["started"] == started
        assert session["epoch"] == store.users.get(admin_id).session_epoch
    assert store.users.get(admin_id).regions == ["EU"]
    assert client.get("/admin/users").status_code == 200


def test_nobody_widens_their_own_scope_or_gives_more_than_they_have(web: Web) -> None:
    app, store = web
    eu_admin = make_user(store, "eva.admin", "hr_admin", regions=["EU"], departments=["Sales"])
    client = app.test_client()
    assert login(client, "eva.admin").status_code == 302
    own = f"/admin/users/{eu_admin}"
    for changes in ({"regions": "*"}, {"regions": "EU, CN"}, {"departments": "*"}):
        reply = _post(client, own, _details(eu_admin, store, **changes))
        assert reply.status_code == 422, changes
        assert _errors(reply)[0].startswith("You can only give departments and regions")
    me = store.users.get(eu_admin)
    assert (me.regions, me.departments) == (["EU"], ["Sales"])
    # Nor to someone else: a new account or an edit can only give what she has herself.
    reply = _post(client, "/admin/users/new", {**NEW_USER, "regions": "CN", "departments": "Sales"})
    assert reply.status_code == 422 and store.users.by_username("ivan.interviewer") is None
    created = _post(client, "/admin/users/new", {**NEW_USER, "regions": "EU", "departments": ""})
    assert created.status_code == 302
    ivan = store.users.by_username("ivan.interviewer")
    assert ivan is not None
    reply = _post(client, f"/admin/users/{ivan.id}", _details(ivan.id, store, regions="EU, US-IL"))
    assert reply.status_code == 422
    assert store.users.get(ivan.id).regions == ["EU"]
    assert not store.audit.entries(action="user.updated")
    # Narrowing needs no right: taking a region away is fine.
    assert _post(client, own, _details(eu_admin, store, departments="")).status_code == 302
    assert store.users.get(eu_admin).departments == []


def test_admin_sets_a_new_password(web: Web, admin: tuple[FlaskClient, int]) -> None:
    app, store = web
    client, admin_id = admin
    user_id = make_user(store, "rita.recruiter", "recruiter")
    rita = app.test_client()
    login(rita, "rita.recruiter")
    form = {"form": "password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert _post(client, f"/admin/users/{user_id}", form).status_code == 302
    assert rita.get("/account").status_code == 302  # her session ended
    assert login(app.test_client(), "rita.recruiter").status_code == 401
    assert login(app.test_client(), "rita.recruiter", NEW_PASSWORD).status_code == 302
    entry = store.audit.entries(action="password.set")[-1]
    assert (entry.actor, entry.subject) == (f"user:{admin_id}", f"user:{user_id}")

    weak = {
        "form": "password",
        "new_password": "aaaaaaaaaaaaaa",
        "confirm_password": "aaaaaaaaaaaaaa",
    }
    reply = _post(client, f"/admin/users/{user_id}", weak)
    assert reply.status_code == 422 and "does not meet the policy" in _errors(reply)[0]
    assert login(app.test_client(), "rita.recruiter", NEW_PASSWORD).status_code == 302


def test_setting_a_password_unlocks_a_locked_account(
    web: Web, admin: tuple[FlaskClient, int]
) -> None:
    app, store = web
    client, _ = admin
    user_id = make_user(store, "rita.recruiter", "recruiter")
    for _ in range(5):
        login(app.test_client(), "rita.recruiter", "wrong password!!")
    assert "Locked after failed logins" in client.get(f"/admin/users/{user_id}").get_data(
        as_text=True
    )
    form = {"form": "password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    _post(client, f"/admin/users/{user_id}", form)
    assert login(app.test_client(), "rita.recruiter", NEW_PASSWORD).status_code == 302


def test_an_unknown_user_is_404(admin: tuple[FlaskClient, int]) -> None:
    client, _ = admin
    assert client.get("/admin/users/9999").status_code == 404


# --- who may --------------------------------------------------------------------------------------


def _admin_urls(app: Flask, user_id: int, token_id: int) -> list[tuple[str, str]]:
    """(method, url) of every /admin route, with real ids filled in."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        url = rule.rule.replace("<int:user_id>", str(user_id)).replace(
            "<int:token_id>", str(token_id)
        )
        found.extend(
            (method, url) for method in sorted(rule.methods or ()) if method in {"GET", "POST"}
        )
    return found


@pytest.mark.parametrize(
    "role", ["recruiter", "interviewer", "business_lead", "tech_expert", "auditor"]
)
def test_other_roles_get_403_on_every_admin_route(web: Web, role: str) -> None:
    app, store = web
    make_user(store, "not.admin", role, regions=["*"], departments=["*"])
    service_id = make_user(store, "svc.ingest", "service")
    from appliance.accounts.auth import issue_api_token

    token = issue_api_token(store, service_id, service_id, "ingest")
    client = app.test_client()
    login(client, "not.admin")
    csrf = _token(client, "/account")
    urls = _admin_urls(app, service_id, token.id)
    assert len(urls) >= 8
    for method, url in urls:
        if method == "GET":
            reply = client.get(url)
        else:
            reply = client.post(url, data={**NEW_USER, "name": "x", "csrf_token": csrf})
        assert reply.status_code == 403, (method, url, reply.status_code)
    assert store.users.by_username("ivan.interviewer") is None
    assert authenticate_token(store, token.secret).id == service_id
    assert len(store.api_tokens.for_user(service_id)) == 1
    # Nor does the menu offer the pages.
    menu = client.get("/account").get_data(as_text=True)
    assert "/admin/users" not in menu and "/admin/settings" not in menu


def test_admin_routes_need_a_login(web: Web) -> None:
    app, store = web
    user_id = make_user(store, "svc.ingest", "service")
    client = app.test_client()
    for method, url in _admin_urls(app, user_id, 1):
        reply = client.get(url) if method == "GET" else client.post(url)
        assert reply.status_code in (302, 400), (method, url)  # login page, or CSRF first
        if reply.status_code == 302:
            assert reply.headers["Location"].startswith("/login")


# --- API tokens -----------------------------------------------------------------------------------


def test_api_token_is_shown_once_and_can_be_revoked(
    web: Web, admin: tuple[FlaskClient, int]
) -> None:
    _, store = web
    client, admin_id = admin
    service_id = make_user(store, "svc.ingest", "service")
    page = client.get(f"/admin/users/{service_id}").get_data(as_text=True)
    assert "Issue token" in page

    reply = _post(
        client, f"/admin/users/{service_id}/tokens", {"name": "ATS sync", "valid_days": "30"}
    )
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "no-store"
    secrets_shown = TOKEN.findall(reply.get_data(as_text=True))
    assert len(set(secrets_shown)) == 1
    secret = secrets_shown[0]
    assert authenticate_token(store, secret).id == service_id
    entry = store.audit.entries(action="api_token.issued")[-1]
    assert (entry.actor, entry.subject) == (f"user:{admin_id}", f"user:{service_id}")
    assert secret not in str(entry.details)

    # Never again: not on the account page, not in the store.
    page = client.get(f"/admin/users/{service_id}").get_data(as_text=True)
    assert secret not in page and not TOKEN.search(page)
    assert "ATS sync" in page
    dump = "\n".join(str(tuple(row)) for row in store.conn.execute("SELECT * FROM api_tokens"))
    assert secret not in dump

    (record,) = store.api_tokens.for_user(service_id)
    reply = _post(client, f"/admin/users/{service_id}/tokens/{record.id}/revoke", {})
    assert reply.status_code == 302
    with pytest.raises(AuthenticationError):
        authenticate_token(store, secret)
    revoked = store.audit.entries(action="api_token.revoked")
    assert [(e.actor, e.subject, e.details) for e in revoked] == [
        (f"user:{admin_id}", f"user:{service_id}", {"token": record.id})
    ]
    assert "revoked" in client.get(f"/admin/users/{service_id}").get_data(as_text=True)


def test_tokens_only_for_service_accounts(web: Web, admin: tuple[FlaskClient, int]) -> None:
    _, store = web
    client, _ = admin
    user_id = make_user(store, "rita.recruiter", "recruiter")
    reply = _post(client, f"/admin/users/{user_id}/tokens", {"name": "sneaky"})
    assert reply.status_code == 422
    assert _errors(reply) == ["API tokens can only be issued to service accounts."]
    assert not TOKEN.search(reply.get_data(as_text=True))
    assert store.api_tokens.for_user(user_id) == []


def test_token_needs_a_name_and_sane_validity(web: Web, admin: tuple[FlaskClient, int]) -> None:
    _, store = web
    client, _ = admin
    service_id = make_user(store, "svc.ingest", "service")
    url = f"/admin/users/{service_id}/tokens"
    assert _post(client, url, {"name": " "}).status_code == 422
    assert _post(client, url, {"name": "x", "valid_days": "0"}).status_code == 422
    assert _post(client, url, {"name": "x", "valid_days": "soon"}).status_code == 422
    assert store.api_tokens.for_user(service_id) == []


def test_revoking_another_accounts_token_is_404(web: Web, admin: tuple[FlaskClient, int]) -> None:
    _, store = web
    client, admin_id = admin
    from appliance.accounts.auth import issue_api_token

    first = make_user(store, "svc.one", "service")
    second = make_user(store, "svc.two", "service")
    token = issue_api_token(store, admin_id, first, "one")
    assert _post(client, f"/admin/users/{second}/tokens/{token.id}/revoke", {}).status_code == 404
    assert authenticate_token(store, token.secret).id == first


def test_a_service_account_without_password_cannot_log_in(
    web: Web, admin: tuple[FlaskClient, int]
) -> None:
    app, store = web
    client, _ = admin
    form = {
        **NEW_USER,
        "username": "svc.ats",
        "role": "service",
        "password": "",
        "confirm_password": "",
    }
    assert _post(client, "/admin/users/new", form).status_code == 302
    user = store.users.by_username("svc.ats")
    assert user is not None and user.password_hash is None
    assert login(app.test_client(), "svc.ats", "").status_code == 401


# --- settings -------------------------------------------------------------------------------------


def test_settings_page_shows_the_configuration_but_no_key(
    web: Web, appliance: Appliance, admin: tuple[FlaskClient, int]
) -> None:
    client, _ = admin
    reply = client.get("/admin/settings")
    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert f'<strong id="tzdata-version">{importlib.metadata.version("tzdata")}</strong>' in html
    assert f'<strong id="zone-count">{len(available_timezones())}</strong>' in html
    assert "python -m appliance validate-config" in html
    for section in ("[site]", "[web]", "[worker]", "[media]", "[db]"):
        assert section in html
    assert "session_idle_minutes" in html and "busy_timeout_ms" in html
    # Never any key material, nor the key settings.
    keyset = appliance.keyset
    for secret in (keyset.db, keyset.vault):
        assert secret.hex() not in html and secret.hex().upper() not in html
    assert "[keys]" not in html and "scrypt_log2_n" not in html and "passphrase" not in html


def test_settings_menu_link_for_admins(admin: tuple[FlaskClient, int]) -> None:
    client, _ = admin
    html = client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users"' in html and 'href="/admin/settings"' in html
