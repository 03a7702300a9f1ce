"""Admission control (issue 22, item 4): the backlog in hours from the box's own pace, HR told
before opening more links, links issued over capacity open later (scheduled, not refused), and
a candidate's recorded answers are never turned away at the end, even with the queue full."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from appliance.accounts.auth import principal_of
from appliance.hiring.links import LinkNotOpenYetError, check_link, issue_link
from appliance.platform.clock import from_stamp, now_stamp, to_stamp, utcnow
from appliance.room.consent import ConsentAnswers
from appliance.room.service import close_room, room_of
from appliance.room.takes import keep_take
from appliance.scheduling.capacity import DEFAULT_SECONDS_PER_ANSWER, backlog, seconds_per_answer
from appliance.store import Store
from tests.conftest import Appliance, csrf_token_from, login, make_appliance
from tests.support.room_fixtures import room_setup
from tests.support.room_media import answer_webm, librivox_clips
from tests.support.room_takes import give_consent, record_take


def _finished_analysis(store: Store, seconds: float) -> None:
    """A finished analysis run that took `seconds`, as the worker records one."""
    with store.transaction():
        job = store.jobs.enqueue("analyse", max_open=10**9, max_attempts=1)
        started = utcnow() - timedelta(seconds=seconds + 5)
        store.conn.execute(
            "INSERT INTO job_runs (job_id, attempt, worker_id, claim_token, started_at, ended_at,"
            " outcome) VALUES (?, 1, 'w', ?, ?, ?, 'succeeded')",
            (
                job.id,
                f"claim-{job.id}",
                to_stamp(started),
                to_stamp(started + timedelta(seconds=seconds)),
            ),
        )
        store.conn.execute("UPDATE jobs SET state = 'succeeded' WHERE id = ?", (job.id,))


def test_the_pace_and_the_backlog(appliance: Appliance, store: Store) -> None:
    assert seconds_per_answer(store) == (DEFAULT_SECONDS_PER_ANSWER, False)
    for seconds in (40.0, 60.0, 600.0):
        _finished_analysis(store, seconds)
    assert seconds_per_answer(store) == (60.0, True)  # the median: one slow run does not rule
    with store.transaction():
        for _ in range(120):
            store.jobs.enqueue("analyse", max_open=10**9, max_attempts=1)
    found = backlog(store, appliance.config)
    assert (found.waiting, found.expected) == (120, 0)
    assert found.hours == pytest.approx(2.0)
    assert not found.over and found.opens_at() is None


def test_over_capacity_a_link_opens_later(tmp_path: Path) -> None:
    appliance = make_appliance(tmp_path, worker={"capacity_hours": 1.0})
    store = appliance.open_store()
    try:
        setup = room_setup(store)  # one link out: about 5 answers expected
        with store.transaction():
            for _ in range(60):  # 60 x 90 s = 1.5 h waiting, plus the expected answers
                store.jobs.enqueue("analyse", max_open=10**9, max_attempts=1)
        found = backlog(store, appliance.config)
        assert found.waiting == 60 and found.expected == 5 and found.over
        opens = found.opens_stamp()
        assert opens is not None
        hr = principal_of(store.users.get(setup.hr_id))
        issued = issue_link(
            store, hr, interview_id=setup.interview_id, valid_hours=24, opens_at=opens
        )
        # The link keeps its full validity from the moment it opens.
        assert from_stamp(issued.link.expires_at) - from_stamp(opens) == pytest.approx(
            timedelta(hours=24), abs=timedelta(seconds=5)
        )
        with pytest.raises(LinkNotOpenYetError) as refused:
            check_link(store, issued.token)
        assert refused.value.opens_at == opens
        audit = store.audit.entries(action="candidate_link.issued")[-1]
        assert audit.details["opens_at"] == opens
        with store.transaction():  # the time comes
            store.conn.execute(
                "UPDATE candidate_links SET opens_at = ? WHERE id = ?",
                (now_stamp(-60), issued.link.id),
            )
        check_link(store, issued.token)
    finally:
        store.close()


def test_hr_sees_the_queue_and_the_candidate_is_told_when(tmp_path: Path) -> None:
    from webui import create_app

    appliance = make_appliance(tmp_path, worker={"capacity_hours": 1.0})
    store = appliance.open_store()
    try:
        setup = room_setup(store, username="hr.queue")
        app = create_app(appliance.config, store)
        app.config.update(TESTING=True, SESSION_COOKIE_SECURE=False)
        client = app.test_client()
        assert login(client, "hr.queue").status_code == 302
        profile = client.get(f"/candidates/{setup.candidate_id}").get_data(as_text=True)
        assert "The analysis queue will take about" in profile
        assert "A link created now opens on" not in profile
        with store.transaction():
            for _ in range(60):
                store.jobs.enqueue("analyse", max_open=10**9, max_attempts=1)
        profile = client.get(f"/candidates/{setup.candidate_id}").get_data(as_text=True)
        assert "A link created now opens on" in profile
        issued = client.post(
            f"/candidates/{setup.candidate_id}/interviews/{setup.interview_id}/links",
            data={"csrf_token": csrf_token_from(profile), "valid_hours": "72"},
        )
        page = issued.get_data(as_text=True)
        assert issued.status_code == 200 and 'id="opens-later"' in page
        url = page.split('id="candidate-link" type="text" value="', 1)[1].split('"', 1)[0]
        candidate = app.test_client().get(url.replace("http://localhost", ""))
        assert candidate.status_code == 200
        assert "Your interview opens on" in candidate.get_data(as_text=True)
    finally:
        store.close()


def test_recorded_answers_are_never_turned_away(tmp_path: Path) -> None:
    appliance = make_appliance(tmp_path, worker={"max_queued_jobs": 1})
    store = appliance.open_store()
    try:
        setup = room_setup(store)
        give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
        for index, wav in enumerate(list(librivox_clips())[:3]):
            data = answer_webm(tmp_path / f"a{index}.webm", wav).read_bytes()
            key = f"take-key-full-queue-{index}"
            record_take(store, appliance, setup.token, data, key)
            keep_take(store, room_of(store, setup.token), key)
        with store.transaction():  # the queue is full
            store.jobs.enqueue("analyse", max_open=10**9, max_attempts=1)
            store.jobs.enqueue("analyse", max_open=10**9, max_attempts=1)
        closing = close_room(store, appliance.config, room_of(store, setup.token))
        assert len(closing.jobs) == 3 and closing.analysis_refused is None
    finally:
        store.close()
