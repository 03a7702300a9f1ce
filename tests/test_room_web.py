"""The room's pages and requests through the real Flask app: refusals, consent forms, JSON, API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from appliance.accounts.auth import issue_api_token
from appliance.platform.clock import utcnow
from appliance.room.consent import ConsentAnswers, record_room_consents
from appliance.security import signed_links
from appliance.store import Store
from tests.conftest import Appliance, csrf_token_from, login
from tests.support.room_fixtures import room_setup
from tests.support.room_media import answer_webm, librivox_clips


def _client(web: tuple[Any, Store]) -> Any:
    app, _store = web
    return app.test_client()


def test_expired_tampered_and_reused_links_get_a_clear_page(
    web: tuple[Any, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    _app, store = web
    setup = room_setup(store)
    client = _client(web)
    tampered = client.get(f"/room/{setup.token[:-4]}abcd")
    assert tampered.status_code == 404
    assert "not valid or has expired" in tampered.get_data(as_text=True)
    later = utcnow() + timedelta(days=4)  # links are valid for 3 days by default
    monkeypatch.setattr(signed_links, "utcnow", lambda: later)
    expired = client.get(f"/room/{setup.token}")
    assert expired.status_code == 404
    assert "not valid or has expired" in expired.get_data(as_text=True)
    monkeypatch.undo()
    opened = client.get(f"/room/{setup.token}")
    assert opened.status_code == 200
    with store.transaction():
        room = store.room.session_for(setup.interview_id)
        assert room is not None
        store.room.update_session(room.id, stage="closed", closed_at="2026-01-01T00:00:00Z")
    reused = client.get(f"/room/{setup.token}")
    assert reused.status_code == 410
    assert "cannot be used again" in reused.get_data(as_text=True)
    state = client.get(f"/room/{setup.token}/state")
    assert state.status_code == 410 and state.get_json()["error"]["code"] == "room_closed"


@pytest.mark.parametrize(
    ("region", "shown", "absent"),
    [
        ("US-IL", ["Illinois law", "AI-assisted evaluation"], ["waiver_name", 'name="biometric"']),
        ("US-MD", ["waiver_name", "Maryland"], ['name="biometric"']),
        ("CN", ['name="biometric"', "Separate consent to biometric processing"], ["waiver_name"]),
    ],
)
def test_the_consent_page_asks_what_the_region_requires(
    web: tuple[Any, Store], region: str, shown: list[str], absent: list[str]
) -> None:
    _app, store = web
    setup = room_setup(store, region=region)
    page = _client(web).get(f"/room/{setup.token}").get_data(as_text=True)
    assert "Who is asking, and why" in page and "Example Corp, HR department" in page
    assert "only people should evaluate" in page  # declining AI is always offered
    for text in shown:
        assert text in page
    for text in absent:
        assert text not in page


def test_declining_ai_still_leads_to_the_interview_and_the_api_refuses_analysis(
    web: tuple[Any, Store], appliance: Appliance, tmp_path: Any
) -> None:
    app, store = web
    setup = room_setup(store, region="US-IL")
    client = app.test_client()
    page = client.get(f"/room/{setup.token}").get_data(as_text=True)
    answer = client.post(
        f"/room/{setup.token}/consent", data={"ai": "decline", "csrf_token": csrf_token_from(page)}
    )
    # Illinois asks the optional self-identification next; it leads on to the interview.
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/self-identification")
    optional = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f'href="/room/{setup.token}/interview"' in optional
    interview_page = client.get(f"/room/{setup.token}/interview").get_data(as_text=True)
    csrf = csrf_token_from(interview_page)
    headers = {"X-CSRFToken": csrf}
    state = client.post(f"/room/{setup.token}/begin", json={}, headers=headers).get_json()
    assert state["ai"] == "declined" and state["question"]["number"] == 1
    data = answer_webm(tmp_path / "a.webm", next(iter(librivox_clips()))).read_bytes()
    key = "web-declined-key-1234"
    question = state["question"]["id"]
    made = client.post(
        f"/room/{setup.token}/questions/{question}/takes",
        json={"key": key, "content_type": "video/webm"},
        headers=headers,
    )
    assert made.status_code == 201
    half = len(data) // 2
    assert (
        client.put(
            f"/room/{setup.token}/takes/{key}/pieces/1", data=data[half:], headers=headers
        ).status_code
        == 409
    )  # a gap: piece 0 first
    for seq, piece in enumerate((data[:half], data[half:])):
        reply = client.put(
            f"/room/{setup.token}/takes/{key}/pieces/{seq}", data=piece, headers=headers
        )
        assert reply.status_code == 200 and reply.get_json()["next_seq"] == seq + 1
    finished = client.post(
        f"/room/{setup.token}/takes/{key}/finish",
        json={"pieces": 2, "bytes": len(data)},
        headers=headers,
    )
    assert finished.status_code == 200, finished.get_json()
    assert finished.get_json()["take"]["state"] == "complete"
    kept = client.post(f"/room/{setup.token}/takes/{key}/keep", json={}, headers=headers)
    assert kept.get_json()["answered"] == 1 and kept.get_json()["followup_until"] is None
    recording_id = store.interview_answers.for_interview(setup.interview_id)[0].recording_id

    token = issue_api_token(store, setup.hr_id, setup.hr_id, "room test").secret
    refused = app.test_client().post(
        f"/api/v1/recordings/{recording_id}/analysis",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "analysis_refused"
    assert store.room.analysis_jobs(recording_id) == []


def test_the_api_starts_analysis_where_consent_was_given(
    web: tuple[Any, Store], appliance: Appliance, tmp_path: Any
) -> None:
    app, store = web
    setup = room_setup(store, region="US-IL")
    room = store.room.session_for(setup.interview_id)
    assert room is None
    client = app.test_client()
    client.get(f"/room/{setup.token}")
    room = store.room.session_for(setup.interview_id)
    assert room is not None
    record_room_consents(store, room, ConsentAnswers(ai_evaluation=True), "en")
    from appliance.media.recordings import ingest_recording

    data = answer_webm(tmp_path / "b.webm", next(iter(librivox_clips()))).read_bytes()
    with open(tmp_path / "b.webm", "rb") as source:
        done = ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=setup.interview_id,
            source=source,
            filename="b.webm",
            actor="test",
        )
    with store.transaction():  # a fresh recording without its job, as a room answer has
        store.conn.execute("DELETE FROM jobs WHERE id = ?", (done.job.id,))
    token = issue_api_token(store, setup.hr_id, setup.hr_id, "room test").secret
    started = app.test_client().post(
        f"/api/v1/recordings/{done.recording.id}/analysis",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert started.status_code == 202, started.get_json()
    assert store.room.analysis_jobs(done.recording.id) == [started.get_json()["job_id"]]
    assert len(data) > 0


def test_hr_sees_the_notification_and_sets_the_room_up(
    web: tuple[Any, Store], appliance: Appliance
) -> None:
    app, store = web
    setup = room_setup(store, username="hr.notes")
    with store.transaction():
        store.hr_notifications.add(
            setup.hr_id,
            "room.completed",
            setup.interview_id,
            {"answers": 3, "jobs": [1, 2, 3], "analysis": "queued"},
        )
    client = app.test_client()
    assert login(client, "hr.notes").status_code == 302
    moved = client.get("/hr-notifications")
    assert moved.status_code == 302 and moved.headers["Location"] == "/notifications"
    page = client.get("/notifications").get_data(as_text=True)
    name = store.candidates.get(setup.candidate_id).full_name
    assert f"{name} completed their interview" in page and "analysis is queued" in page
    assert f'href="/candidates/{setup.candidate_id}"' in page
    assert 'data-unread="1"' in page  # the bell counts it
    _client(web).get(f"/room/{setup.token}")  # the candidate opens the room
    room = store.room.session_for(setup.interview_id)
    assert room is not None
    record_room_consents(store, room, ConsentAnswers(ai_evaluation=False), "en")
    profile = client.get(f"/candidates/{setup.candidate_id}").get_data(as_text=True)
    assert "0 of 3 answers kept" in profile and "AI analysis declined" in profile
    assert f"/interviews/{setup.interview_id}/live" in profile
    form = client.get(f"/requisitions/{setup.requisition_id}/room").get_data(as_text=True)
    saved = client.post(
        f"/requisitions/{setup.requisition_id}/room",
        data={
            "retakes": "2",
            "thinking_s": "15",
            "max_answer_s": "90",
            "max_questions": "5",
            "followup_budget_s": "6",
            "max_followups": "1",
            "read_aloud": "yes",
            "csrf_token": csrf_token_from(form),
        },
    )
    assert saved.status_code == 302
    assert store.room.settings_for(setup.requisition_id) == {
        "retakes": 2,
        "thinking_s": 15,
        "max_answer_s": 90,
        "max_questions": 5,
        "followup_budget_s": 6,
        "max_followups": 1,
        "read_aloud": True,
        "followups": False,
    }
    bad = client.post(
        f"/requisitions/{setup.requisition_id}/room",
        data={
            "retakes": "9",
            "thinking_s": "15",
            "max_answer_s": "90",
            "max_questions": "5",
            "followup_budget_s": "6",
            "max_followups": "1",
            "csrf_token": csrf_token_from(form),
        },
        follow_redirects=True,
    )
    assert "retakes must be a whole number from 0 to 5" in bad.get_data(as_text=True)
    assert store.room.settings_for(setup.requisition_id)["retakes"] == 2  # type: ignore[index]


def test_a_chinese_browser_gets_a_chinese_page_and_consent_text(web: tuple[Any, Store]) -> None:
    _app, store = web
    setup = room_setup(store, region="CN")
    page = (
        _client(web)
        .get(f"/room/{setup.token}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        .get_data(as_text=True)
    )
    assert '<html lang="zh-CN">' in page
    assert "生物识别处理的单独同意" in page  # the room's own consent text, in Chinese
    assert "room-consent-2026.1 zh" in page  # with its version, as it will be stored


def test_a_room_without_questions_still_says_who_invites(web: tuple[Any, Store]) -> None:
    _app, store = web
    setup = room_setup(store)
    with store.transaction():
        store.conn.execute(
            "UPDATE requisitions SET competency_model_id = NULL WHERE id = ?",
            (setup.requisition_id,),
        )
    reply = _client(web).get(f"/room/{setup.token}")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200 and "Who is asking, and why" in page
    assert "not ready yet" in page and "consent-continue" not in page
