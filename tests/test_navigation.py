"""The menu grouped by task, each role's home page and the error pages, over a real store with
CSRF on, signing in through the form: for every role of the permission table, `/` and the brand
link answer 200, every menu link answers 200 (never 403), and error pages say in the viewer's
language what went wrong, with a way back and no internal permission name."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.security.permissions import PERMISSIONS, Action
from appliance.store import Store
from webui.error_pages import ACTION_WORDS
from webui.navigation import MENU

from .conftest import login, make_user

Web = tuple[Flask, Store]

GROUPS = ["Hiring", "Interviews", "Scheduling", "Compliance", "Administration"]
# What each role should see and where it should land (written out, not derived from the code).
EXPECTED_GROUPS = {
    "hr_admin": GROUPS,
    "recruiter": ["Hiring", "Interviews", "Scheduling"],
    "interviewer": ["Hiring", "Interviews", "Scheduling"],
    "business_lead": ["Hiring", "Scheduling"],
    "tech_expert": ["Hiring", "Interviews", "Scheduling"],
    "auditor": ["Compliance"],
    "service": ["Hiring"],
}
EXPECTED_HOME = {
    "hr_admin": "/",
    "recruiter": "/",
    "interviewer": "/",
    "business_lead": "/",
    "tech_expert": "/",
    "auditor": "/exports",
    "service": "/candidates",
}
HR_PAGES = {
    "Hiring": ["/", "/jobs", "/candidates", "/analysis", "/analytics", "/outcomes"],
    "Interviews": ["/live"],
    "Scheduling": [
        "/scheduling",
        "/scheduling/availability",
        "/scheduling/outbox",
    ],
    "Compliance": ["/privacy", "/compliance/notices", "/compliance/bias"],
    "Administration": [
        "/admin/users",
        "/admin/settings",
        "/imports",
        "/system/status",
        "/admin/updates",
    ],
}


def _signed_in(app: Flask, store: Store, role: str, language: str = "en") -> FlaskClient:
    username = f"nav.{role}"
    user_id = make_user(store, username, role, departments=["*"], regions=["*"])
    if language != "en":
        with store.transaction():
            store.users.set_preferences(user_id, language=language, timezone="UTC")
    client = app.test_client()
    reply = login(client, username)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    return client


def _nav(body: str) -> str:
    found = re.search(r'<nav id="nav".*?</nav>', body, re.S)
    return found.group(0) if found else ""


def _groups(body: str) -> dict[str, list[str]]:
    """The menu's groups as shown: name -> the links inside."""
    shown: dict[str, list[str]] = {}
    for name, inside in re.findall(
        r"<summary[^>]*>([^<]+)</summary>\s*<ul[^>]*>(.*?)</ul>", _nav(body), re.S
    ):
        shown[html.unescape(name.strip())] = re.findall(r'<a href="([^"]+)"', inside)
    return shown


def _top_level(body: str) -> int:
    """Entries in the menu's first row: groups, the account link and the log-out button."""
    menu = re.search(r'<ul class="menu">(.*)</ul>\s*</nav>', _nav(body), re.S)
    assert menu is not None
    return len(re.findall(r'<li class="menu-(?:group|account|logout)"', menu.group(1)))


def _brand(body: str) -> str:
    found = re.search(r'<a class="brand" href="([^"]+)"', body)
    assert found is not None
    return found.group(1)


