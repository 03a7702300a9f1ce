"""The report page and the answer-boundary correction in a real browser (Debian chromium).

`serve` runs the web UI (and its worker) over a provisioned appliance; the report is stored in
the contract's shape through the real store, so the browser sees what a finished analysis shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.store import Store
from appliance.store.competency import DimensionSpec, ModelSpec, Question
from tests.conftest import REPO, USER_PASSWORD, Appliance, make_appliance, make_user
from tests.support.analysed_reports import QUOTE_RESULT, ZH_NAME, analysed_report
from tests.support.browser import chromium, require_chromium
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

COLLAB_QUESTION = "Tell me about a time you worked with another team."
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots (ignored by git)

require_chromium(module=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402 - after the skip above


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; never a downloaded browser."""
    with chromium() as launched:
        yield launched


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", USER_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_report_page_and_boundary_correction_in_chromium(tmp_path: Path, browser: Browser) -> None:
    appliance: Appliance = make_appliance(tmp_path, web={"cookie_secure": True})
    store: Store = appliance.open_store()
    problems: list[str] = []
    try:
        with store.transaction():
            model = store.competency.save(
                ModelSpec(
                    "Browser model",
                    (
                        DimensionSpec(
                            "collaboration",
                            "Collaboration",
                            1.0,
                            questions=(Question("en", COLLAB_QUESTION),),
                        ),
                    ),
                )
            )
        interview_id, report_id, recording_id = analysed_report(
            appliance, store, tmp_path, kind="live", competency_model_id=model.id
        )
        make_user(store, "browser.rec", "recruiter", departments=["Engineering"], regions=["EU"])
        with serving(appliance, tmp_path) as server:
            base = f"http://127.0.0.1:{server.port}"
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
            )
            _log_in(page, base, "browser.rec")

            page.goto(f"{base}/interviews/{interview_id}/report")
            expect(page.locator("#overall")).to_contain_text("8")
            expect(page.locator("#dimension-problem_solving")).to_contain_text(QUOTE_RESULT)
            expect(page.locator("#dimension-collaboration")).to_contain_text(ZH_NAME)
            expect(page.locator("#visual-cues h2")).to_contain_text("not judgements")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "interview-report.png"), full_page=True)
            with page.expect_download() as pdf_download:
                page.click("#export-pdf")
            pdf = Path(pdf_download.value.path())
            assert pdf.read_bytes().startswith(b"%PDF")

            page.goto(f"{base}/recordings/{recording_id}/segments")
            expect(page.locator("#segments-source")).to_have_attribute("data-source", "automatic")
            rows = page.locator("tr.segment-row")
            rows.nth(0).locator("input[name=end]").fill("6")
            rows.nth(1).locator("input[name=start]").fill("6.5")
            rows.nth(1).locator("input[name=end]").fill("11")
            rows.nth(1).locator("select[name=question]").select_option(
                label=COLLAB_QUESTION + " [collaboration]"
            )
            page.click("#save-segments")
            expect(page.locator("#segments-source")).to_have_attribute("data-source", "corrected")
            expect(page.locator("#segments-source")).to_contain_text("Browser Rec")
            page.screenshot(path=str(ARTIFACTS / "segments-corrected.png"), full_page=True)
            correction = store.segment_corrections.latest(recording_id)
            assert correction is not None
            assert [(s["start"], s["end"]) for s in correction.spans] == [(0.0, 6.0), (6.5, 11.0)]

            page.goto(f"{base}/reports/{report_id}")
            expect(page.locator("#answers")).to_contain_text("set by Browser Rec")
            context.close()
    finally:
        store.close()
    assert problems == []
