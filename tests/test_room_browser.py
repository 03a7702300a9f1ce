"""The candidate's room in a real browser: Debian chromium with a fake camera and microphone fed
by a real face video (y4m) and real LibriVox speech, against `python -m appliance serve`
(gunicorn + the real worker with the transcribe step).

Screenshots land in tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance.platform.config import DEFAULT_PIPELINE
from appliance.store import Store
from appliance.store.compliance import compliance_of
from tests.conftest import REPO, Appliance, make_appliance
from tests.support.browser import chromium, fake_media_flags, require_chromium
from tests.support.room_fixtures import room_setup
from tests.support.room_media import face_y4m, librivox_clips
from tests.support.serving import Serving, serving

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.realtime]

ARTIFACTS = REPO / "tests" / "artifacts"
require_chromium(module=True)

from playwright.sync_api import Browser, Page, Route, expect  # noqa: E402 - after the skip above


def _pipeline() -> list[str]:
    return list(DEFAULT_PIPELINE)  # the full analysis, as the appliance runs it


@dataclass
class Site:
    """A served appliance."""

    appliance: Appliance
    store: Store
    server: Serving
    base: str
    speech: Path
    words: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("room-browser")
    appliance = make_appliance(root, worker={"pipeline": _pipeline()})
    store = appliance.open_store()
    clips = librivox_clips()
    speech = next(p for p in clips if p.name.endswith("0870.wav"))
    try:
        with serving(appliance, root) as server:
            yield Site(
                appliance, store, server, f"http://127.0.0.1:{server.port}", speech, clips[speech]
            )
    finally:
        store.close()


@pytest.fixture(scope="module")
def browser(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Chromium whose camera shows a real face and whose microphone plays real speech."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    video = face_y4m(tmp_path_factory.mktemp("media") / "face.y4m")
    with chromium(*fake_media_flags(video=video, audio=site.speech, autoplay=True)) as launched:
        yield launched


def _page(browser: Browser, problems: list[str], **options: Any) -> Page:
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda m: (
            problems.append(f"CSP: {m.text}") if "Content Security Policy" in m.text else None
        ),
    )
    return page


def _consent_and_begin(page: Page, site: Site, token: str, *, accept: bool = True) -> None:
    page.goto(f"{site.base}/room/{token}")
    expect(page.locator("#who-h")).to_be_visible()
    page.locator(f"input[name=ai][value={'accept' if accept else 'decline'}]").check()
    page.locator("#consent-continue").click()
    page.locator("#self-id-skip").click()  # the optional questions about the candidate (EU)
    expect(page.locator("#device-ok")).to_be_enabled()
    expect(page.locator("#camera-state")).not_to_have_class("problem")
    page.wait_for_function(
        "() => Number(document.getElementById('mic-level').value) > 0.01", timeout=20_000
    )
    expect(page.locator("#speed-state")).to_contain_text("kbit/s")
    page.locator("#device-ok").focus()
    page.keyboard.press("Enter")  # keyboard operable
    expect(page.locator("#question-text")).not_to_be_empty()


def _answer(page: Page, seconds: float) -> None:
    expect(page.locator("#record-stop")).to_be_hidden()
    page.locator("#record-start").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#record-stop")).to_be_visible()
    expect(page.locator("#record-start")).to_be_hidden()
    expect(page.locator("#timer")).to_contain_text("0:")
    time.sleep(seconds)
    page.keyboard.press("Enter")  # the stop button has the focus while recording
    expect(page.locator("#keep")).to_be_visible(timeout=60_000)


def _wait_jobs(store: Store, job_ids: list[int], server: Serving, limit_s: float = 600) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        states = [store.jobs.get(j).state for j in job_ids]
        if all(s in ("succeeded", "failed") for s in states):
            return
        assert server.popen.poll() is None, server.output()
        assert time.monotonic() < deadline, (states, server.output()[-3000:])
        time.sleep(1)


def test_candidate_answers_three_questions_and_the_worker_transcribes_them(
    site: Site, browser: Browser
) -> None:
    problems: list[str] = []
    setup = room_setup(site.store, name="Browser Candidate")
    page = _page(browser, problems)
    _consent_and_begin(page, site, setup.token)
    page.screenshot(path=str(ARTIFACTS / "room-question.png"), full_page=True)
    for number in (1, 2, 3):
        expect(page.locator("#question-number")).to_contain_text(f"{number} of 3")
        _answer(page, 6.5)
        page.locator("#keep").click()
    expect(page.locator("#finish-button")).to_be_visible()
    page.locator("#finish-button").click()
    expect(page.locator("#closing-h")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "room-closing.png"), full_page=True)
    assert problems == []

    store = site.store
    answers = store.interview_answers.for_interview(setup.interview_id)
    assert [a.position for a in answers] == [0, 1, 2]
    spool = site.appliance.spool()
    key = store.vault.key_for(store.candidates.get(setup.candidate_id).pseudonym)
    for answer in answers:
        recording = store.recordings.get(answer.recording_id)
        raw = spool.path_of(recording.spool_name).read_bytes()
        with spool.open(recording.spool_name, recording.wrapped_data_key, key) as reader:
            plain = reader.read()
        assert plain[:4] == b"\x1a\x45\xdf\xa3"  # a webm from MediaRecorder
        assert plain[:64] not in raw  # stored encrypted
        assert recording.media_info and recording.media_info["has_video"]
        assert recording.media_info["duration_s"] > 4
    note = store.hr_notifications.for_user(setup.hr_id)[0]
    assert note.kind == "room.completed" and note.details["answers"] == 3
    jobs = note.details["jobs"]
    assert len(jobs) == 3
    _wait_jobs(store, jobs, site.server)
    assert [store.jobs.get(j).state for j in jobs] == ["succeeded"] * 3, site.server.output()[
        -3000:
    ]
    expected = set(site.words.split())
    for answer in answers:
        report = next(
            r
            for r in store.reports.for_interview(setup.interview_id)
            if r.recording_id == answer.recording_id
        )
        sections = report.content["sections"]
        text = sections["transcript"]["text"].lower()
        heard = {w.strip(".,;!?") for w in text.split()}
        assert len(expected & heard) >= 5, text
        # The full default pipeline ran: delivery and scoring (EU, AI consent given) too.
        assert "delivery" in sections and "scoring" in sections, sorted(sections)
        for dimension in sections["scoring"]["dimensions"]:
            assert dimension["score"] is None or dimension["evidence"]


def test_a_network_drop_and_a_reload_lose_nothing_and_duplicate_nothing(
    site: Site, browser: Browser
) -> None:
    problems: list[str] = []
    setup = room_setup(site.store, name="Reload Candidate")
    page = _page(browser, problems)
    _consent_and_begin(page, site, setup.token)
    question = int(page.locator("#room").get_attribute("data-question") or 0)
    page.locator("#record-start").click()
    page.wait_for_function("() => Number(document.getElementById('room').dataset.ackedPieces) >= 2")

    def drop(route: Route) -> None:
        route.abort("internetdisconnected")

    page.route("**/pieces/**", drop)
    page.wait_for_function(
        "() => { const d = document.getElementById('room').dataset;"
        " return Number(d.recordedPieces) >= Number(d.ackedPieces) + 3; }"
    )
    expect(page.locator("#upload-state")).to_contain_text("Connection problem")
    before = int(page.locator("#room").get_attribute("data-recorded-bytes") or 0)
    acked_before = int(page.locator("#room").get_attribute("data-acked-pieces") or 0)
    page.screenshot(path=str(ARTIFACTS / "room-offline.png"), full_page=True)
    page.unroute("**/pieces/**")
    page.reload()
    expect(page.locator("#keep")).to_be_visible(timeout=60_000)
    recovered = int(page.locator("#room").get_attribute("data-recovered-bytes") or 0)
    assert recovered >= before > 0
    page.locator("#keep").click()
    expect(page.locator("#question-number")).to_contain_text("2 of 3")
    assert problems == []

    store = site.store
    takes = store.room.takes(question)
    assert [(t.number, t.state) for t in takes] == [(1, "used")]
    assert takes[0].next_seq > acked_before
    answer = store.interview_answers.for_interview(setup.interview_id)
    assert len(answer) == 1 and answer[0].room_question_id == question
    recording = store.recordings.get(answer[0].recording_id)
    assert recording.size_bytes == recovered  # every recorded piece once: no loss, no repeat
    assert recording.media_info and recording.media_info["duration_s"] > 1


def test_the_room_fits_a_phone_and_refuses_bad_links_with_a_clear_page(
    site: Site, browser: Browser
) -> None:
    problems: list[str] = []
    setup = room_setup(site.store, name="Phone Candidate")
    page = _page(browser, problems, viewport={"width": 360, "height": 740})
    page.goto(f"{site.base}/room/{setup.token}")
    expect(page.locator("#consent-continue")).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360, page.evaluate(
        "() => [...document.querySelectorAll('body *')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > 361)"
        ".map(e => `${e.tagName}#${e.id}.${e.className} ${e.scrollWidth}/${e.clientWidth}`)"
    )
    page.screenshot(path=str(ARTIFACTS / "room-consent-phone.png"), full_page=True)
    page.goto(f"{site.base}/room/{setup.token[:-3]}xyz")
    expect(page.locator("#refused")).to_contain_text("not valid or has expired")
    assert problems == []


def test_the_optional_self_identification_is_keyboard_operable_on_a_phone(
    site: Site, browser: Browser
) -> None:
    problems: list[str] = []
    setup = room_setup(site.store, name="Self Id Candidate")
    page = _page(browser, problems, viewport={"width": 360, "height": 740})
    page.goto(f"{site.base}/room/{setup.token}")
    page.locator("input[name=ai][value=decline]").check()
    page.locator("#consent-continue").click()
    expect(page.locator("#self-id-h")).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    page.screenshot(path=str(ARTIFACTS / "room-self-id-phone.png"), full_page=True)
    # Keyboard only: focus a choice, move with the arrows, tick the EU opt-in with Space.
    page.locator("input[name=sex][value=Male]").focus()
    page.keyboard.press("ArrowDown")  # to Female
    expect(page.locator("input[name=sex][value=Female]")).to_be_checked()
    page.locator("input[name=race_ethnicity][value=Asian]").focus()
    page.keyboard.press("Space")
    page.locator("input[name=consent]").focus()
    page.keyboard.press("Space")
    page.locator("#self-id-save").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#device-check")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("only counted in bias audits")
    declared = compliance_of(site.store).demographics.get(setup.candidate_id)
    assert declared == ("Female", "Asian")
    assert problems == []
