"""Dynamic follow-ups: the real worker transcribes a kept answer and adds a probe within budget."""

from __future__ import annotations

import time
import wave

import pytest

from appliance.jobs.worker import Worker
from appliance.room.consent import ConsentAnswers
from appliance.room.followups import FOLLOWUP, pick_probe, request_followup
from appliance.room.service import current_question, room_of
from appliance.room.takes import keep_take
from appliance.store import Store
from tests.conftest import MODEL_PACKS, Appliance
from tests.support.room_fixtures import room_setup
from tests.support.room_media import answer_webm, librivox_clips, wav_pcm
from tests.support.room_takes import give_consent, record_take


def test_pick_probe_prefers_the_question_s_own_competency() -> None:
    alerts = [
        {"code": "vague_role", "dimension": "ownership", "probe": "What did you do yourself?"},
        {"code": "no_result", "dimension": "teamwork", "probe": "What came of it?"},
        {"code": "off_topic", "dimension": "teamwork", "probe": "  "},
    ]
    assert pick_probe(alerts, "teamwork") == "What came of it?"
    assert pick_probe(alerts, "learning") == "What did you do yourself?"
    assert pick_probe([{"code": "x", "probe": ""}], None) is None


def _kept_answer(store: Store, appliance: Appliance, tmp_path: object, **settings: object) -> str:
    setup = room_setup(store, settings={"followups": True, **settings})
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    # Five LibriVox sentences in a row: a long, rambling answer without a result.
    clip = tmp_path / "answer.wav"  # type: ignore[operator]
    with wave.open(str(clip), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        for path in librivox_clips():
            out.writeframes(wav_pcm(path)[0])
    data = answer_webm(tmp_path / "answer.webm", clip).read_bytes()  # type: ignore[operator]
    record_take(store, appliance, setup.token, data, "followup-take-123456")
    return setup.token


@pytest.mark.realtime
def test_a_follow_up_that_comes_too_late_is_dropped(
    appliance: Appliance, store: Store, tmp_path: object
) -> None:
    token = _kept_answer(store, appliance, tmp_path, followup_budget_s=1)
    opened = room_of(store, token)
    take = keep_take(store, opened, "followup-take-123456")
    deadline = request_followup(store, appliance.config, opened, take)
    assert deadline is not None
    time.sleep(1.5)  # the candidate has moved on
    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded"
    job = store.jobs.get(outcome.job_id)
    assert job.kind == FOLLOWUP and job.result == {"followup": None, "reason": "late"}
    assert [q.kind for q in store.room.questions(opened.room.id)] == ["planned"] * 3


def test_no_follow_up_without_consent_to_ai(
    appliance: Appliance, store: Store, tmp_path: object
) -> None:
    setup = room_setup(store, settings={"followups": True})
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=False))
    clip = next(iter(librivox_clips()))
    data = answer_webm(tmp_path / "a.webm", clip).read_bytes()  # type: ignore[operator]
    record_take(store, appliance, setup.token, data, "no-ai-followup-12345")
    opened = room_of(store, setup.token)
    take = keep_take(store, opened, "no-ai-followup-12345")
    assert request_followup(store, appliance.config, opened, take) is None


@pytest.mark.slow
def test_the_worker_adds_a_follow_up_from_the_answer_in_time(
    appliance: Appliance, store: Store, tmp_path: object
) -> None:
    if not (MODEL_PACKS / "whisper-base" / "manifest.json").is_file():
        pytest.skip("speech model packs are not built (make setup)")
    scoring = pytest.importorskip("appliance.scoring")
    if not hasattr(scoring, "live_alerts"):
        pytest.skip("the scoring's live_alerts is not installed")
    token = _kept_answer(store, appliance, tmp_path, followup_budget_s=60)
    opened = room_of(store, token)
    planned = current_question(store, opened.room)
    take = keep_take(store, opened, "followup-take-123456")
    assert request_followup(store, appliance.config, opened, take) is not None
    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None and outcome.state == "succeeded", store.jobs.get(
        outcome.job_id if outcome else 0
    )
    result = store.jobs.get(outcome.job_id).result or {}
    assert result.get("followup") is not None, result
    question = current_question(store, room_of(store, token).room)
    assert question is not None and planned is not None
    assert question.kind == "followup" and question.based_on == planned.id
    assert question.dimension_key == planned.dimension_key and question.text.strip()
    stored = store.conn.execute(
        "SELECT text FROM room_questions WHERE id = ?", (question.id,)
    ).fetchone()[0]
    assert stored.startswith("fc1:")  # a follow-up may quote the answer: sealed
    positions = [(q.position, q.kind) for q in store.room.questions(opened.room.id)]
    assert positions == [(0, "planned"), (1, "followup"), (2, "planned"), (3, "planned")]
