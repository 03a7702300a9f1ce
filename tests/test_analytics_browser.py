"""The hiring analytics page in a real browser (Debian chromium via Playwright) against
`python -m appliance serve`: charts drawn on the box, tables beside them, a 390 px phone
without sideways scrolling, no script errors. Screenshots land in tests/artifacts/."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from appliance.accounts.auth import principal_of
from appliance.store import Store
from tests.conftest import REPO, USER_PASSWORD, make_appliance, make_user
from tests.support.browser import chromium, require_chromium
from tests.support.hiring_world import Applicant, build
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"

require_chromium(module=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402 - after the skip above


@dataclass
class Site:
    """A served appliance with a hiring history of 80 people."""

    base: str
    browser: Browser


def _history() -> list[Applicant]:
    rng = random.Random(11)
    people = []
    for index in range(80):
        tech = float(rng.randint(2, 10))
        hired = tech >= 6 and index % 3 != 0
        people.append(
            Applicant(
                (tech, float(rng.randint(1, 10))),
                "hire" if hired else ("reject" if index % 4 else None),
                start_date="2025-01-06" if hired else None,
                probation=("passed" if tech > 6 else "failed") if hired else "pending",
                left_on="2025-04-30" if hired and tech <= 6 else None,
                voluntary=True if hired and tech <= 6 else None,
                ratings=(("2025-12-15", min(5.0, max(1.0, tech / 2 + rng.gauss(0, 0.5)))),)
                if hired
                else (),
            )
        )
    return people


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("analytics")
    appliance = make_appliance(root)
    store: Store = appliance.open_store()
    admin_id = make_user(store, "hr.admin", "hr_admin", departments=["*"], regions=["*"])
    build(store, principal_of(store.users.get(admin_id)), _history())
    zh_id = make_user(store, "li.hr", "hr_admin", departments=["*"], regions=["*"])
    with store.transaction():
        store.users.set_preferences(zh_id, language="zh_CN", timezone="Asia/Shanghai")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with serving(appliance, root) as server, chromium() as browser:
            yield Site(f"http://127.0.0.1:{server.port}", browser)
    finally:
        store.close()


def _page(site: Site, username: str, **context: object) -> tuple[Page, list[str]]:
    problems: list[str] = []
    page = site.browser.new_context(
        **(context or {"viewport": {"width": 1280, "height": 900}})
    ).new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{site.base}/login")
    page.fill("#username", username)
    page.fill("#password", USER_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    return page, problems


def test_analytics_on_a_desktop(site: Site) -> None:
    page, problems = _page(site, "hr.admin")
    page.goto(f"{site.base}/analytics")
    expect(page.locator("h1")).to_have_text("Hiring analytics")
    charts = page.locator("svg.chart")
    assert charts.count() == 7
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 20
    expect(page.locator("#validity tbody tr")).to_have_count(4)
    expect(page.locator("#validity")).to_contain_text("predicts the outcome")
    page.screenshot(path=str(ARTIFACTS / "analytics-desktop.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("a.csv").first.click()
    assert download.value.suggested_filename == "analytics-jobs.csv"
    assert problems == []


def test_analytics_on_a_phone_in_chinese(site: Site) -> None:
    page, problems = _page(
        site,
        "li.hr",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(f"{site.base}/analytics")
    width = int(page.evaluate("() => document.documentElement.scrollWidth"))
    assert width <= 390, width
    text = page.locator("main").inner_text()
    assert "Hiring analytics" not in text and "not enough data" not in text
    page.screenshot(path=str(ARTIFACTS / "analytics-phone-zh.png"), full_page=True)
    assert problems == []
