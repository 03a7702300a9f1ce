"""Dynamic follow-up questions: after an answer is kept, a worker job may add one from it.

The job transcribes the answer and asks the scoring's live alerts for a probe (e.g. "what was
your own role?"). It runs only where the candidate accepted AI analysis and the policy allows
AI evaluation, and it must finish within the requisition's time budget: a follow-up that
comes late is dropped and the planned question follows, so nobody is kept waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from appliance.media.spool import Spool
from appliance.platform.clock import from_stamp, now_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import QueueFullError
from appliance.room.plan import settings_from
from appliance.room.service import OpenedRoom, analysis_refusal
from appliance.store import Store
from appliance.store.room import RoomQuestion, Take
from inference.interfaces import Word

logger = logging.getLogger(__name__)

FOLLOWUP = "room_followup"
PRIORITY = 10  # ahead of analyses: a candidate is waiting


def request_followup(
    store: Store, config: ApplianceConfig, opened: OpenedRoom, take: Take
) -> str | None:
    """Queue a follow-up for a kept answer when configured; returns the deadline, or None."""
    room = opened.room
    settings = settings_from(room.settings)
    if not settings.followups or room.ai_choice != "accepted" or take.recording_id is None:
        return None
    question = store.room.question(take.room_question_id)
    questions = store.room.questions(room.id)
    asked = sum(1 for q in questions if q.kind == "followup")
    if question.kind != "planned" or asked >= settings.max_followups:
        return None
    requisition = store.requisitions.get(opened.interview.requisition_id)
    if requisition.competency_model_id is None:
        return None
    if analysis_refusal(store, room.interview_id, actor="candidate") is not None:
        return None
    deadline = now_stamp(float(settings.followup_budget_s))
    try:
        with store.transaction():
            store.jobs.enqueue(
                FOLLOWUP,
                subject_type="recording",
                subject_id=take.recording_id,
                payload={"room_question_id": question.id, "deadline": deadline},
                max_open=config.worker.max_queued_jobs,
                max_attempts=1,
                priority=PRIORITY,
            )
    except QueueFullError:
        # The answer is kept already; a follow-up question is a nicety the box skips when
        # it is this busy, never a reason to hold the candidate up.
        return None
    return deadline


def pick_probe(alerts: list[dict[str, Any]], dimension_key: str | None) -> str | None:
    """The probe to ask: one about the question's own competency first, else the first one."""
    usable = [a for a in alerts if str(a.get("probe") or "").strip()]
    for alert in usable:
        if dimension_key is not None and alert.get("dimension") == dimension_key:
            return str(alert["probe"]).strip()
    return str(usable[0]["probe"]).strip() if usable else None


def _answer_words(
    store: Store, config: ApplianceConfig, recording_id: int, language: str
) -> list[Word]:
    from appliance.engines.runtime import speech_backend_for
    from inference.media import decode_audio_pcm

    recording = store.recordings.get(recording_id)
    candidate = store.candidates.get(recording.candidate_id)
    key = store.vault.key_for(candidate.pseudonym)
    spool = Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)
    with spool.open(recording.spool_name, recording.wrapped_data_key, key) as reader:
        pcm = list(decode_audio_pcm(reader, sample_rate=16000))
    transcript = speech_backend_for(config, language).transcribe(
        pcm, sample_rate=16000, language=language
    )
    return transcript.words()


def _insert(store: Store, question: RoomQuestion, text: str, deadline: str) -> int | None:
    with store.transaction():
        if utcnow() > from_stamp(deadline):
            return None  # the candidate has moved on to the planned question
        later = [
            q for q in store.room.questions(question.session_id) if q.position > question.position
        ]
        if any(store.room.takes(q.id) for q in later):
            return None
        store.room.shift_questions(question.session_id, question.position + 1)
        added = store.room.add_question(
            question.session_id,
            question.position + 1,
            "followup",
            text,
            dimension_key=question.dimension_key,
            based_on=question.id,
        )
        return added.id


def followup_task(
    store: Store,
    config: ApplianceConfig,
    payload: dict[str, Any],
    report_progress: Callable[[float, str], None],
) -> dict[str, Any]:
    """Worker task: transcribe a kept answer and add a follow-up if it comes in time."""
    question = store.room.question(int(payload["room_question_id"]))
    deadline = str(payload["deadline"])
    if utcnow() > from_stamp(deadline):
        return {"followup": None, "reason": "late"}
    room = store.room.session(question.session_id)
    answer = next(
        (
            a
            for a in store.interview_answers.for_interview(room.interview_id)
            if a.room_question_id == question.id
        ),
        None,
    )
    if answer is None:
        return {"followup": None, "reason": "no answer"}
    report_progress(0.1, "transcribe")
    words = _answer_words(store, config, answer.recording_id, room.language)
    interview = store.interviews.get(room.interview_id)
    requisition = store.requisitions.get(interview.requisition_id)
    if requisition.competency_model_id is None:
        return {"followup": None, "reason": "no model"}
    report_progress(0.8, "alerts")
    from appliance.scoring import live_alerts

    model = store.competency.spec(requisition.competency_model_id)
    text = pick_probe(live_alerts(model, words, room.language), question.dimension_key)
    if text is None:
        return {"followup": None, "reason": "nothing to probe"}
    added = _insert(store, question, text, deadline)
    logger.info("follow-up for room question %s: %s", question.id, "added" if added else "late")
    return {"followup": added, "reason": None if added else "late"}
