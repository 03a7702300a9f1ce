"""The room's code step through the real Flask app: the page, autosaved drafts resumed after a
reload, the visible tests and submissions judged by the worker, the expert's page, another
link kept out, bad requests refused with nothing stored, and Finish with and without code."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appliance.coding.sandbox import MAX_SOURCE_BYTES
from appliance.coding_round.tasks import import_task
from appliance.coding_round.trials import TRIAL_KIND
from appliance.coding_round.work import JOB_KIND
from appliance.jobs.worker import Worker
from appliance.room.consent import ConsentAnswers
from appliance.room.service import open_room, room_of
from appliance.room.takes import keep_take
from appliance.store import Store
from appliance.store.coding import StoredTask
from provisioning import vendor_editor
from tests.conftest import Appliance, csrf_token_from, login
from tests.support.coding_round import HIDDEN_EXPECTED, HIDDEN_INPUT, SUBMISSIONS, task_file
from tests.support.room_fixtures import RoomSetup, room_setup
from tests.support.room_takes import give_consent, record_take

Web = tuple[Flask, Store]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops from root to a uid")
HIDDEN_NAMES = ("big numbers", "many numbers")


def _no_hidden_case(text: str) -> None:
    assert HIDDEN_EXPECTED not in text and HIDDEN_INPUT not in text
    for name in HIDDEN_NAMES:
        assert name not in text


class Room:
    """A candidate's browser on the code step: the client, its CSRF header, the task."""

    def __init__(self, client: FlaskClient, setup: RoomSetup, task: StoredTask) -> None:
        self.client, self.setup, self.task = client, setup, task
        page = client.get(f"/room/{setup.token}/coding")
        assert page.status_code == 200
        self.page = page.get_data(as_text=True)
        self.headers = {"X-CSRFToken": csrf_token_from(self.page)}

    def url(self, path: str) -> str:
        return f"/room/{self.setup.token}/coding{path}"

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.client.post(self.url(path), json=body, headers=self.headers, **kwargs)

    def draft(self, code: str, language: str = "python") -> Any:
        return self.post(f"/tasks/{self.task.id}/draft", {"language": language, "code": code})


def _coding_room(web: Web, *, username: str = "hr.room", name: str = "Room Candidate") -> Room:
    app, store = web
    setup = room_setup(store, username=username, name=name, settings={"max_questions": 1})
    task = import_task(store, setup.hr, setup.requisition_id, task_file(generator=False))
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=False))
    return Room(app.test_client(), setup, task)


def _work(appliance: Appliance, store: Store) -> None:
    worker = Worker(appliance.config, store, kinds=[JOB_KIND, TRIAL_KIND], chores=False)
    while worker.run_once() is not None:
        pass


def test_the_page_lists_the_task_and_autosaves_resume_after_a_reload(web: Web) -> None:
    _app, store = web
    room = _coding_room(web)
    assert "Sum of numbers" in room.page and "Print the sum of the integers" in room.page
    assert "Python" in room.page and "# print the sum" in room.page  # language, starter
    assert "1 s of CPU time" in room.page or "CPU time" in room.page
    assert "three numbers" in room.page and "negative" in room.page  # the visible tests
    _no_hidden_case(room.page)

    first = room.draft("import sys\n")
    assert first.status_code == 200 and first.get_json()["saved_at"]
    second = room.draft("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n")
    assert second.status_code == 200
    again = room.draft("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n")
    assert again.get_json()["id"] == second.get_json()["id"]  # idempotent: kept once
    assert len(store.coding_work.drafts(room.setup.interview_id)) == 2

    reloaded = room.client.get(room.url("/state"))
    assert reloaded.status_code == 200
    draft = reloaded.get_json()["drafts"][str(room.task.id)]
    assert draft["code"].startswith("import sys\nprint(sum(") and draft["language"] == "python"
    _no_hidden_case(reloaded.get_data(as_text=True))


