"""The answer's recording plays beside its transcript in a real browser (Debian chromium).

`serve` runs the web UI over a provisioned appliance; the report's recording is a real WebM
(VP8 and Opus, written with PyAV) stored through the encrypted spool, so chromium fetches it
with range requests from the playback endpoint, plays it, and seeks it when a quote or a
transcript line is clicked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.store import Store
from inference.interfaces import Segment, Transcript, Word
from tests.conftest import REPO, USER_PASSWORD, Appliance, make_appliance, make_user
from tests.support.analysed_reports import QUOTE_RESULT, analysed_report, content
from tests.support.browser import chromium, require_chromium
from tests.support.media_files import has_encoder, write_media
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots (ignored by git)
SECONDS = 12.0
LINES = (  # (start, text): the answer said in three sentences
    (1.0, "Last year our checkout failed twice a week."),
    (4.2, "I rewrote the retry logic myself"),
    (7.4, "and " + QUOTE_RESULT + "."),
)
SEEKED = """() => {
  window.seeks = [];
  document.querySelectorAll("[data-player]").forEach((player) =>
    player.addEventListener("seeked", () => window.seeks.push(player.currentTime)));
}"""
FIRST_PLAYER = "document.querySelector('[data-player]')"

require_chromium(module=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402 - after the skip above


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; never a downloaded browser."""
    with chromium() as launched:
        yield launched


def _transcript() -> dict[str, Any]:
    segments = []
    for start, text in LINES:
        words = tuple(
            Word(w, start + i * 0.3, start + (i + 1) * 0.3) for i, w in enumerate(text.split())
        )
        segments.append(Segment(text, start, words[-1].end, words))
    return Transcript("en", segments, "whisper", "whisper-base@1", SECONDS).to_dict()


def _report_content(*, scored: bool) -> dict[str, Any]:
    made = content()
    made["media"] = {"duration_s": SECONDS, "has_video": True, "has_audio": True}
    made["sections"]["transcript"] = _transcript()
    if not scored:  # the region's policy forbade scoring
        del made["sections"]["scoring"]
        made["steps_skipped"] = ["score"]
    return made


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", USER_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def _seeked_to(page: Page, count: int) -> float:
    page.wait_for_function(f"() => window.seeks.length >= {count}")
    return float(page.evaluate(f"() => window.seeks[{count - 1}]"))


def test_the_answer_plays_and_seeks_from_quotes_and_lines(tmp_path: Path, browser: Browser) -> None:
    if not (has_encoder("libvpx") and has_encoder("libopus")):
        pytest.skip("this PyAV build cannot write WebM (VP8 and Opus)")
    appliance: Appliance = make_appliance(tmp_path, web={"cookie_secure": True})
    store: Store = appliance.open_store()
    video = tmp_path / "answer.webm"
    write_media(video, fmt="webm", vcodec="libvpx", acodec="libopus", seconds=SECONDS)
    problems: list[str] = []
    statuses: list[int] = []
    try:
        _interview, report_id, recording_id = analysed_report(
            appliance,
            store,
            tmp_path,
            media=video,
            content_type="video/webm",
            report_content=_report_content(scored=True),
        )
        _other, unscored_id, _rec = analysed_report(
            appliance,
            store,
            tmp_path,
            name="Unscored Candidate",
            media=video,
            content_type="video/webm",
            report_content=_report_content(scored=False),
        )
        make_user(store, "play.rec", "recruiter", departments=["Engineering"], regions=["EU"])
        media_path = f"/recordings/{recording_id}/media"
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
            page.on(
                "response",
                lambda r: statuses.append(r.status) if r.url.endswith(media_path) else None,
            )
            _log_in(page, base, "play.rec")

            page.goto(f"{base}/reports/{report_id}")
            player = page.locator("#answers video[data-player]").first
            expect(player).to_have_attribute("preload", "metadata")
            page.wait_for_function(
                f"() => {FIRST_PLAYER}.readyState >= 1 && {FIRST_PLAYER}.duration > {SECONDS - 1}"
            )
            assert 206 in statuses  # chromium asked for ranges, and got them
            page.evaluate(SEEKED)

            # An evidence quote: the player seeks to where it was said, and plays on from there.
            page.locator("#dimension-problem_solving a.seek", has_text=QUOTE_RESULT).click()
            assert abs(_seeked_to(page, 1) - 7.4) < 0.5
            page.wait_for_function(
                f"() => !{FIRST_PLAYER}.paused && {FIRST_PLAYER}.currentTime > 8.2"
            )
            expect(page.locator("#answers button.line.speaking")).to_contain_text(QUOTE_RESULT)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-player.png"), full_page=True)

            # A transcript line: back to its start; the highlight follows the playback.
            page.locator("#answers button.line", has_text=LINES[0][1]).click()
            assert abs(_seeked_to(page, 2) - LINES[0][0]) < 0.5
            expect(page.locator("#answers button.line.speaking")).to_contain_text(LINES[0][1])
            page.wait_for_function(f"() => {FIRST_PLAYER}.currentTime > {LINES[0][0] + 0.5}")
            page.evaluate(f"() => {FIRST_PLAYER}.pause()")
            reads = [
                e
                for e in store.audit.entries(action="candidate.read")
                if e.details.get("what") == f"recording-media:{recording_id}"
            ]
            assert reads  # the playback is on record

            # Not scored (policy): the transcript and the player are there all the same.
            page.goto(f"{base}/reports/{unscored_id}")
            expect(page.locator("#not-scored")).to_be_visible()
            expect(page.locator("#answers")).to_contain_text(LINES[1][1])
            page.wait_for_function(f"() => {FIRST_PLAYER}.readyState >= 1")
            page.evaluate(SEEKED)
            page.locator("#answers button.line", has_text=LINES[1][1]).click()
            assert abs(_seeked_to(page, 1) - LINES[1][0]) < 0.5
            page.wait_for_function(f"() => {FIRST_PLAYER}.currentTime > {LINES[1][0] + 0.5}")
            context.close()
    finally:
        store.close()
    assert problems == []