def _text(body: str) -> str:
    """What a person reads: the page without tags, scripts or attributes."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def _get(client: FlaskClient, path: str) -> Any:
    return client.get(path, follow_redirects=True)


# --- every role lands on a page it may see ------------------------------------------------------


def test_every_role_in_the_table_is_covered() -> None:
    assert set(EXPECTED_GROUPS) == set(PERMISSIONS) == set(EXPECTED_HOME)


@pytest.mark.parametrize("role", sorted(PERMISSIONS))
def test_each_role_lands_home_and_every_menu_link_opens(web: Web, role: str) -> None:
    app, store = web
    username = f"nav.{role}"
    make_user(store, username, role, departments=["*"], regions=["*"])
    client = app.test_client()
    signed_in = login(client, username)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == EXPECTED_HOME[role]

    landed = _get(client, signed_in.headers["Location"])
    assert landed.status_code == 200, (role, landed.request.path)
    home = _get(client, "/")
    assert home.status_code == 200 and home.request.path == EXPECTED_HOME[role]
    body = home.get_data(as_text=True)
    assert _brand(body) == EXPECTED_HOME[role]
    brand = _get(client, _brand(body))
    assert brand.status_code == 200 and brand.request.path == EXPECTED_HOME[role]

    groups = _groups(body)
    assert list(groups) == EXPECTED_GROUPS[role]
    links = re.findall(r'<a [^>]*href="([^"]+)"', _nav(body))
    assert links, role
    for link in links:
        reply = client.get(link)
        assert reply.status_code == 200, (role, link, reply.status_code)
    # The log-out button works for every role (service accounts included).
    token = re.search(r'name="csrf_token" value="([^"]+)"', _nav(body))
    assert token is not None
    left = client.post("/logout", data={"csrf_token": token.group(1)})
    assert left.status_code == 302 and left.headers["Location"] == "/login"


def test_hr_sees_five_groups_instead_of_nineteen_links(web: Web) -> None:
    app, store = web
    client = _signed_in(app, store, "hr_admin")
    body = client.get("/").get_data(as_text=True)
    assert _groups(body) == HR_PAGES
    # Five task groups, the account and log out: 7 entries in the first row (was 18 + brand).
    assert _top_level(body) == 7
    # Keyboard- and screen-reader-usable without scripts: native disclosures, a labelled nav.
    nav = _nav(body)
    assert nav.count("<details data-menu-group>") == 5
    assert 'aria-label="Main"' in nav
    # The page being shown is marked, and so is its group.
    jobs = client.get("/jobs").get_data(as_text=True)
    assert '<a href="/jobs" aria-current="page">' in jobs
    assert '<summary class="current">Hiring</summary>' in jobs


def test_menu_groups_are_in_chinese_for_a_chinese_user(web: Web) -> None:
    app, store = web
    client = _signed_in(app, store, "hr_admin", language="zh_CN")
    body = client.get("/").get_data(as_text=True)
    assert list(_groups(body)) == ["招聘", "面试", "面试排期", "合规", "系统管理"]
    assert "排期请求" in _nav(body) and "Hiring" not in _nav(body)


def test_no_menu_before_the_initial_password_is_replaced(web: Web) -> None:
    app, store = web
    user_id = make_user(store, "nav.fresh", "recruiter")
    with store.transaction():
        store.conn.execute("UPDATE users SET must_change_password = 1 WHERE id = ?", (user_id,))
    client = app.test_client()
    signed_in = login(client, "nav.fresh")
    assert signed_in.headers["Location"] == "/account/new-password"
    body = client.get("/account/new-password").get_data(as_text=True)
    assert _groups(body) == {}
    assert _brand(body) == "/account/new-password"


def test_interviewers_land_on_their_assignments(web: Web) -> None:
    app, store = web
    for role in ("interviewer", "tech_expert"):
        body = _signed_in(app, store, role).get("/").get_data(as_text=True)
        assigned = body.index("Your assigned interviews")
        assert assigned < body.index("Your account</h2>")
        if "Candidates by interview status" in body:
            assert assigned < body.index("Candidates by interview status")
    # Others keep the overview first.
    body = _signed_in(app, store, "recruiter").get("/").get_data(as_text=True)
    assert "Candidates by interview status" in body


# --- error pages --------------------------------------------------------------------------------


def _assert_no_internal_names(body: str) -> None:
    for action in Action:
        assert action.value not in body, action.value
    text = _text(body)
    for internal in ("not_found", "forbidden", "may not dashboard", "the role "):
        assert internal not in text, internal


def test_every_action_is_said_in_words() -> None:
    assert set(ACTION_WORDS) == set(Action)
    assert all("." not in str(words) for words in ACTION_WORDS.values())
    # Every menu entry names a page that exists.
    assert all(link.endpoint for group in MENU for link in group.links)


def test_not_found_page_offers_a_way_back_in_english(web: Web) -> None:
    app, store = web
    client = _signed_in(app, store, "recruiter")
    reply = client.get("/no-such-page")
    assert reply.status_code == 404
    body = reply.get_data(as_text=True)
    text = " ".join(_text(body).split())
    assert "Page not found" in text
    assert "There is nothing at this address" in text
    assert '<a class="button" href="/" data-way-home>Go to your start page (Dashboard)</a>' in body
    assert "data-history-back" in body and "Back to the previous page" in text
    assert _groups(body)  # the menu is there too
    _assert_no_internal_names(body)
    # A record outside the viewer's scope reads the same: no hint that it exists.
    record = client.get("/candidates/999999")
    assert record.status_code == 404 and "Page not found" in record.get_data(as_text=True)


def test_forbidden_page_says_in_words_what_the_role_may_not_do(web: Web) -> None:
    app, store = web
    client = _signed_in(app, store, "auditor")
    reply = client.get("/candidates")
    assert reply.status_code == 403
    body = reply.get_data(as_text=True)
    text = " ".join(_text(body).split())
    assert "Not allowed" in text
    assert "Your role (Auditor) does not allow you to see candidates." in text
    assert "ask your administrator" in text
    assert 'href="/exports" data-way-home>Go to your start page (Exports)</a>' in body
    assert "Back to the previous page" in text
    _assert_no_internal_names(body)
    # The API keeps its machine-readable answer.
    api = client.get("/candidates", headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert api.get_json()["error"]["code"] == "forbidden"


def test_error_pages_in_chinese(web: Web) -> None:
    app, store = web
    client = _signed_in(app, store, "auditor", language="zh_CN")
    forbidden = client.get("/candidates")
    assert forbidden.status_code == 403
    body = forbidden.get_data(as_text=True)
    text = " ".join(_text(body).split())
    assert '<html lang="zh-CN">' in body
    assert "无权访问" in text
    assert "您的角色（审计员）无权查看候选人。" in text  # noqa: RUF001 - full-width brackets
    assert "前往您的首页（导出）" in text and "返回上一页" in text  # noqa: RUF001
    assert "Not allowed" not in text and "Go to your start page" not in text
    _assert_no_internal_names(body)

    lead = _signed_in(app, store, "business_lead", language="zh_CN")
    missing = lead.get("/no-such-page")
    assert missing.status_code == 404
    body = missing.get_data(as_text=True)
    text = " ".join(_text(body).split())
    assert "找不到页面" in text and "此地址没有内容" in text
    assert "前往您的首页（仪表板）" in text and "返回上一页" in text  # noqa: RUF001
    assert "Page not found" not in text
    _assert_no_internal_names(body)


def test_error_page_for_someone_not_signed_in(web: Web) -> None:
    app, _ = web
    reply = app.test_client().get("/no-such-page", headers={"Accept-Language": "zh-CN"})
    assert reply.status_code == 404
    body = reply.get_data(as_text=True)
    assert "找不到页面" in body
    assert '<a class="button" href="/login" data-way-home>前往登录页面</a>' in body
    assert 'id="nav"' not in body


def test_an_expired_form_says_so(web: Web) -> None:
    app, store = web
    client = _signed_in(app, store, "recruiter")
    reply = client.post("/account", data={"form": "preferences", "csrf_token": "stale"})
    assert reply.status_code == 400
    body = reply.get_data(as_text=True)
    assert 'data-code="csrf_failed"' in body
    assert "This form has expired" in body and "reload the page" in body
    assert "CSRF" not in _text(body)


def test_a_views_own_words_replace_the_stock_not_found_sentence(web: Web) -> None:
    app, _ = web
    reply = app.test_client().get("/schedule/not-a-real-token")
    assert reply.status_code == 404
    text = " ".join(_text(reply.get_data(as_text=True)).split())
    assert "Page not found This scheduling link is not valid or has expired." in text
    assert "There is nothing at this address" not in text
    assert "Go to the sign-in page" in text
