"""Live assist in a real browser: chromium's fake microphone plays real speech into live.js,
which streams it to `serve`; the page shows the worker's transcript and saves the call.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MODEL_PACKS, REPO, make_appliance
from tests.room_media import librivox_clips
from tests.test_live_assist import RATE, _live_setup, speech_with_gaps

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM}", allow_module_level=True)
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    pytest.skip("browser tests need the playwright Python package", allow_module_level=True)

from tests.test_serve import serving  # noqa: E402 - after the skips above


@pytest.fixture
def call_audio(tmp_path: Path) -> Iterator[Path]:
    """Three LibriVox sentences with pauses, as the call the interviewer shares."""
    audio, _spans = speech_with_gaps(list(librivox_clips())[:3], gap_s=1.5)
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio)
    yield path


def test_live_page_streams_the_microphone_and_shows_the_transcript(
    tmp_path: Path, call_audio: Path
) -> None:
    if not (MODEL_PACKS / "whisper-tiny-en" / "manifest.json").is_file():
        pytest.skip("the whisper-tiny-en model pack is not built (make setup)")
    appliance = make_appliance(tmp_path)
    store = appliance.open_store()
    problems: list[str] = []
    try:
        setup, interviewer = _live_setup(store)
        with serving(appliance, tmp_path) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={call_audio}",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            base = f"http://127.0.0.1:{server.port}"
            page.goto(f"{base}/login")
            page.fill("#username", interviewer.username)
            page.fill("#password", "a long test password 1")
            page.locator("form button[type=submit]").first.click()
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/live")
            page.locator(f"a[href='/interviews/{setup.interview_id}/live']").click()
            page.locator("#capture-mic").click()
            expect(page.locator("#live-status")).to_contain_text("Listening", timeout=30_000)
            expect(page.locator("#transcript li").nth(1)).to_be_visible(timeout=180_000)
            expect(page.locator("#coverage li")).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / "live-assist.png"), full_page=True)
            text = " ".join(page.locator("#transcript li").all_inner_texts()).lower()
            assert any(word in text for word in ("dashwood", "young", "selfish", "leisure")), text
            page.locator("#live-end").click()
            expect(page.locator("#live-status")).to_contain_text("Saved", timeout=180_000)
            browser.close()
            assert server.popen.poll() is None, server.output()
        assert problems == []
        session = store.live.for_interview(setup.interview_id)[-1]
        assert session.state == "ended" and session.recording_id is not None
        recording = store.recordings.get(session.recording_id)
        assert recording.content_type == "audio/wav" and recording.size_bytes > RATE * 2 * 3
    finally:
        store.close()
