"""The web UI in a real browser (Playwright, Debian chromium) against `python -m appliance serve`.

Screenshots of every step land in tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from appliance.platform.clock import now_stamp
from appliance.store import Store
from tests.conftest import (
    REPO,
    USER_PASSWORD,
    Appliance,
    demo_interview,
    make_appliance,
    make_user,
    write_wav,
)
from tests.support.browser import chromium, require_chromium
from tests.support.serving import Serving, serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"
PIECE = 1 << 20
# Chromium keeps Secure cookies from http://127.0.0.1 (a potentially trustworthy origin), so
# the appliance runs with its default `web.cookie_secure = true` here.
COOKIE_SECURE = True

require_chromium(module=True)

from playwright.sync_api import Browser, BrowserContext, Page, expect  # noqa: E402 - after the skip


@dataclass
class Site:
    """A served appliance with people and an interview."""

    appliance: Appliance
    store: Store
    server: Serving
    interview_id: int
    base: str
    problems: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`serve` on a free loopback port, with a recruiter, a business lead and an interview."""
    root = tmp_path_factory.mktemp("browser")
    appliance = make_appliance(
        root,
        web={"upload_piece_bytes": PIECE, "cookie_secure": COOKIE_SECURE},
        media={"spool_chunk_bytes": PIECE},
    )
    store = appliance.open_store()
    interview_id = demo_interview(store, name="Browser Candidate")
    make_user(store, "rec.eng", "recruiter", departments=["Engineering"], regions=["EU"])
    make_user(store, "lead.eng", "business_lead", departments=["Engineering"], regions=["EU"])
    try:
        with serving(appliance, root) as server:
            yield Site(appliance, store, server, interview_id, f"http://127.0.0.1:{server.port}")
    finally:
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; never a downloaded browser."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as launched:
        yield launched


def new_page(context: BrowserContext, problems: list[str]) -> Page:
    """A page that records script errors and CSP violations."""
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            problems.append(f"CSP: {message.text}")

    page.on("console", on_console)
    return page


def shot(page: Page, name: str, *, full_page: bool = True) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 1000
    return path


def _worker_process(site: Site) -> psutil.Process:
    """The analysis (batch-lane) worker that serve started."""
    workers = [
        process
        for process in site.server.descendants()
        if "worker" in process.cmdline()
        and "appliance" in process.cmdline()
        and "--only-kinds" not in process.cmdline()  # the interactive lane
    ]
    assert len(workers) == 1, [process.cmdline() for process in site.server.descendants()]
    return workers[0]


def _write_lock_free(store: Store) -> bool:
    """Whether a write transaction can start now (nobody holds the database's write lock)."""
    conn = store.conn
    previous = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute("PRAGMA busy_timeout = 300")
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except Exception:  # sqlcipher3's OperationalError: database is locked
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {previous}")


@contextmanager
def paused(process: psutil.Process, store: Store) -> Iterator[None]:
    """Stop a process (SIGSTOP) for the block, at a moment it holds no write lock."""
    for _ in range(50):
        process.suspend()
        if _write_lock_free(store):
            break
        process.resume()  # caught inside a transaction: let it finish and try again
        time.sleep(0.05)
    else:
        pytest.fail("the worker never let go of the database's write lock")
    try:
        yield
    finally:
        process.resume()