@pytest.mark.slow
@needs_root
def test_the_candidate_runs_the_visible_tests_submits_and_the_expert_sees_it(
    appliance: Appliance, web: Web
) -> None:
    app, store = web
    room = _coding_room(web, username="hr.eu", name="Coding Candidate")
    wrong = room.post(f"/tasks/{room.task.id}/runs", {"language": "python", "code": "print(1)\n"})
    assert wrong.status_code == 202
    busy = room.post(f"/tasks/{room.task.id}/runs", {"language": "python", "code": "print(2)\n"})
    assert busy.status_code == 409  # one run at a time
    assert room.client.get(room.url(f"/runs/{wrong.get_json()['id']}")).get_json() == {
        "id": wrong.get_json()["id"],
        "state": "running",
    }
    _work(appliance, store)
    shown = room.client.get(room.url(f"/runs/{wrong.get_json()['id']}"))
    result = shown.get_json()["result"]
    assert shown.get_json()["state"] == "done"
    assert (result["passed"], result["total"], result["verdict"]) == (0, 2, "wrong")
    assert [c["name"] for c in result["cases"]] == ["three numbers", "negative"]
    assert result["cases"][0]["output"].strip() == "1"
    _no_hidden_case(shown.get_data(as_text=True))

    code = SUBMISSIONS["correct"]
    ran = room.post(f"/tasks/{room.task.id}/runs", {"language": "python", "code": code})
    _work(appliance, store)
    result = room.client.get(room.url(f"/runs/{ran.get_json()['id']}")).get_json()["result"]
    assert (result["passed"], result["total"], result["verdict"]) == (2, 2, "ok")

    sent = room.post(f"/tasks/{room.task.id}/submissions", {"language": "python", "code": code})
    assert sent.status_code == 201 and sent.get_json()["state"] == "queued"
    _work(appliance, store)
    listed = room.client.get(room.url("/submissions"))
    item = listed.get_json()["items"][0]
    assert item["state"] == "judged"
    assert (item["result"]["passed"], item["result"]["total"]) == (2, 2)
    text = listed.get_data(as_text=True)
    _no_hidden_case(text)
    assert '"hidden"' not in text and "reference" not in text
    _no_hidden_case(room.client.get(room.url("/state")).get_data(as_text=True))

    actions = [
        (e.actor, e.action)
        for e in store.audit.entries()
        if e.action in ("coding.submitted", "coding.tried")
    ]
    assert actions == [("candidate", "coding.tried")] * 2 + [("candidate", "coding.submitted")]

    expert_id = _expert(store)
    with store.transaction():
        store.interviews.assign(room.setup.interview_id, expert_id, "tech_expert")
    expert = app.test_client()
    assert login(expert, "tech.room").status_code == 302
    page = expert.get(f"/tech/interviews/{room.setup.interview_id}").get_data(as_text=True)
    assert "Coding round" in page
    assert "Passed 2 of 2 visible tests and 2 of 2 hidden tests." in page


def _expert(store: Store) -> int:
    from tests.conftest import make_user

    return make_user(store, "tech.room", "tech_expert", departments=["*"], regions=["*"])


def test_another_interviews_link_cannot_read_or_write_these_drafts(web: Web) -> None:
    _app, store = web
    mine = _coding_room(web)
    assert mine.draft("print('mine')\n").status_code == 200
    other = _coding_room(web, name="Other Candidate")
    seen = other.client.get(other.url("/state")).get_json()
    assert str(mine.task.id) not in seen["drafts"]
    assert "mine" not in other.client.get(other.url("/state")).get_data(as_text=True)
    # The other link names this interview's task: not found, and nothing is stored.
    body = {"language": "python", "code": "print('theirs')\n"}
    for path in (
        f"/tasks/{mine.task.id}/draft",
        f"/tasks/{mine.task.id}/runs",
        f"/tasks/{mine.task.id}/submissions",
    ):
        refused = other.post(path, body)
        assert refused.status_code == 404, path
    assert store.coding_work.drafts(other.setup.interview_id) == []
    assert [d.code for d in store.coding_work.drafts(mine.setup.interview_id)] == [
        "print('mine')\n"
    ]
    run = mine.post(f"/tasks/{mine.task.id}/runs", body)
    assert run.status_code == 202
    assert other.client.get(other.url(f"/runs/{run.get_json()['id']}")).status_code == 404


def test_bad_requests_get_clear_errors_and_nothing_is_stored(web: Web) -> None:
    _app, store = web
    room = _coding_room(web)
    for path in ("draft", "runs", "submissions"):
        url = room.url(f"/tasks/{room.task.id}/{path}")
        malformed = room.client.post(
            url, data="{not json", content_type="application/json", headers=room.headers
        )
        assert malformed.status_code == 400, path
        assert malformed.get_json()["error"]["code"] == "invalid_request"
        missing = room.post(f"/tasks/{room.task.id}/{path}", {"language": "python"})
        assert missing.status_code == 400
        unknown_task = room.post(f"/tasks/999999/{path}", {"language": "python", "code": "x=1"})
        assert unknown_task.status_code == 404
        assert unknown_task.get_json()["error"]["message"] == "no coding task 999999"
        language = room.post(f"/tasks/{room.task.id}/{path}", {"language": "cobol", "code": "x"})
        assert language.status_code == 422
        assert "language must be one of: python" in language.get_json()["error"]["message"]
        big = "x" * (MAX_SOURCE_BYTES + 1)
        oversized = room.post(f"/tasks/{room.task.id}/{path}", {"language": "python", "code": big})
        assert oversized.status_code == 413
        assert "larger than 256 KiB" in oversized.get_json()["error"]["message"]
        no_csrf = room.client.post(
            url,
            json={"language": "python", "code": "x = 1"},
            headers={"Accept": "application/json"},
        )
        assert no_csrf.status_code == 400
        assert no_csrf.get_json()["error"]["code"] == "csrf_failed"
    assert store.coding_work.drafts(room.setup.interview_id) == []
    assert store.coding_work.submissions(room.setup.interview_id) == []
    assert store.jobs.count_for(TRIAL_KIND, "interview", room.setup.interview_id) == 0


