"""The affect-scoring admin page in a real browser (Debian chromium via Playwright) against
`python -m appliance serve`: an HR admin turns it on with a justification and sees the change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.analysis.affect_scoring import affect_may_feed_scores
from appliance.store.affect import affect_of
from tests.conftest import REPO, USER_PASSWORD, make_appliance, make_user
from tests.support.browser import chromium, require_chromium
from tests.support.serving import serving
from tests.support.vision_jobs import new_job

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"
REASON = "Approved for this role by the works council on 2026-01-10 (minute 14)."

require_chromium(module=True)

from playwright.sync_api import Page, expect  # noqa: E402 - after the skip above


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Page, str, object, int, int]]:
    appliance = make_appliance(tmp_path, web={"cookie_secure": True})
    store = appliance.open_store()
    make_user(store, "hr.affect", "hr_admin", departments=["*"], regions=["*"])
    job = new_job(store, "US-NYC")
    eu = new_job(store, "EU", name="Eu Candidate")
    try:
        with serving(appliance, tmp_path) as server, chromium() as browser:
            opened = browser.new_page()
            opened.set_default_timeout(30_000)
            yield (
                opened,
                f"http://127.0.0.1:{server.port}",
                store,
                job.requisition_id,
                eu.requisition_id,
            )
    finally:
        store.close()


def test_admin_enables_affect_scoring_with_a_justification(
    page: tuple[Page, str, object, int, int],
) -> None:
    browser_page, base, store, requisition_id, eu_requisition_id = page
    browser_page.goto(f"{base}/login")
    browser_page.fill("#username", "hr.affect")
    browser_page.fill("#password", USER_PASSWORD)
    browser_page.click("form button[type=submit]")
    browser_page.wait_for_url(f"{base}/")

    browser_page.goto(f"{base}/requisitions/{requisition_id}/affect-scoring")
    expect(browser_page.locator("#affect-state")).to_contain_text("does not feed")
    browser_page.check("#affect-form input[name=enabled]")
    browser_page.fill("#justification", REASON)
    browser_page.click("#affect-form button[type=submit]")
    expect(browser_page.locator(".flash-success")).to_be_visible()
    expect(browser_page.locator("#affect-state")).to_contain_text("may feed")
    expect(browser_page.locator("table")).to_contain_text("works council")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser_page.screenshot(path=str(ARTIFACTS / "affect-scoring.png"), full_page=True)
    assert affect_may_feed_scores(store, requisition_id)  # type: ignore[arg-type]
    (change,) = affect_of(store).scoring.history(requisition_id)  # type: ignore[arg-type]
    assert change.enabled and change.justification == REASON

    # In the EU the switch is shown disabled, with the rule that forbids it.
    browser_page.goto(f"{base}/requisitions/{eu_requisition_id}/affect-scoring")
    expect(browser_page.locator("#affect-prohibited")).to_contain_text("prohibited")
    expect(browser_page.locator("#affect-form input[name=enabled]")).to_be_disabled()
