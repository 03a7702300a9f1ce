"""The coding-task form on the web over the real encrypted store: HR creates a task from the
job's page and edits one into its next version; a wrong field is named beside itself with
every other value kept (422); test rows are added and removed without JavaScript; roles that
may not edit jobs get 403; hostile input is refused or shown escaped."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from appliance.coding.task import task_from_json
from appliance.coding_round.tasks import import_task
from appliance.store import Store
from tests.conftest import csrf_token_from, login, make_user
from tests.support.coding_round import (
    HIDDEN_EXPECTED,
    HIDDEN_INPUT,
    REFERENCE,
    CodingWorld,
    coding_world,
    task_file,
)

Web = tuple[Flask, Store]


def _signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _fields(**changes: Any) -> dict[str, Any]:
    """A filled-in form for a new task: two visible tests and one hidden."""
    fields: dict[str, Any] = {
        "key": "",
        "title-en": "Add two numbers",
        "title-zh": "两数相加",
        "statement-en": "Print the sum of the two integers on the line.\r\n",
        "statement-zh": "",
        "languages": ["python"],
        "starter-python": "import sys\r\n",
        "reference-python": REFERENCE.replace("\n", "\r\n"),
        "cpu_seconds": "1",
        "wall_seconds": "4",
        "memory_mb": "64",
        "visible-0-name": "small",
        "visible-0-input": "1 2\r\n",
        "visible-0-output": "3\r\n",
        "visible-1-name": "",
        "visible-1-input": "-4 4\r\n",
        "visible-1-output": "0\r\n",
        "hidden-0-name": "large",
        "hidden-0-input": "4000000000 1\r\n",
        "hidden-0-output": "4000000001\r\n",
    }
    fields.update(changes)
    return fields


def _post(client: FlaskClient, path: str, fields: dict[str, Any]) -> Any:
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    return client.post(
        path, data={"csrf_token": token, **fields}, content_type="multipart/form-data"
    )


def _new(world: CodingWorld) -> str:
    return f"/jobs/{world.requisition_id}/coding-tasks/new"


def test_hr_creates_a_task_in_the_form_from_the_jobs_page(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    client = _signed_in(app, world.hr_username)
    job_page = client.get(f"/jobs/{world.requisition_id}").get_data(as_text=True)
    assert f'href="{_new(world)}"' in job_page
    blank = client.get(_new(world))
    assert blank.status_code == 200
    html = blank.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'name="visible-0-input"' in html
    assert 'name="reference-python"' in html and 'value="256"' in html

    saved = _post(client, _new(world), _fields())
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#coding-tasks")
    [stored] = store.coding_tasks.current(world.requisition_id)
    assert (stored.key, stored.version, stored.origin) == ("add-two-numbers", 1, "form")
    task = task_from_json(stored.spec)
    assert [(t.name, t.input, t.expected, t.hidden) for t in task.tests] == [
        ("small", "1 2\n", "3\n", False),
        ("case 2", "-4 4\n", "0\n", False),
        ("large", "4000000000 1\n", "4000000001\n", True),
    ]
    assert task.languages == ("python",) and task.reference_code == REFERENCE
    assert task.statement == {"en": "Print the sum of the two integers on the line.\n"}
    assert (task.limits.cpu_s, task.limits.wall_s, task.limits.memory_bytes) == (1, 4, 64 << 20)
    page = client.get(f"/jobs/{world.requisition_id}").get_data(as_text=True)
    assert "Add two numbers" in page and "Tests: 2 visible, 1 hidden" in page
    assert "4000000001" not in page  # a hidden case's expected output stays off the job page


def test_editing_a_task_saves_its_next_version(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    first = import_task(store, world.hr, world.requisition_id, task_file())
    client = _signed_in(app, world.hr_username)
    edit = f"/jobs/{world.requisition_id}/coding-tasks/{first.id}/edit"
    assert f'href="{edit}"' in client.get(f"/jobs/{world.requisition_id}").get_data(as_text=True)
    form = client.get(edit)
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "Sum of numbers" in html and HIDDEN_INPUT in html and HIDDEN_EXPECTED in html
    assert "input generator (sizes 500, 1000, 2000, 4000, 8000) is kept" in html

    # The form as the page filled it in (its inputs and text areas), with two changes.
    inputs = re.findall(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', html)
    areas = re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>\n(.*?)</textarea>', html, re.S)
    fields: dict[str, Any] = {name: unescape(value) for name, value in [*inputs, *areas]}
    assert fields["hidden-0-input"] == HIDDEN_INPUT + "\n" and fields["cpu_seconds"] == "1"
    fields.update({"title-en": "Sum of all numbers", "languages": ["python"]})
    fields.update({"visible-2-name": "zero", "visible-2-input": "0\n", "visible-2-output": "0\n"})
    saved = _post(client, edit, fields)
    assert saved.status_code == 303
    versions = store.coding_tasks.versions(world.requisition_id, "sum-numbers")
    assert [(v.version, v.origin) for v in versions] == [(2, "form"), (1, "import")]
    task = task_from_json(versions[0].spec)
    assert task.title["en"] == "Sum of all numbers" and task.title["zh"] == "数字求和"
    assert [t.name for t in task.visible_tests] == ["three numbers", "negative", "zero"]
    assert task.hidden_count == 2 and task.generator is not None
    assert store.coding_tasks.get(first.id).spec == first.spec
    flashed = client.get(f"/jobs/{world.requisition_id}").get_data(as_text=True)
    assert "saved as version 2" in flashed

    stale = _post(client, edit, fields)  # the form of version 1, saved again
    assert stale.status_code == 422
    assert "version 2 of this task was saved after version 1" in stale.get_data(as_text=True)
    # Another job's task, through this job's address: not found.
    with store.transaction():
        second = store.requisitions.create("Frontend engineer", "Engineering", "Berlin", "EU")
    other = import_task(store, world.hr, second.id, task_file())
    assert (
        client.get(f"/jobs/{world.requisition_id}/coding-tasks/{other.id}/edit").status_code == 404
    )
    assert client.get(f"/jobs/{second.id}/coding-tasks/{other.id}/edit").status_code == 200


def test_a_wrong_field_is_named_beside_it_and_the_rest_is_kept(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    client = _signed_in(app, world.hr_username)
    refused = _post(client, _new(world), _fields(cpu_seconds="fast", **{"hidden-0-name": "small"}))
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert (
        'id="cpu_seconds" name="cpu_seconds" value="fast" inputmode="decimal" aria-invalid="true"'
        in html
    )
    assert '<p class="field-error" id="cpu_seconds-error">must be a number</p>' in html
    assert '<a href="#cpu_seconds">CPU time per test (seconds): must be a number</a>' in html
    assert '<a href="#hidden-0-name">Hidden test 1: Name: ' in html  # taken by the first row
    assert "&#39;small&#39; is taken by tests[0]" in html
    # Everything else is as typed.
    assert 'value="Add two numbers"' in html and 'value="两数相加"' in html
    assert ">\n4000000000 1\n</textarea>" in html and ">\n-4 4\n</textarea>" in html
    assert 'value="python" id="languages-python" checked' in html
    assert store.coding_tasks.current(world.requisition_id) == []


def test_test_rows_are_added_and_removed_without_javascript(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    client = _signed_in(app, world.hr_username)
    added = _post(client, _new(world), _fields(add_row="visible"))
    assert added.status_code == 200
    html = added.get_data(as_text=True)
    assert (
        'name="visible-2-input"' in html
        and 'id="visible-2-name" name="visible-2-name" value="" maxlength="100" autofocus' in html
    )
    assert 'value="small"' in html and store.coding_tasks.current(world.requisition_id) == []
    removed = _post(client, _new(world), _fields(remove_row="visible-0"))
    html = removed.get_data(as_text=True)
    assert 'value="small"' not in html and ">\n-4 4\n</textarea>" in html
    assert 'name="visible-1-input"' not in html
    assert store.coding_tasks.current(world.requisition_id) == []


def test_roles_that_may_not_edit_jobs_get_403(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    first = import_task(store, world.hr, world.requisition_id, task_file())
    make_user(store, "lead.eu", "business_lead", departments=["*"], regions=["EU"])
    edit = f"/jobs/{world.requisition_id}/coding-tasks/{first.id}/edit"
    for username in (world.expert_username, "lead.eu"):
        client = _signed_in(app, username)
        assert client.get(_new(world)).status_code == 403
        assert client.get(edit).status_code == 403
        token = csrf_token_from(client.get("/").get_data(as_text=True))
        for path in (_new(world), edit):
            sent = client.post(
                path,
                data={"csrf_token": token, **_fields()},
                content_type="multipart/form-data",
            )
            assert sent.status_code == 403
    lead_page = _signed_in(app, "lead.eu").get(f"/jobs/{world.requisition_id}")
    assert _new(world) not in lead_page.get_data(as_text=True) and edit not in lead_page.get_data(
        as_text=True
    )
    assert [
        v.version for v in store.coding_tasks.versions(world.requisition_id, "sum-numbers")
    ] == [1]
    assert len(store.coding_tasks.current(world.requisition_id)) == 1


def test_hostile_input_is_refused_or_shown_escaped(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    client = _signed_in(app, world.hr_username)
    huge = _post(client, _new(world), _fields(**{"statement-en": "x" * 30_000}))
    assert huge.status_code == 422
    assert "Statement in English: is longer than 20000 characters" in huge.get_data(as_text=True)
    too_big = _post(client, _new(world), _fields(**{"statement-en": "y" * 600_000}))
    assert too_big.status_code == 413
    assert store.coding_tasks.current(world.requisition_id) == []

    script = "<script>alert(1)</script>"
    hostile = _fields(
        **{
            "title-en": f"Sum {script}",
            "statement-en": f"Read {script}\n</textarea><b>x</b>",
            "visible-0-name": f"n{script}",
            "key": "sum-x",
        }
    )
    assert _post(client, _new(world), hostile).status_code == 303
    for path in (
        f"/jobs/{world.requisition_id}",
        f"/jobs/{world.requisition_id}/coding-tasks/{store.coding_tasks.current(world.requisition_id)[0].id}/edit",
    ):
        html = client.get(path).get_data(as_text=True)
        assert script not in html and "</textarea><b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