def test_the_code_step_comes_after_the_device_check(web: Web) -> None:
    app, store = web
    setup = room_setup(store)
    task = import_task(store, setup.hr, setup.requisition_id, task_file(generator=False))
    client = app.test_client()
    assert client.get(f"/room/{setup.token}/coding").status_code == 404  # never opened
    open_room(store, setup.token)
    early = client.get(f"/room/{setup.token}/coding")
    assert early.status_code == 302 and early.headers["Location"].endswith(f"/room/{setup.token}")
    page = client.get(f"/room/{setup.token}").get_data(as_text=True)
    headers = {"X-CSRFToken": csrf_token_from(page)}
    refused = client.post(
        f"/room/{setup.token}/coding/tasks/{task.id}/draft",
        json={"language": "python", "code": "x = 1"},
        headers=headers,
    )
    assert refused.status_code == 409
    assert client.get(f"/room/{setup.token}/coding/state").status_code == 409
    assert client.get("/room/not-a-link/coding/state").status_code == 404


def _answer_the_question(appliance: Appliance, store: Store, token: str, tmp_path: Path) -> None:
    from tests.support.room_media import answer_webm, librivox_clips

    data = answer_webm(tmp_path / "a.webm", next(iter(librivox_clips()))).read_bytes()
    record_take(store, appliance, token, data, "coding-room-take-1234")
    keep_take(store, room_of(store, token), "coding-room-take-1234")


def test_finish_works_without_code_and_the_room_offers_the_code_step(
    appliance: Appliance, web: Web, tmp_path: Path
) -> None:
    _app, store = web
    room = _coding_room(web)
    interview_page = room.client.get(f"/room/{room.setup.token}/interview").get_data(as_text=True)
    assert f'href="/room/{room.setup.token}/coding"' in interview_page
    _answer_the_question(appliance, store, room.setup.token, tmp_path)
    closed = room.client.post(
        f"/room/{room.setup.token}/close",
        data={"csrf_token": csrf_token_from(room.page), "from": "coding"},
    )
    assert closed.status_code == 200 and "your interview is complete" in closed.get_data(
        as_text=True
    )
    gone = room.client.get(room.url("/state"))
    assert gone.status_code == 410


@pytest.mark.slow
@needs_root
def test_finish_waits_while_a_submission_is_judged(
    appliance: Appliance, web: Web, tmp_path: Path
) -> None:
    _app, store = web
    room = _coding_room(web)
    _answer_the_question(appliance, store, room.setup.token, tmp_path)
    code = {"language": "python", "code": SUBMISSIONS["correct"]}
    assert room.post(f"/tasks/{room.task.id}/submissions", code).status_code == 201
    form = {"csrf_token": csrf_token_from(room.page), "from": "coding"}
    waiting = room.client.post(f"/room/{room.setup.token}/close", data=form)
    assert waiting.status_code == 302 and waiting.headers["Location"].endswith("/coding")
    assert "still being judged" in room.client.get(room.url("")).get_data(as_text=True)
    _work(appliance, store)
    done = room.client.post(f"/room/{room.setup.token}/close", data=form)
    assert done.status_code == 200


def test_the_editor_is_vendored_only_with_its_pinned_integrity(tmp_path: Path) -> None:
    fake = io.BytesIO()
    with tarfile.open(fileobj=fake, mode="w:gz") as archive:
        info = tarfile.TarInfo("package/lib/codemirror.js")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"//"))
    with pytest.raises(vendor_editor.VendorError, match="integrity mismatch"):
        vendor_editor.install(fake.getvalue(), tmp_path / "codemirror")
    assert not (tmp_path / "codemirror").exists()
    assert vendor_editor.integrity_of(b"") == (
        "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
    )
