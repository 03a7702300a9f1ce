"""Coding rounds through the web UI and the API: tasks on the job's page (upload, errors with
their lines, download), drafts and submissions through the API with role checks, the
technical expert's page in plain words (English and Chinese), and a hidden case's input and
expected output in no page or API response."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.coding_round.tasks import import_task
from appliance.coding_round.work import JOB_KIND
from appliance.jobs.worker import Worker
from appliance.store import Store
from tests.conftest import Appliance, csrf_token_from, login, make_user
from tests.support.coding_round import (
    HIDDEN_EXPECTED,
    HIDDEN_INPUT,
    SUBMISSIONS,
    CodingWorld,
    coding_world,
    task_file,
)

Web = tuple[Flask, Store]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _upload(client: FlaskClient, requisition_id: int, data: bytes, name: str) -> Any:
    page = client.get(f"/jobs/{requisition_id}")
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(
        f"/jobs/{requisition_id}/coding-tasks",
        data={"csrf_token": token, "task_file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _no_hidden_case(text: str) -> None:
    assert HIDDEN_EXPECTED not in text and HIDDEN_INPUT not in text


def test_hr_uploads_a_task_on_the_jobs_page_and_sees_faults_with_their_lines(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    client = _signed_in(app, world.hr_username)
    broken = task_file().replace(b"key: sum-numbers", b"key: Sum Numbers")
    refused = _upload(client, world.requisition_id, broken, "sum.yaml")
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "line 2, field key: starts with a-z" in html
    assert store.coding_tasks.current(world.requisition_id) == []

    saved = _upload(client, world.requisition_id, task_file(), "sum.yaml")
    assert saved.status_code == 303
    page = client.get(f"/jobs/{world.requisition_id}").get_data(as_text=True)
    assert "Sum of numbers" in page and "Tests: 2 visible, 2 hidden" in page
    assert "Download as YAML" in page
    _no_hidden_case(page)

    stored = store.coding_tasks.current(world.requisition_id)[0]
    download = client.get(
        f"/jobs/{world.requisition_id}/coding-tasks/{stored.id}/export?format=json"
    )
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="sum-numbers-v1.json"'
    assert HIDDEN_EXPECTED in download.get_data(as_text=True)  # the task's own file, for HR

    expert = _signed_in(app, world.expert_username)
    assert (
        expert.get(f"/jobs/{world.requisition_id}/coding-tasks/{stored.id}/export").status_code
        == 403
    )


def test_the_api_imports_tasks_and_takes_drafts_and_submissions_by_role(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    client = app.test_client()
    bad = client.post(
        f"/api/v1/requisitions/{world.requisition_id}/coding-tasks",
        json={"content": "key: ok\ntests: 3\n", "filename": "t.yaml"},
        headers=_bearer(world.hr_token),
    )
    assert bad.status_code == 422
    problems = bad.get_json()["error"]["problems"]
    assert {
        "where": "line 2, field tests",
        "message": "must be a non-empty list of cases",
    } in problems
    made = client.post(
        f"/api/v1/requisitions/{world.requisition_id}/coding-tasks",
        json={"content": task_file().decode(), "filename": "sum.yaml"},
        headers=_bearer(world.hr_token),
    )
    assert made.status_code == 201
    task = made.get_json()
    assert (task["version"], task["visible_tests"], task["hidden_tests"]) == (1, 2, 2)
    listed = client.get(
        f"/api/v1/requisitions/{world.requisition_id}/coding-tasks", headers=_bearer(world.hr_token)
    )
    _no_hidden_case(listed.get_data(as_text=True))

    given = client.get(
        f"/api/v1/interviews/{world.interview_id}/coding/tasks",
        headers=_bearer(world.service_token),
    )
    assert given.status_code == 200
    first = given.get_json()["items"][0]
    assert [t["name"] for t in first["visible_tests"]] == ["three numbers", "negative"]
    assert first["hidden_tests"] == 2 and "reference" not in first
    _no_hidden_case(given.get_data(as_text=True))

    body = {"task_id": task["id"], "language": "python", "code": "print(6)\n"}
    draft = client.post(
        f"/api/v1/interviews/{world.interview_id}/coding/drafts",
        json=body,
        headers=_bearer(world.service_token),
    )
    assert draft.status_code == 201 and draft.get_json()["size_bytes"] == 9
    sent = client.post(
        f"/api/v1/interviews/{world.interview_id}/coding/submissions",
        json=body,
        headers=_bearer(world.service_token),
    )
    assert sent.status_code == 201
    assert sent.get_json()["state"] == "queued" and sent.get_json()["job_id"]
    wrong_language = client.post(
        f"/api/v1/interviews/{world.interview_id}/coding/submissions",
        json={**body, "language": "cobol"},
        headers=_bearer(world.service_token),
    )
    assert wrong_language.status_code == 422

    expert_token_user = make_user(
        store, "int.ivy", "interviewer", departments=["*"], regions=["EU"]
    )
    from appliance.accounts.auth import issue_api_token

    interviewer = issue_api_token(store, world.hr.user_id, expert_token_user, "x").secret
    refused = client.post(
        f"/api/v1/interviews/{world.interview_id}/coding/submissions",
        json=body,
        headers=_bearer(interviewer),
    )
    assert refused.status_code == 403

    read = client.get(
        f"/api/v1/interviews/{world.interview_id}/coding/submissions",
        headers=_bearer(world.hr_token),
    )
    items = read.get_json()["items"]
    assert [(i["state"], i["code"], i["task"]["version"]) for i in items] == [
        ("queued", "print(6)\n", 1)
    ]


def _judge_all(appliance: Appliance, store: Store) -> None:
    worker = Worker(appliance.config, store, kinds=[JOB_KIND], chores=False)
    while worker.run_once() is not None:
        pass


def _world_with_judged_code(appliance: Appliance, store: Store) -> CodingWorld:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file(generator=False))
    client_code = {"correct": SUBMISSIONS["correct"], "wrong": SUBMISSIONS["wrong"]}
    from appliance.coding_round.work import save_draft, submit

    save_draft(store, world.hr, world.interview_id, task.id, "python", "import sys\n")
    for code in client_code.values():
        submit(store, appliance.config, world.hr, world.interview_id, task.id, "python", code)
    _judge_all(appliance, store)
    return world


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops from root to a uid")
def test_the_experts_page_shows_results_in_words_and_no_hidden_case(
    appliance: Appliance, web: Web
) -> None:
    app, store = web
    world = _world_with_judged_code(appliance, store)
    expert = _signed_in(app, world.expert_username)
    page = expert.get(f"/tech/interviews/{world.interview_id}").get_data(as_text=True)
    assert "Coding round" in page
    assert "Passed 2 of 2 visible tests and 2 of 2 hidden tests." in page
    assert "Passed 0 of 2 visible tests and 0 of 2 hidden tests." in page
    assert "Wrong output." in page and "The task defines no input generator" in page
    assert (
        "Drafts saved: 1" in page and "values = [int(v) for v in sys.stdin.read().split()]" in page
    )
    _no_hidden_case(page)

    hr = _signed_in(app, world.hr_username)
    for url in (f"/interviews/{world.interview_id}/coding", f"/jobs/{world.requisition_id}"):
        response = hr.get(url)
        assert response.status_code == 200, url
        _no_hidden_case(response.get_data(as_text=True))
    api = app.test_client()
    for url in (
        f"/api/v1/interviews/{world.interview_id}/coding/submissions",
        f"/api/v1/interviews/{world.interview_id}/coding/tasks",
        f"/api/v1/requisitions/{world.requisition_id}/coding-tasks",
    ):
        response = api.get(url, headers=_bearer(world.hr_token))
        assert response.status_code == 200, url
        _no_hidden_case(response.get_data(as_text=True))

    with store.transaction():
        store.users.set_preferences(world.expert.user_id, language="zh_CN", timezone="UTC")
    chinese = expert.get(f"/tech/interviews/{world.interview_id}").get_data(as_text=True)
    assert "编程测试" in chinese and "可见测试通过 2/2 个" in chinese
    assert "Passed 2 of 2" not in chinese
    _no_hidden_case(chinese)


def test_the_try_out_page_saves_drafts_and_refuses_other_roles(web: Web) -> None:
    app, store = web
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file(generator=False))
    hr = _signed_in(app, world.hr_username)
    page = hr.get(f"/interviews/{world.interview_id}/coding")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Sum of numbers" in html
    _no_hidden_case(html)
    token = csrf_token_from(html)
    saved = hr.post(
        f"/interviews/{world.interview_id}/coding",
        data={
            "csrf_token": token,
            "task_id": str(task.id),
            "language": "python",
            "code": "print(1)\r\n",
            "action": "draft",
        },
    )
    assert saved.status_code == 303
    assert [d.code for d in store.coding_work.drafts(world.interview_id)] == ["print(1)\n"]
    expert = _signed_in(app, world.expert_username)
    assert expert.get(f"/interviews/{world.interview_id}/coding").status_code == 403


def test_the_notice_page_shows_the_coding_round_paragraph_for_the_region(web: Web) -> None:
    from appliance.compliance.notices import save_notice

    app, store = web
    world = coding_world(store)
    fields = {name: f"{name} text" for name in ("controller", "purposes", "retention", "rights")}
    notice = save_notice(
        store,
        world.hr,
        region="EU",
        language="en",
        fields={**fields, "automated_evaluation": "how"},
    )
    hr = _signed_in(app, world.hr_username)
    before = hr.get(f"/compliance/notices/{notice.id}").get_data(as_text=True)
    assert "Coding round:" not in before
    import_task(store, world.hr, world.requisition_id, task_file(generator=False))
    after = hr.get(f"/compliance/notices/{notice.id}").get_data(as_text=True)
    assert "Coding round:" in after and "isolated sandbox" in after
