"""Translations: the zh_CN catalog is complete and used, and times follow the viewer's zone."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, render_template_string
from flask.testing import FlaskClient

from appliance.store import Store
from tests.conftest import REPO, csrf_token_from, login, make_user

Web = tuple[Flask, Store]
TRANSLATIONS = REPO / "webui" / "translations"
ZH_PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "said": None}
STAMP = "2099-01-15T12:00:00.000000Z"  # noon UTC, in winter (no daylight saving anywhere north)


def _read_catalog(path: Path) -> Catalog:
    with open(path, "rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogs() -> Iterator[None]:
    """Compile every .po into its .mo (as `make setup` does), so a fresh clone works."""
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        catalog = _read_catalog(po)
        partial = po.with_name(f".messages.mo.{os.getpid()}")
        with open(partial, "wb") as handle:
            write_mo(handle, catalog)
        os.replace(partial, po.with_suffix(".mo"))  # atomic: a running server never reads half
    yield


def _messages(catalog: Catalog) -> list[str]:
    return [m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id]


# --- the catalog ----------------------------------------------------------------------------------


def test_every_message_is_translated() -> None:
    catalog = _read_catalog(ZH_PO)
    assert len(_messages(catalog)) > 100
    untranslated = [
        m.id
        for m in catalog
        if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    ]
    assert untranslated == []
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == []


def test_translations_keep_their_placeholders() -> None:
    catalog = _read_catalog(ZH_PO)
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check() if errors]
    assert problems == []
    # Templates format every message (Jinja's newstyle gettext), with or without variables:
    # a stray % in a translation would break its page.
    named = re.compile(r"%\(([a-z_]+)\)s")
    for message in catalog:
        if not message.id or not isinstance(message.id, str):
            continue
        variables = dict.fromkeys(named.findall(message.id), "x")
        try:
            message.id % variables
        except (ValueError, TypeError, KeyError):
            continue  # the English does not format either: its template's bug, not the catalog's
        str(message.string) % variables
    brace = re.compile(r"\{[a-z_]+\}")
    for message in catalog:
        if message.id and isinstance(message.id, str):
            assert sorted(brace.findall(message.id)) == sorted(
                brace.findall(str(message.string))
            ), message.id


def test_catalog_covers_every_string_of_the_ui() -> None:
    """A string wrapped for translation but missing from the catalog shows in English."""
    with open(REPO / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")
    in_sources = {
        (message if isinstance(message, str) else message[0])
        for _, _, message, _, _ in extract_from_dir(
            str(REPO), method_map, options_map, keywords=KEYWORDS
        )
    }
    missing = sorted(in_sources - set(_messages(_read_catalog(ZH_PO))))
    assert missing == [], "re-extract and translate (commands in babel.cfg)"


# --- pages in the viewer's language ---------------------------------------------------------------


def _set_preferences(store: Store, user_id: int, language: str, timezone: str = "UTC") -> None:
    with store.transaction():
        store.users.set_preferences(user_id, language=language, timezone=timezone)


def test_a_chinese_user_sees_chinese(web: Web) -> None:
    app, store = web
    user_id = make_user(store, "li.recruiter", "recruiter")
    _set_preferences(store, user_id, "zh_CN", "Asia/Shanghai")
    client = app.test_client()
    login(client, "li.recruiter")
    html = client.get("/account").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    for chinese in ("我的账户", "修改密码", "当前密码", "偏好设置", "退出登录", "候选人"):
        assert chinese in html
    for english in ("Your account", "Change password", "Log out"):
        assert english not in html


def test_an_english_user_sees_english_whatever_the_browser_says(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client = app.test_client()
    login(client, "rita.recruiter")
    html = client.get("/account", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Your account" in html and "Change password" in html
    assert "我的账户" not in html


def test_the_login_page_follows_the_browser_language(web: Web) -> None:
    app, _ = web
    client = app.test_client()
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    html = chinese.get_data(as_text=True)
    assert "登录" in html and "用户名" in html and "密码" in html
    assert "User name" not in html
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "User name" in english.get_data(as_text=True)
    fallback = client.get("/login", headers={"Accept-Language": "fr-FR"})
    assert "User name" in fallback.get_data(as_text=True)


def test_flashed_messages_are_translated(web: Web) -> None:
    app, _ = web
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": "zh-CN"})
    reply = client.post(
        "/login",
        data={
            "username": "nobody",
            "password": "wrong password",
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
        headers={"Accept-Language": "zh-CN"},
    )
    assert reply.status_code == 401
    # The translation is quoted with its own (full-width) punctuation.
    refused = "用户名或密码不正确，或因多次失败，登录已暂停一段时间。"  # noqa: RUF001
    assert refused in reply.get_data(as_text=True)


def test_admin_pages_and_their_errors_are_translated(web: Web) -> None:
    app, store = web
    admin_id = make_user(store, "wang.admin", "hr_admin", regions=["*"])
    _set_preferences(store, admin_id, "zh_CN")
    client = app.test_client()
    login(client, "wang.admin")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "新建用户" in html and "人力资源管理员" in html and "锁定至" in html
    reply = client.post(
        "/admin/users/new",
        data={
            "username": "wang.admin",
            "display_name": "Someone Else",
            "role": "recruiter",
            "password": "a long enough password",
            "confirm_password": "a long enough password",
            "csrf_token": csrf_token_from(html),
        },
    )
    assert reply.status_code == 422
    assert "用户名 wang.admin 已被使用。" in reply.get_data(as_text=True)
    settings = client.get("/admin/settings").get_data(as_text=True)
    assert "时区数据库" in settings and "python -m appliance validate-config" in settings


def test_changing_the_language_takes_effect_at_once(web: Web) -> None:
    app, store = web
    make_user(store, "rita.recruiter", "recruiter")
    client: FlaskClient = app.test_client()
    login(client, "rita.recruiter")
    page = client.get("/account").get_data(as_text=True)
    reply = client.post(
        "/account",
        data={
            "form": "preferences",
            "language": "zh_CN",
            "timezone": "Asia/Shanghai",
            "csrf_token": csrf_token_from(page),
        },
        follow_redirects=True,
    )
    html = reply.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "我的账户" in html and "修改密码" in html
    assert "Asia/Shanghai" in html


# --- times in the viewer's time zone --------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Shanghai", "2099-01-15 20:00 CST"),
        ("UTC", "2099-01-15 12:00 UTC"),
        ("Europe/Berlin", "2099-01-15 13:00 CET"),
        ("America/New_York", "2099-01-15 07:00 EST"),
    ],
)
def test_localtime_follows_the_users_zone(web: Web, zone: str, shown: str) -> None:
    app, store = web
    user_id = make_user(store, "rita.recruiter", "recruiter")
    _set_preferences(store, user_id, "en", zone)
    with app.test_request_context("/"):
        g.user = store.users.get(user_id)
        assert render_template_string("{{ stamp | localtime }}", stamp=STAMP) == shown
        assert render_template_string("{{ none | localtime }}", none=None) == "-"


def test_localtime_is_utc_for_anonymous_visitors(web: Web) -> None:
    app, _ = web
    with app.test_request_context("/"):
        assert render_template_string("{{ stamp | localtime }}", stamp=STAMP) == (
            "2099-01-15 12:00 UTC"
        )


def test_pages_show_times_in_the_viewers_zone(web: Web) -> None:
    app, store = web
    admin_id = make_user(store, "wang.admin", "hr_admin", regions=["*"])
    locked_id = make_user(store, "rita.recruiter", "recruiter")
    with store.transaction():
        store.conn.execute("UPDATE users SET locked_until = ? WHERE id = ?", (STAMP, locked_id))
    client = app.test_client()
    login(client, "wang.admin")
    assert "2099-01-15 12:00 UTC" in client.get("/admin/users").get_data(as_text=True)
    _set_preferences(store, admin_id, "zh_CN", "Asia/Shanghai")
    html = client.get("/admin/users").get_data(as_text=True)
    assert "2099-01-15 20:00 CST" in html
    assert "2099-01-15 12:00" not in html


def test_the_cores_refusals_are_said_in_the_readers_language(web: Web) -> None:
    import pickle

    from appliance.platform.words import Said, said

    sentence = said("%(label)s is required", label=said("the title"))
    assert sentence == "the title is required" and isinstance(sentence, str)
    assert isinstance(pickle.loads(pickle.dumps(sentence)), Said)  # noqa: S301 - our own bytes
    app, store = web
    user_id = make_user(store, "li.hr.words", "hr_admin", departments=["*"], regions=["*"])
    _set_preferences(store, user_id, "zh_CN", "Asia/Shanghai")
    client = app.test_client()
    login(client, "li.hr.words")
    form = client.get("/jobs/new").get_data(as_text=True)
    refused = client.post(
        "/jobs/new",
        data={
            "csrf_token": csrf_token_from(form),
            "title": "",
            "department": "Engineering",
            "location": "Berlin",
            "region": "Mars",
            "status": "open",
        },
    )
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "必须填写标题" in text and "请从列表中选择地区" in text
    assert "is required" not in text and "choose a region" not in text
    # The same refusal for an English reader stays English.
    make_user(store, "en.hr.words", "hr_admin", departments=["*"], regions=["*"])
    english = app.test_client()
    login(english, "en.hr.words")
    page = english.post(
        "/jobs/new",
        data={
            "csrf_token": csrf_token_from(english.get("/jobs/new").get_data(as_text=True)),
            "title": "",
            "department": "Engineering",
            "location": "Berlin",
            "region": "EU",
            "status": "open",
        },
    ).get_data(as_text=True)
    assert "the title is required" in page
