"""The candidate picks an interview slot in their own time zone, in a real browser (Debian
chromium through Playwright) against `python -m appliance serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appliance.platform.clock import from_stamp
from tests.conftest import REPO, make_appliance
from tests.support.browser import chromium, require_chromium
from tests.support.scheduling_world import candidate_request, make_world, token_of
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"

require_chromium(module=True)

from playwright.sync_api import Browser  # noqa: E402 - after the skip above


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
