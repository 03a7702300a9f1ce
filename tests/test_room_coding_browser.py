"""The room's code step in a real browser (Debian chromium) against `python -m appliance serve`
with its worker: type code, reload and find it restored, lose the connection while typing and
see it saved once it returns, run the visible tests and submit. The editor is CodeMirror where
`make editor` vendored it, else the plain text area; the screenshot lands in tests/artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.coding_round.tasks import import_task
from appliance.room.consent import ConsentAnswers
from appliance.store import Store
from tests.conftest import REPO, Appliance, make_appliance
from tests.support.browser import chromium, require_chromium
from tests.support.coding_round import HIDDEN_EXPECTED, task_file
from tests.support.room_fixtures import room_setup
from tests.support.room_takes import give_consent
from tests.support.serving import Serving, serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops from root to a uid"),
]

ARTIFACTS = REPO / "tests" / "artifacts"
require_chromium(module=True)

from playwright.sync_api import Page, expect  # noqa: E402 - after the skip above

CODE = "import sys\nprint(sum(int(v) for v in sys.stdin.read().split()))\n"


@dataclass
class Site:
    """A served appliance."""

    appliance: Appliance
    store: Store
    server: Serving
    base: str


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    appliance = make_appliance(tmp_path)
    store = appliance.open_store()
    try:
        with serving(appliance, tmp_path) as server:
            yield Site(appliance, store, server, f"http://127.0.0.1:{server.port}")
    finally:
        store.close()


def _code_of(page: Page, task_id: int) -> str:
    return str(
        page.evaluate(
            """(id) => {
              const cm = document.querySelector(`#task-${id} .CodeMirror`);
              return cm ? cm.CodeMirror.getValue() : document.getElementById(`code-${id}`).value;
            }""",
            task_id,
        )
    )


def _type_at_end(page: Page, task_id: int, text: str, *, replace: bool = False) -> None:
    editor = page.locator(f"#task-{task_id} .CodeMirror, #task-{task_id} textarea:visible").first
    editor.click()
    page.keyboard.press("Control+A" if replace else "Control+End")
    if replace:
        page.keyboard.press("Delete")
    page.keyboard.type(text)


def test_the_candidate_types_reloads_goes_offline_runs_the_tests_and_submits(site: Site) -> None:
    store = site.store
    setup = room_setup(store, settings={"max_questions": 1})
    task = import_task(store, setup.hr, setup.requisition_id, task_file(generator=False))
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=False))
    problems: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1000, "height": 1400})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(f"{site.base}/room/{setup.token}/coding")
        root = page.locator("#coding-room")
        expect(root).to_have_attribute("data-ready", "1")
        vendored = (REPO / "webui/static/vendor/codemirror/VERSION").is_file()
        expect(root).to_have_attribute("data-editor", "codemirror" if vendored else "textarea")
        section = page.locator(f"#task-{task.id}")
        status = section.locator(".save-state")

        _type_at_end(page, task.id, CODE, replace=True)
        expect(status).to_contain_text("Saved", timeout=20_000)
        page.reload()
        expect(root).to_have_attribute("data-ready", "1")
        assert _code_of(page, task.id) == CODE

        context.set_offline(True)
        _type_at_end(page, task.id, "# typed while offline\n")
        expect(status).to_contain_text("Not saved yet", timeout=20_000)
        assert "offline" in str(
            page.evaluate("() => Object.values(localStorage).join(' ')")
        )  # kept on the device meanwhile
        context.set_offline(False)
        expect(status).to_contain_text("Saved", timeout=20_000)
        last = store.coding_work.last_draft(setup.interview_id, task.id)
        assert last is not None and last.code == CODE + "# typed while offline\n"

        section.locator(".run-tests").click()
        expect(section).to_have_attribute("data-ran", "2/2", timeout=60_000)
        expect(section.locator(".run-results")).to_contain_text("Passed 2 of 2 visible tests")
        section.locator(".submit-code").click()
        expect(section).to_have_attribute("data-judged", "2/2", timeout=90_000)
        expect(page.locator("#finish-button")).to_be_enabled()
        assert HIDDEN_EXPECTED not in page.content()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "room-coding.png"), full_page=True)
        context.close()
    assert problems == []
    submissions = store.coding_work.submissions(setup.interview_id)
    assert [s.state for s in submissions] == ["judged"]
