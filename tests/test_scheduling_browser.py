"""The candidate picks an interview slot in their own time zone, and staff fill in a week of
working hours without JSON, in a real browser (Debian chromium through Playwright) against
`python -m appliance serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.platform.clock import from_stamp
from tests.conftest import REPO, USER_PASSWORD, make_appliance, make_user
from tests.support.browser import chromium, require_chromium
from tests.support.scheduling_world import candidate_request, make_world, token_of
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"

require_chromium(module=True)

from playwright.sync_api import Browser, Locator, Page, expect  # noqa: E402 - after the skip above

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


def test_candidate_picks_a_slot_in_their_own_zone(tmp_path: Path, browser: Browser) -> None:
    appliance = make_appliance(tmp_path, web={"cookie_secure": True})
    store = appliance.open_store()
    try:
        world = make_world(store, appliance.config)
        # HR guessed the candidate's zone wrong (UTC); the candidate's device is in Sydney.
        request, url = candidate_request(world, timezone="UTC")
        with serving(appliance, tmp_path) as server:
            base = f"http://127.0.0.1:{server.port}"
            context = browser.new_context(
                timezone_id="Australia/Sydney",
                locale="en-AU",
                viewport={"width": 1024, "height": 900},
            )
            page = context.new_page()
            page.set_default_timeout(30_000)
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda message: (
                    problems.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            page.goto(f"{base}/schedule/{token_of(url)}")
            assert "(UTC, UTC+00:00)" in page.inner_text("#slots-form")
            # The page offers the device's zone; the candidate takes it.
            page.wait_for_selector("#use-browser-zone", state="visible")
            assert page.inner_text("#browser-zone") == "Australia/Sydney"
            page.click("#use-browser-zone")
            page.wait_for_load_state("load")
            listed = page.inner_text("#slots-form")
            assert "(Australia/Sydney, UTC+1" in listed and "(UTC, UTC+00:00)" not in listed
            first = page.locator("input[name=start]").first
            label = page.locator("#slots-form label.slot").first.inner_text().strip()
            chosen = first.get_attribute("value")
            assert chosen is not None
            first.check()
            page.screenshot(path=str(ARTIFACTS / "scheduling-candidate-pick.png"), full_page=True)
            page.click("#slots-form button[type=submit]")
            page.wait_for_selector("#booked-time")
            assert page.inner_text("#booked-time").strip() == label
            page.screenshot(path=str(ARTIFACTS / "scheduling-candidate-booked.png"), full_page=True)
            context.close()
            assert problems == []
        booking = store.scheduling.booking_for(request.id)
        assert booking is not None and booking.status == "booked"
        assert booking.start == from_stamp(chosen)
        assert store.scheduling.get_request(request.id).candidate_timezone == "Australia/Sydney"
        # What the candidate read is the booked instant on Sydney's wall clock.
        local = booking.start.astimezone(ZoneInfo("Australia/Sydney"))
        assert local.strftime("%H:%M") in label and str(local.day) in label
    finally:
        store.close()


def _watched(page: Page, problems: list[str]) -> Page:
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return page


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", USER_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def _beside(page: Page, field_id: str) -> None:
    """The field's label sits just left of it, on the same line."""
    label = page.locator(f"label[for='{field_id}']").bounding_box()
    field = page.locator(f"#{field_id}").bounding_box()
    assert label is not None and field is not None
    assert 0 <= field["x"] - (label["x"] + label["width"]) < 24, (label, field)
    middle = field["y"] + field["height"] / 2
    assert label["y"] <= middle <= label["y"] + label["height"], (label, field)


def _submit_with(page: Page, button: Locator) -> None:
    """Click a submit button and wait for the page the form post answers with."""
    with page.expect_navigation():
        button.click()


def _tab_to(page: Page, field_id: str) -> None:
    """Press Tab until the field has the focus (a time input's own parts take a Tab each)."""
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == field_id:
            return
    raise AssertionError(f"Tab never reached #{field_id}")


