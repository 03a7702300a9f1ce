"""The report's summary card in a real browser (Debian chromium): the chart, findings and the
decision fit a phone's two screens without sideways scrolling, a decision taken there returns to
the report, and a Chinese reader sees the page in Chinese. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.accounts.auth import principal_of
from appliance.hiring.review import add_evaluation
from appliance.store import Store
from tests.conftest import REPO, USER_PASSWORD, Appliance, make_appliance, make_user
from tests.support.analysed_reports import (
    PROBLEM_SOLVING_ZH,
    analysed_report,
    bilingual_content,
    bilingual_model,
)
from tests.support.browser import chromium, require_chromium
from tests.support.media_files import has_encoder, write_media
from tests.support.plain_words import english_left, internal_names
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots (ignored by git)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Where the decision's buttons end, in page coordinates, and whether the page scrolls sideways.
GEOMETRY = """() => {
  const buttons = document.querySelector("#decision-summary-form .decide-buttons");
  const box = buttons.getBoundingClientRect();
  return {
    top: document.querySelector("#decision-summary-form").getBoundingClientRect().top + scrollY,
    bottom: box.bottom + scrollY,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
}"""

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


def _page(browser: Browser, base: str, username: str, viewport: dict[str, int]) -> Page:
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(30_000)
    _log_in(page, base, username)
    return page


def test_the_card_fits_a_phone_and_the_page_speaks_chinese(
    tmp_path: Path, browser: Browser
) -> None:
    appliance: Appliance = make_appliance(tmp_path, web={"cookie_secure": True})
    store: Store = appliance.open_store()
    problems: list[str] = []
    try:
        model = bilingual_model(store)
        media: dict[str, object] = {}
        if has_encoder("libvpx") and has_encoder("libopus"):  # a real video, as candidates send
            video = tmp_path / "answer.webm"
            write_media(video, fmt="webm", vcodec="libvpx", acodec="libopus", seconds=12.0)
            media = {"media": video, "content_type": "video/webm"}
        interview_id, report_id, _rec = analysed_report(
            appliance,
            store,
            tmp_path,
            competency_model_id=model.id,
            report_content=bilingual_content(model),
            model_version=model.label,
            **media,  # type: ignore[arg-type]
        )
        make_user(store, "card.rec", "recruiter", departments=["Engineering"], regions=["EU"])
        zh_id = make_user(
            store, "card.zh", "recruiter", departments=["Engineering"], regions=["EU"]
        )
        with store.transaction():
            store.users.set_preferences(zh_id, language="zh_CN", timezone="Asia/Shanghai")
        # An interviewer's scorecard: 4 where the AI gave 8, shown beside it as a disagreement.
        iv_id = make_user(
            store, "card.iv", "interviewer", departments=["Engineering"], regions=["EU"]
        )
        with store.transaction():
            store.interviews.assign(interview_id, iv_id, "interviewer")
        add_evaluation(
            store,
            principal_of(store.users.get(iv_id)),
            interview_id=interview_id,
            kind="interview",
            rating=5,
            summary="The numbers were the team's",
            ratings={"problem_solving": 4, "collaboration": 7},
        )
        report_path = f"/reports/{report_id}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with serving(appliance, tmp_path) as server:
            base = f"http://127.0.0.1:{server.port}"

            desktop = _page(browser, base, "card.rec", DESKTOP)
            desktop.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            desktop.on(
                "console",
                lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
            )
            desktop.goto(base + report_path)
            chart = desktop.locator("#summary svg#score-chart")
            expect(chart).to_be_visible()
            assert chart.bounding_box()["width"] > 300  # type: ignore[index]
            expect(desktop.locator("#summary #overall")).to_contain_text("8")
            desktop.screenshot(path=str(ARTIFACTS / "report-summary-desktop.png"), full_page=True)
            desktop.goto(f"{base}/interviews/{interview_id}/report")
            expect(desktop.locator("#summary #score-chart")).to_be_visible()
            expect(desktop.locator("#people-ratings tr.disagreement")).to_have_count(1)
            expect(desktop.locator("#disagreements")).to_be_visible()
            desktop.screenshot(path=str(ARTIFACTS / "interview-report-desktop.png"), full_page=True)
            desktop.context.close()

            phone = _page(browser, base, "card.rec", PHONE)
            for path in (f"/interviews/{interview_id}/report", report_path):
                phone.goto(base + path)
                expect(phone.locator("#people-ratings")).to_be_visible()
                geometry = phone.evaluate(GEOMETRY)
                assert geometry["scrollWidth"] <= geometry["innerWidth"] == PHONE["width"], path
                assert geometry["top"] <= 2 * PHONE["height"], (path, geometry)
                assert geometry["bottom"] <= 2 * PHONE["height"], (path, geometry)
            phone.screenshot(path=str(ARTIFACTS / "report-summary-phone.png"), full_page=True)
            # Decide on the phone: the confirmation is answered, and the report comes back.
            phone.on("dialog", lambda dialog: dialog.accept())
            phone.fill("#decision-summary-reason", "Measured a real fix")
            phone.click("#decision-summary-form button[value=advance]")
            phone.wait_for_url(base + report_path)
            expect(phone.locator("#latest-decision")).to_contain_text("Advance")
            [decision] = store.decisions.for_candidate(
                store.interviews.get(interview_id).candidate_id
            )
            assert (decision.kind, decision.reason) == ("advance", "Measured a real fix")
            phone.context.close()

            for name, viewport in (("zh", DESKTOP), ("zh-phone", PHONE)):
                chinese = _page(browser, base, "card.zh", viewport)
                chinese.goto(f"{base}/interviews/{interview_id}/report")
                expect(chinese.locator("#people-ratings")).to_contain_text("有分歧")
                text = chinese.inner_text("main")
                assert internal_names(text) == [] and english_left(text) == [], name
                chinese.screenshot(
                    path=str(ARTIFACTS / f"interview-report-{name}.png"), full_page=True
                )
                chinese.goto(base + report_path)
                expect(chinese.locator("#summary h2")).to_have_text("概览")
                text = chinese.inner_text("main")
                assert PROBLEM_SOLVING_ZH in text and "最新决定" in text
                assert internal_names(text) == [] and english_left(text) == []
                width = chinese.evaluate("() => document.documentElement.scrollWidth")
                assert width <= viewport["width"]
                chinese.screenshot(
                    path=str(ARTIFACTS / f"report-summary-{name}.png"), full_page=True
                )
                chinese.context.close()
    finally:
        store.close()
    assert problems == []
