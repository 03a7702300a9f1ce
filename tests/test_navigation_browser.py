"""The grouped menu, the home pages and the error pages in a real browser (Debian chromium via
Playwright) against `python -m appliance serve`: keyboard use, a 390 px phone without sideways
scrolling, visible focus, radio buttons beside their labels. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from appliance.store import Store
from tests.conftest import REPO, USER_PASSWORD, demo_interview, make_appliance, make_user
from tests.support.browser import chromium, require_chromium
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

require_chromium(module=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402 - after the skip above


@dataclass
class Site:
    """A served appliance with two HR admins (one reads Chinese), an auditor, one candidate."""

    base: str
    candidate_id: int
    browser: Browser
    problems: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def page(self, **context: Any) -> Page:
        """A fresh browser context's page that records script errors and CSP violations."""
        opened = self.browser.new_context(**(context or {"viewport": DESKTOP})).new_page()
        opened.set_default_timeout(30_000)
        opened.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

        def on_console(message: Any) -> None:
            if "Content Security Policy" in message.text:
                self.problems.append(f"CSP: {message.text}")

        opened.on("console", on_console)
        return opened


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("navigation")
    appliance = make_appliance(root, web={"cookie_secure": True})
    store: Store = appliance.open_store()
    interview_id = demo_interview(store, name="Nora Navigation")
    candidate_id = store.interviews.get(interview_id).candidate_id
    make_user(store, "hr.admin", "hr_admin", departments=["*"], regions=["*"])
    make_user(store, "audit.eu", "auditor", regions=["EU"])
    zh_id = make_user(store, "li.hr", "hr_admin", departments=["*"], regions=["*"])
    with store.transaction():
        store.users.set_preferences(zh_id, language="zh_CN", timezone="Asia/Shanghai")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with serving(appliance, root) as server, chromium() as browser:
            yield Site(f"http://127.0.0.1:{server.port}", candidate_id, browser)
    finally:
        store.close()


def _log_in(page: Page, site: Site, username: str) -> None:
    page.goto(site.url("/login"))
    page.fill("#username", username)
    page.fill("#password", USER_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def _shot(page: Page, name: str, *, full_page: bool = False) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 1000
    return path


def _focus_ring(page: Page) -> dict[str, str]:
    return dict(
        page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return {style: s.outlineStyle, width: s.outlineWidth}; }"
        )
    )


def _page_width(page: Page) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def test_hr_menu_on_a_desktop_by_keyboard(site: Site) -> None:
    page = site.page()
    _log_in(page, site, "hr.admin")
    page.wait_for_url(site.url("/"))
    groups = page.locator("#nav details[data-menu-group] > summary")
    expect(groups).to_have_text(
        ["Hiring", "Interviews", "Scheduling", "Compliance", "Administration"]
    )
    # Closed, the menu is one row: five groups, the account and log out.
    expect(page.locator("#nav a:visible")).to_have_count(2)  # the bell and the account link
    boxes = [groups.nth(i).bounding_box() for i in range(5)]
    assert all(box is not None for box in boxes)
    assert len({round(box["y"]) for box in boxes if box}) == 1, boxes
    _shot(page, "nav-hr-desktop.png")

    # Keyboard: skip link, brand, then the first group; Enter opens it, Escape closes it.
    for _ in range(3):
        page.keyboard.press("Tab")
    expect(groups.first).to_be_focused()
    assert _focus_ring(page) == {"style": "solid", "width": "3px"}
    page.keyboard.press("Enter")
    hiring = page.locator("#nav details[data-menu-group]").first
    expect(hiring.locator("a")).to_have_text(
        ["Dashboard", "Jobs", "Candidates", "Analysis", "Hiring analytics", "Outcomes after hire"]
    )
    page.keyboard.press("Tab")
    expect(hiring.locator("a").first).to_be_focused()
    assert _focus_ring(page) == {"style": "solid", "width": "3px"}
    _shot(page, "nav-hr-desktop-open.png")
    page.keyboard.press("Escape")
    expect(hiring.locator("a").first).to_be_hidden()
    expect(groups.first).to_be_focused()

    # One group open at a time; the last group's list stays inside the window.
    groups.nth(1).click()
    groups.nth(4).click()
    expect(page.locator("#nav details[open]")).to_have_count(1)
    last = page.locator("#nav details[open] ul").bounding_box()
    assert last is not None and last["x"] + last["width"] <= DESKTOP["width"]
    page.locator("#nav details[open] a", has_text="Users").click()
    page.wait_for_url(site.url("/admin/users"))
    expect(page.locator("#nav summary.current")).to_have_text("Administration")
    assert site.problems == []


