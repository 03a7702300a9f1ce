"""Live assist in a real browser: chromium's fake microphone plays real speech into live.js,
which streams it to `serve`; the page shows the worker's transcript and saves the call.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MODEL_PACKS, REPO, make_appliance
from tests.support.browser import chromium, fake_media_flags, require_chromium
from tests.support.live_assist import RATE, live_setup, speech_with_gaps
from tests.support.room_media import librivox_clips
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.realtime]

ARTIFACTS = REPO / "tests" / "artifacts"
require_chromium(module=True)

from playwright.sync_api import expect  # noqa: E402 - after the skip above


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
        setup, interviewer = live_setup(store)
        microphone = fake_media_flags(audio=call_audio, autoplay=True)
        with serving(appliance, tmp_path) as server, chromium(*microphone) as browser:
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
            # The first piece leaves after the capture starts and a second of audio is encoded;
            # on a loaded 2-core runner that took more than 30 s once (a clean-clone CI run).
            expect(page.locator("#live-status")).to_contain_text("Listening", timeout=90_000)
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