def log_in(page: Page, site: Site, username: str, password: str = USER_PASSWORD) -> None:
    page.goto(site.url("/login"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form button[type=submit]")


def test_login_shows_the_error_then_lands_on_the_dashboard(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = new_page(context, site.problems)
    log_in(page, site, "rec.eng", "not the right password")
    error = page.locator(".flash-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("not right")
    assert page.url.startswith(site.url("/login"))
    shot(page, "login-error.png")

    log_in(page, site, "rec.eng")
    page.wait_for_url(site.url("/"))
    expect(page.locator("h1")).to_contain_text("Dashboard")
    expect(page.locator(".flash-error")).to_have_count(0)
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    session = cookies["appliance_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["secure"] is COOKIE_SECURE
    shot(page, "login.png")
    context.close()
    assert site.problems == []


def test_resumable_upload_in_the_browser_and_job_succeeds(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "answer.wav", 95.0, freq=330.0)  # ~3 MB: three 1 MiB pieces
    size = wav.stat().st_size
    assert 2 * PIECE < size < 3 * PIECE
    after_first = f"{PIECE * 100 // size} %"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = new_page(context, site.problems)
    log_in(page, site, "rec.eng")
    page.wait_for_url(site.url("/"))
    page.goto(site.url(f"/interviews/{site.interview_id}/upload"))
    expect(page.locator("#resumable-upload")).to_be_visible()
    expect(page.locator("#simple-upload")).to_be_hidden()  # the no-JS fallback steps aside

    # The network drops every piece after the first: the page retries with back-off.
    dropped: list[str] = []

    def drop_later_pieces(route: Any) -> None:
        if "offset=0" in route.request.url:
            route.continue_()
        else:
            dropped.append(route.request.url)
            route.abort("connectionreset")

    page.route("**/uploads/*?offset=*", drop_later_pieces)
    page.set_input_files("#recording-file", str(wav))
    page.click("#upload-start")
    expect(page.locator("#upload-message")).to_contain_text("trying again", timeout=20_000)
    expect(page.locator("#upload-percent")).to_have_text(after_first)
    shot(page, "upload-retry.png")
    assert dropped and all(f"offset={PIECE}" in url for url in dropped)
    stored = page.evaluate("() => Object.keys(window.localStorage)")
    assert f"appliance.upload.{site.interview_id}" in stored

    # Reload: the page offers to resume; the same file continues where it stopped.
    page.unroute("**/uploads/*?offset=*")
    page.reload()
    hint = page.locator("#upload-resume-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("answer.wav")
    percents: list[str] = []
    page.expose_function("reportPercent", lambda text: percents.append(text))
    page.evaluate(
        """() => new MutationObserver(() => window.reportPercent(
                 document.getElementById('upload-percent').textContent))
             .observe(document.getElementById('upload-percent'),
                      {childList: true, characterData: true, subtree: true})"""
    )
    # The worker pauses, so that the job page below meets the job before it finishes.
    with paused(_worker_process(site), site.store):
        page.set_input_files("#recording-file", str(wav))
        page.click("#upload-start")
        done = page.locator("#upload-done")
        expect(done).to_be_visible(timeout=60_000)
        expect(page.locator("#upload-percent")).to_have_text("100 %")
        assert page.eval_on_selector("#upload-progress", "bar => bar.value") == 100
        expect(page.locator("#upload-message")).to_contain_text("Upload complete")
        assert percents[0] == after_first and percents[-1] == "100 %"  # resumed, not restarted
        assert "0 %" not in percents
        shot(page, "upload-progress.png")
        assert page.evaluate("() => Object.keys(window.localStorage)") == []

        # The analysis page polls until the worker (started by serve) finished the job.
        link = page.locator("#upload-job-link")
        href = link.get_attribute("href")
        assert href is not None and href.startswith("/analysis/")
        job_id = int(href.rsplit("/", 1)[1])
        recording = site.store.recordings.get(site.store.jobs.get(job_id).subject_id or 0)
        assert recording.size_bytes == size
        polls: list[str] = []
        page.on(
            "request", lambda request: polls.append(request.url) if ".json" in request.url else None
        )
        link.click()
        page.wait_for_url(site.url(href))
        # The worker is paused: the page shows the job waiting, then progress.js follows it.
        expect(page.locator("#job-state")).to_have_text("queued")
        assert page.get_attribute("#job-live", "data-finished") == "false"
        shot(page, "job-queued.png")
    state = page.locator("#job-state")
    expect(state).to_have_text("succeeded", timeout=90_000)  # updated by progress.js, no reload
    expect(page.locator("#job-progress-text")).to_have_text("100 %")
    assert page.eval_on_selector("#job-progress", "bar => bar.value") == 100
    expect(page.locator("#report-link")).to_be_visible()
    shot(page, "job-succeeded.png")
    assert polls and all(url == site.url(f"{href}.json") for url in polls)
    job = site.store.jobs.get(job_id)
    assert (job.state, job.attempts) == ("succeeded", 1)

    # The analysis list announces the finished job on the next visit.
    page.goto(site.url("/analysis"))
    expect(page.locator(f"#job-{job_id}")).to_contain_text("succeeded")
    shot(page, "analysis-list.png")
    context.close()
    assert site.problems == []


def _analysed_report(site: Site, tmp_path: Path) -> int:
    """A report drafted by serve's worker for a recording ingested through the CLI."""
    clip = write_wav(tmp_path / "phone.wav", 3.0)
    done = site.appliance.cli("ingest", "--interview", str(site.interview_id), str(clip))
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["job"]
    deadline = time.monotonic() + 90
    while site.store.jobs.get(job_id).state != "succeeded":
        assert site.server.popen.poll() is None, site.server.output()
        assert time.monotonic() < deadline, site.server.output()
        time.sleep(0.2)
    reports = [r for r in site.store.reports.for_interview(site.interview_id) if r.job_id == job_id]
    assert len(reports) == 1
    return reports[0].id


def _scored_copy(site: Site, report_id: int) -> int:
    """The worker's report with AI scores added, as a scoring step would draft it.

    The built-in pipeline only probes, and a report without scores shows no override form to
    anyone; with scores, whether the form shows depends on the viewer's role alone.
    """
    drafted = site.store.reports.get(report_id)
    now = now_stamp()
    with site.store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO jobs (kind, subject_type, subject_id, state, max_attempts, attempts,"
            " progress, run_after, created_at, updated_at, finished_at)"
            " VALUES ('score', 'recording', ?, 'succeeded', 1, 1, 1, ?, ?, ?, ?)",
            (drafted.recording_id, now, now, now, now),
        )
        scores = {
            "problem_solving": {
                "score": 7,
                "confidence": 0.8,
                "evidence": [{"quote": "I measured the queries", "start": 1.0, "end": 2.5}],
            }
        }
        scored = site.store.reports.create(
            drafted.interview_id,
            int(cursor.lastrowid),
            {**drafted.content, "scores": scores},
            recording_id=drafted.recording_id,
            model_version="Engineer v1",
        )
    return scored.id


def test_business_lead_reads_a_report_on_a_phone(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    report_id = _scored_copy(site, _analysed_report(site, tmp_path))
    phone = {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    }
    # Control: a recruiter may override scores, and sees the form on this very report.
    recruiter = browser.new_context(**phone)
    page = new_page(recruiter, site.problems)
    log_in(page, site, "rec.eng")
    page.wait_for_url(site.url("/"))
    page.goto(site.url(f"/reports/{report_id}"))
    expect(page.locator("#override-form")).to_be_visible()
    recruiter.close()

    context = browser.new_context(**phone)
    page = new_page(context, site.problems)
    log_in(page, site, "lead.eng")
    page.wait_for_url(site.url("/"))
    response = page.goto(site.url(f"/reports/{report_id}"))
    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_contain_text(f"#{report_id}")
    expect(page.locator("main")).to_contain_text("Browser Candidate")
    expect(page.locator("main")).to_contain_text("checked the recording")  # steps, in words
    expect(page.locator("main")).to_contain_text("I measured the queries")  # score evidence
    # A business lead reads; overriding scores is not theirs to do.
    expect(page.locator("#override-form")).to_have_count(0)
    expect(page.locator("form[action*='/overrides']")).to_have_count(0)
    # Nothing is wider than the phone.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px screen"
    shot(page, "report-phone.png")

    toggle = page.locator(".menu-toggle")
    nav = page.locator("#nav")
    expect(toggle).to_be_visible()
    expect(nav).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.tap()
    expect(nav).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.locator("a", has_text="Analysis")).to_have_count(0)  # no VIEW_JOBS for leads
    shot(page, "report-phone-menu.png", full_page=False)
    toggle.tap()
    expect(nav).to_be_hidden()
    context.close()
    assert site.problems == []


def test_upload_page_without_javascript_offers_a_small_file_form(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    clip = write_wav(tmp_path / "short.wav", 4.0)
    context = browser.new_context(
        viewport={"width": 1024, "height": 800}, java_script_enabled=False
    )
    page = new_page(context, site.problems)
    log_in(page, site, "rec.eng")
    page.wait_for_url(site.url("/"))
    page.goto(site.url(f"/interviews/{site.interview_id}/upload"))
    expect(page.locator("#resumable-upload")).to_be_hidden()
    expect(page.locator("#simple-upload")).to_contain_text("needs JavaScript")
    page.set_input_files("#simple-file", str(clip))
    page.click("#simple-upload button[type=submit]")
    page.wait_for_url(re.compile(r".*/analysis/\d+$"))
    expect(page.locator(".flash-success")).to_contain_text("analysis is queued")
    shot(page, "upload-nojs.png")
    job_id = int(page.url.rsplit("/", 1)[1])
    assert site.store.jobs.get(job_id).kind == "analyse"
    context.close()
    assert site.problems == []