def test_hr_menu_on_a_phone(site: Site) -> None:
    page = site.page(**PHONE)
    _log_in(page, site, "hr.admin")
    nav = page.locator("#nav")
    expect(nav).to_be_hidden()
    page.locator(".menu-toggle").tap()
    expect(nav).to_be_visible()
    for name in ("Hiring", "Scheduling", "Administration"):
        page.locator("#nav summary", has_text=name).tap()
    expect(page.locator("#nav details[open]")).to_have_count(1)  # one at a time
    page.locator("#nav summary", has_text="Hiring").tap()
    assert _page_width(page) <= 390, f"page is {_page_width(page)}px wide on a 390px phone"
    link = page.locator("#nav a", has_text="Candidates").bounding_box()
    assert link is not None and link["height"] >= 40  # a finger-sized target
    _shot(page, "nav-hr-phone.png")
    for name in ("Interviews", "Scheduling", "Compliance", "Administration"):
        page.locator("#nav summary", has_text=name).tap()
        assert _page_width(page) <= 390, name
    assert site.problems == []


def test_auditor_brand_link_and_error_pages(site: Site) -> None:
    page = site.page()
    _log_in(page, site, "audit.eu")
    page.wait_for_url(site.url("/exports"))
    page.locator("a.brand").click()
    page.wait_for_url(site.url("/exports"))
    expect(page.locator("h1")).to_have_text("Exports")

    # A page the role may not open: said in words, with a way home and back.
    page.goto(site.url("/candidates"))
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("main")).to_contain_text(
        "Your role (Auditor) does not allow you to see candidates."
    )
    expect(page.locator("main")).not_to_contain_text("candidates.view")
    back = page.locator("[data-history-back]")
    expect(back).to_be_visible()
    _shot(page, "error-403.png")
    back.click()
    page.wait_for_url(site.url("/exports"))

    response = page.goto(site.url("/no-such-page"))
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    home = page.locator("a[data-way-home]")
    expect(home).to_have_text("Go to your start page (Exports)")
    _shot(page, "error-404.png")
    home.click()
    page.wait_for_url(site.url("/exports"))

    phone = site.page(**PHONE)
    _log_in(phone, site, "audit.eu")
    phone.goto(site.url("/no-such-page"))
    assert _page_width(phone) <= 390
    _shot(phone, "error-404-phone.png")
    assert site.problems == []


def test_radio_buttons_sit_beside_their_labels(site: Site) -> None:
    page = site.page()
    _log_in(page, site, "hr.admin")
    page.goto(site.url(f"/candidates/{site.candidate_id}"))
    radio = page.locator("#decision-form input[type=radio]").first
    expect(radio).to_be_visible()
    gap = page.evaluate(
        """() => {
            const radio = document.querySelector('#decision-form input[type=radio]');
            const label = radio.closest('label');
            const text = [...label.childNodes]
                .find((n) => n.nodeType === 3 && n.textContent.trim());
            const range = document.createRange();
            range.selectNodeContents(text);
            return {gap: range.getBoundingClientRect().left - radio.getBoundingClientRect().right,
                    width: radio.getBoundingClientRect().width};
        }"""
    )
    assert gap["width"] < 24 and 0 <= gap["gap"] < 16, gap
    text_input = page.locator("#decision-form textarea").bounding_box()
    assert text_input is not None and text_input["width"] > 200  # text fields stay wide
    radio.focus()
    page.keyboard.press("ArrowDown")  # moves the choice, and the keyboard focus shows
    assert _focus_ring(page) == {"style": "solid", "width": "3px"}
    page.locator("#decision-form").scroll_into_view_if_needed()
    _shot(page, "radio-labels.png")
    assert site.problems == []


def test_menu_and_error_page_in_chinese(site: Site) -> None:
    page = site.page(**PHONE)
    _log_in(page, site, "li.hr")
    page.locator(".menu-toggle").tap()
    expect(page.locator("#nav details[data-menu-group] > summary")).to_have_text(
        ["招聘", "面试", "面试排期", "合规", "系统管理"]
    )
    page.locator("#nav summary", has_text="面试排期").tap()
    expect(page.locator("#nav details[open] a").first).to_have_text("排期请求")
    assert _page_width(page) <= 390
    _shot(page, "nav-hr-phone-zh.png")

    response = page.goto(site.url("/no-such-page"))
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("找不到页面")
    expect(page.locator("a[data-way-home]")).to_have_text("前往您的首页（仪表板）")  # noqa: RUF001
    expect(page.locator("[data-history-back]")).to_have_text("返回上一页")
    _shot(page, "error-404-zh.png")
    assert site.problems == []
