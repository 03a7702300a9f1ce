"""HR from a new job to a booked interview in a real browser (Debian chromium through Playwright,
against `python -m appliance serve`), counting clicks and typed fields, without typing an id or
JSON anywhere, in English and in Chinese (issue 20: 42 clicks and 13 typed fields before).

Set up beforehand, as an administrator would once: an interviewer with working hours and an
interview type. The journey is everything after that.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from appliance.scheduling import service
from tests.conftest import REPO, USER_PASSWORD, make_appliance, make_user
from tests.support.browser import chromium, require_chromium
from tests.support.scheduling_world import EVERY_DAY
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"

require_chromium(module=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402 - after the skip above


@dataclass
class Counted:
    """A page whose clicks, choices and typed fields are counted."""

    page: Page
    clicks: int = 0
    typed: int = 0
    chosen: int = 0
    problems: list[str] = field(default_factory=list)

    def click(self, selector: str) -> None:
        self.clicks += 1
        self.page.click(selector)
        self.page.wait_for_load_state()

    def type(self, selector: str, text: str) -> None:
        self.typed += 1
        self.page.fill(selector, text)

    def choose(self, selector: str, value: str | None = None, label: str | None = None) -> None:
        self.chosen += 1  # a choice in a list is a click to open it and one to pick
        if value is not None:
            self.page.select_option(selector, value=value)
        else:
            self.page.select_option(selector, label=label)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


def _journey(tmp_path: Path, browser: Browser, language: str) -> Counted:
    appliance = make_appliance(tmp_path, web={"cookie_secure": True})
    store = appliance.open_store()
    try:
        hr_id = make_user(store, "hr.journey", "hr_admin", departments=["*"], regions=["*"])
        if language == "zh":
            with store.transaction():
                store.users.set_preferences(hr_id, language="zh_CN", timezone="Asia/Shanghai")
        from appliance.accounts.auth import principal_of

        hr = principal_of(store.users.get(hr_id))
        interviewer = make_user(store, "iv.journey", "interviewer")
        service.save_availability(
            store,
            hr,
            user_id=interviewer,
            timezone="Europe/Berlin",
            holiday_region="EU",
            working_hours=EVERY_DAY,
            focus_blocks=[],
            max_per_day=24,
        )
        service.create_interview_type(
            store,
            hr,
            name="Technical interview",
            duration_minutes=60,
            buffer_before_minutes=0,
            buffer_after_minutes=15,
            mode="pool",
            attendees=1,
            role_family="technical",
            members=[interviewer],
        )
        with serving(appliance, tmp_path) as server:
            base = f"http://127.0.0.1:{server.port}"
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            counted = Counted(context.new_page())
            page = counted.page
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda error: counted.problems.append(str(error)))
            page.goto(f"{base}/login")
            page.fill("#username", "hr.journey")
            page.fill("#password", USER_PASSWORD)
            page.click("form button[type=submit]")
            page.wait_for_load_state()
            # The journey starts on the dashboard.
            page.goto(f"{base}/jobs")
            counted.click("a.button[href='/jobs/new']")
            counted.type("#title", "Platform engineer")
            counted.type("#department", "Engineering")
            counted.type("#location", "Berlin")
            counted.choose("#region", value="EU")
            counted.choose("#competency_model_id", value="starter:software_engineer")
            counted.click("form.card button[type=submit]")
            # The built-in model is in the editor: save it as the job's first version.
            expect(page.locator("#model-sections")).to_be_visible()
            counted.click("form.model-editor button[type=submit]")
            counted.click("#add-candidate")
            counted.type("#full_name", "Asha Rao")
            counted.type("#email", "asha@example.invalid")
            counted.click("form.card button[type=submit]")
            counted.click("a.schedule-link")
            counted.type("#candidate_timezone", "Asia/Kolkata")
            counted.click("form.card button[type=submit]")
            # No mail relay here: the page hands the link over; copy it, then go on.
            expect(page.locator("#not-sent")).to_be_visible()
            counted.click("button[data-copy]")
            counted.click("a.button")
            expect(page.locator("#slot-calendar")).to_be_visible()
            counted.click("#slot-calendar button[type=submit] >> nth=0")
            # Booked, said in words (never the internal 'booked' in a Chinese page).
            expect(page.locator("#booked-time")).to_be_visible()
            if language == "zh":
                expect(page.locator("#request-status")).to_have_text("已预订")
            page.screenshot(path=str(ARTIFACTS / f"booking-journey-{language}.png"), full_page=True)
        booked = store.conn.execute(
            "SELECT count(*) FROM bookings WHERE status = 'booked'"
        ).fetchone()[0]
        assert booked == 1
        return counted
    finally:
        store.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_hr_books_an_interview_from_a_new_job_without_ids_or_json(
    tmp_path: Path, browser: Browser, language: str
) -> None:
    counted = _journey(tmp_path, browser, language)
    print(
        f"booking journey ({language}): {counted.clicks} clicks, {counted.chosen} choices,"
        f" {counted.typed} typed fields"
    )
    assert counted.problems == []
    # Before issue 20: 42 clicks and 13 typed fields, an interview number and JSON typed.
    assert counted.clicks + 2 * counted.chosen <= 16 and counted.typed <= 6