def _page_width(page: Page) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def test_staff_fill_a_week_by_keyboard_and_mouse(tmp_path: Path, browser: Browser) -> None:
    appliance = make_appliance(tmp_path, web={"cookie_secure": True})
    store = appliance.open_store()
    try:
        make_user(store, "hr.week", "hr_admin", departments=["*"], regions=["*"])
        person = make_user(store, "iv.week", "interviewer")
        problems: list[str] = []
        with serving(appliance, tmp_path) as server:
            base = f"http://127.0.0.1:{server.port}"
            # en-GB: the time inputs take 24-hour times, typed digit by digit.
            context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
            page = _watched(context.new_page(), problems)
            _log_in(page, base, "hr.week")
            page.goto(f"{base}/scheduling/availability?user_id={person}")
            expect(page.locator("#hours-0-0-start")).to_have_value("09:00")  # the default week
            expect(page.locator("#off-6")).to_be_checked()
            _beside(page, "hours-0-0-start")
            _beside(page, "hours-0-0-end")

            # Monday 08:30-16:30 by keyboard, then copied to Tuesday-Friday.
            page.locator("#hours-0-0-start").click(position={"x": 14, "y": 20})  # on the hour
            page.keyboard.type("0830")
            _tab_to(page, "hours-0-0-end")
            page.keyboard.type("1630")
            expect(page.locator("#hours-0-0-end")).to_have_value("16:30")
            _submit_with(page, page.get_by_role("button", name="Copy Monday to Tuesday-Friday"))
            expect(page.locator("#hours-4-0-start")).to_have_value("08:30")
            expect(page.locator("#copy-monday")).to_be_focused()

            # Tuesday: a lunch break, i.e. a second range added with the button.
            page.fill("#hours-1-0-end", "12:00")
            _submit_with(page, page.locator("#add-range-1"))
            expect(page.locator("#hours-1-1-start")).to_be_focused()
            page.keyboard.type("1300")
            _tab_to(page, "hours-1-1-end")
            page.keyboard.type("1730")

            # Wednesday off; Thursday's accidental extra range removed again.
            page.locator("label", has=page.locator("#off-2")).click()
            _submit_with(page, page.locator("#add-range-3"))
            _submit_with(page, page.get_by_role("button", name="Remove (Thursday, range 2)"))
            expect(page.locator("#hours-3-1-start")).to_have_count(0)
            expect(page.locator("#hours-1-1-end")).to_have_value("17:30")  # kept meanwhile

            # A focus block on Friday afternoons.
            page.select_option("#focus-0-day", label="Friday")
            page.fill("#focus-0-start", "14:00")
            page.fill("#focus-0-end", "15:00")
            page.fill("#max_per_day", "3")
            page.screenshot(path=str(ARTIFACTS / "availability-week-desktop.png"), full_page=True)
            _submit_with(page, page.get_by_role("button", name="Save availability"))
            expect(page.locator(".flash-success")).to_have_text("The availability was saved.")
            expect(page.locator("#off-2")).to_be_checked()
            expect(page.locator("#hours-1-1-start")).to_have_value("13:00")
            context.close()

            # On a 390 px phone: no sideways scrolling, and a fault is said beside its field.
            phone = _watched(browser.new_context(**PHONE).new_page(), problems)
            _log_in(phone, base, "hr.week")
            phone.goto(f"{base}/scheduling/availability?user_id={person}")
            assert _page_width(phone) <= 390, f"page is {_page_width(phone)}px wide"
            _beside(phone, "hours-1-1-start")
            phone.locator("#week").screenshot(path=str(ARTIFACTS / "availability-week-phone.png"))
            phone.fill("#hours-3-0-end", "07:00")
            _submit_with(phone, phone.get_by_role("button", name="Save availability"))
            message = "Thursday, range 1: the end 07:00 is before the start 08:30."
            expect(phone.locator("#hours-3-0-error")).to_have_text(message)
            expect(phone.locator("#problems")).to_contain_text(message)
            assert _page_width(phone) <= 390
            phone.locator("#hours-3-0-error").scroll_into_view_if_needed()
            phone.screenshot(path=str(ARTIFACTS / "availability-week-phone-fault.png"))
            assert problems == []
        profile = store.scheduling.profile(person)
        assert profile is not None
        assert profile.working_hours == {
            "0": [["08:30", "16:30"]],
            "1": [["08:30", "12:00"], ["13:00", "17:30"]],
            "3": [["08:30", "16:30"]],
            "4": [["08:30", "16:30"]],
        }
        assert profile.focus_blocks == [[4, "14:00", "15:00"]]
        assert profile.max_per_day == 3
    finally:
        store.close()
