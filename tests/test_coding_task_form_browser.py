"""The coding-task form in a real browser (Debian chromium) against `python -m appliance serve`:
HR opens it from the job's page, adds a second visible test row with the form's own button,
fills both and saves; the job's page lists the task. The screenshot lands in tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.coding.task import task_from_json
from appliance.store import Store
from tests.conftest import REPO, USER_PASSWORD, make_appliance, make_user
from tests.support.browser import chromium, require_chromium
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"
require_chromium(module=True)

from playwright.sync_api import expect  # noqa: E402 - after the skip above

REFERENCE = "a, b = map(int, input().split())\nprint(a + b)\n"


@dataclass
class Site:
    """A served appliance with an HR admin and one job."""

    store: Store
    base: str
    requisition_id: int


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    appliance = make_appliance(tmp_path)
    store = appliance.open_store()
    make_user(store, "hr.eu", "hr_admin", departments=["*"], regions=["EU"])
    with store.transaction():
        job = store.requisitions.create("Backend engineer", "Engineering", "Berlin", "EU")
    try:
        with serving(appliance, tmp_path) as server:
            yield Site(store, f"http://127.0.0.1:{server.port}", job.id)
    finally:
        store.close()


def test_hr_creates_a_task_with_two_test_rows_in_the_form(site: Site) -> None:
    problems: list[str] = []
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1100, "height": 1400}).new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto(f"{site.base}/login")
        page.fill("#username", "hr.eu")
        page.fill("#password", USER_PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{site.base}/jobs/{site.requisition_id}")
        page.click("#new-coding-task")
        expect(page.locator("h1")).to_have_text("New coding task")

        page.fill("#title-en", "Add two numbers")
        page.fill("#statement-en", "Print the sum of the two integers on the line.")
        page.fill("#reference-python", REFERENCE)
        page.fill("#visible-0-name", "small")
        page.fill("#visible-0-input", "1 2\n")
        page.fill("#visible-0-output", "3\n")
        page.click("#add-visible")  # a submit button: the form comes back with a new row
        expect(page.locator("#visible-1-name")).to_be_focused()
        expect(page.locator("#title-en")).to_have_value("Add two numbers")
        page.fill("#visible-1-input", "-4 4\n")
        page.fill("#visible-1-output", "0\n")
        page.fill("#hidden-0-input", "40 2\n")
        page.fill("#hidden-0-output", "42\n")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "coding-task-form.png"), full_page=True)
        page.click("#save-task")

        page.wait_for_url(f"**/jobs/{site.requisition_id}*")
        expect(page.locator("#coding-tasks")).to_contain_text("Add two numbers")
        expect(page.locator("#coding-tasks")).to_contain_text("Tests: 2 visible, 1 hidden")
    assert problems == []
    [stored] = site.store.coding_tasks.current(site.requisition_id)
    task = task_from_json(stored.spec)
    assert (stored.key, stored.origin) == ("add-two-numbers", "form")
    assert [(t.name, t.input, t.expected) for t in task.visible_tests] == [
        ("small", "1 2\n", "3\n"),
        ("case 2", "-4 4\n", "0\n"),
    ]
    assert task.reference_code == REFERENCE
