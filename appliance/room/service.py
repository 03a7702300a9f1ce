"""The candidate's interview room: open it from a signed link, walk the plan, close it.

A room belongs to one interview and is opened by that interview's link only; every request
names the link again, so nothing in a room can be reached with another candidate's link. A
closed room cannot be opened again (the link is spent). Closing queues the analysis of every
kept answer, unless the candidate declined AI analysis or the region's policy refuses AI
evaluation, and notifies the person who issued the link.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from appliance.compliance.policy import PolicyAction, decide_for_interview
from appliance.hiring.links import InvalidLinkError, check_link, verify_link
from appliance.media.recordings import check_queue_room
from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ApplianceError, NotFoundError
from appliance.platform.words import said
from appliance.room.consent import room_language
from appliance.room.plan import (
    personal_questions,
    planned_questions,
    requisition_settings,
    settings_from,
)
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.hiring import Interview
from appliance.store.links import CandidateLink
from appliance.store.queue import Job
from appliance.store.resumes import PersonalQuestion
from appliance.store.room import RoomQuestion, RoomSession, Take
from appliance.store.segments import PlannedQuestion

logger = logging.getLogger(__name__)

# Places in a room's plan that personalised questions (from the resume match) may take.
PERSONAL_PLACES = 2

ANALYSE = "analyse"
JUDGING_WAIT_S = 600  # judging takes seconds; the longest Finish waits for a queued submission
STAGES = ("consent", "device_check", "questions", "closed")


class RoomError(ApplianceError):
    """The room cannot do that now (a clear message for the candidate)."""

    exit_code = 27


class RoomClosedError(RoomError):
    """The interview was completed: its link cannot be used again."""


class AnalysisRefusedError(ApplianceError):
    """AI analysis may not start for this interview (consent or region policy)."""

    exit_code = 28


@dataclass(frozen=True)
class OpenedRoom:
    """An interview's room as a link opens it."""

    interview: Interview
    link: CandidateLink
    room: RoomSession


def _candidate_pseudonym(store: Store, interview: Interview) -> str:
    return store.candidates.get(interview.candidate_id).pseudonym


def open_room(store: Store, token: str) -> OpenedRoom:
    """What a candidate's link opens (audited); the room is created on first use."""
    interview, link = verify_link(store, token)
    room = store.room.session_for(interview.id)
    if room is not None and room.stage == "closed":
        raise RoomClosedError("this interview is complete: the link cannot be used again")
    if room is None:
        room = _create_room(store, interview, link)
    return OpenedRoom(interview, link, room)


def room_of(store: Store, token: str) -> OpenedRoom:
    """The open room of a link, for each request the room's page makes (not audited)."""
    interview, link = check_link(store, token)
    room = store.room.session_for(interview.id)
    if room is None:
        raise InvalidLinkError("open the interview from its link first")
    if room.stage == "closed":
        raise RoomClosedError("this interview is complete: the link cannot be used again")
    return OpenedRoom(interview, link, room)


def _create_room(store: Store, interview: Interview, link: CandidateLink) -> RoomSession:
    requisition = store.requisitions.get(interview.requisition_id)
    settings = requisition_settings(store, requisition.id)
    language = room_language(interview.language)
    personal = personal_questions(store, interview.candidate_id, requisition.id, language)
    # Personalised questions (from the resume match) take at most two places, never all.
    personal = personal[: max(0, min(PERSONAL_PLACES, settings.max_questions - 1))]
    planned = planned_questions(store, requisition.id, language)
    plan: list[tuple[str, PlannedQuestion | PersonalQuestion]] = [
        ("planned", q) for q in planned[: settings.max_questions - len(personal)]
    ] + [("personal", q) for q in personal]
    if not plan:
        raise RoomError(
            said("no interview questions are planned for this position yet; please contact us")
        )
    with store.transaction():
        # Another request may have created it a moment ago (a double click): use that one.
        existing = store.room.session_for(interview.id)
        if existing is not None:
            return existing
        room = store.room.create_session(interview.id, link.id, language, settings.to_dict())
        for position, (kind, question) in enumerate(plan):
            store.room.add_question(
                room.id,
                position,
                kind,
                question.text,
                question_id=question.id if kind == "planned" else None,
                dimension_key=question.dimension_key,
            )
        store.audit.append(
            "candidate",
            "room.opened",
            subject=_candidate_pseudonym(store, interview),
            details={"interview": interview.id, "link": link.id, "questions": len(plan)},
        )
    return room


def begin_questions(store: Store, opened: OpenedRoom) -> RoomSession:
    """After the device check: the questions start."""
    room = opened.room
    if room.stage == "consent":
        raise RoomError(said("answer the consent questions first"))
    if room.stage == "questions":
        return room
    with store.transaction():
        return store.room.update_session(room.id, stage="questions")


def answered_ids(store: Store, room: RoomSession) -> set[int]:
    """The room's questions that have a kept answer."""
    return {a.room_question_id for a in store.interview_answers.for_interview(room.interview_id)}


def current_question(store: Store, room: RoomSession) -> RoomQuestion | None:
    """The first question without a kept answer (None: all answered)."""
    done = answered_ids(store, room)
    return next((q for q in store.room.questions(room.id) if q.id not in done), None)


def finished_takes(takes: list[Take]) -> int:
    """How many attempts at a question were recorded to the end (retakes count these)."""
    return sum(1 for take in takes if take.duration_s is not None)


def room_state(store: Store, room: RoomSession) -> dict[str, Any]:
    """Everything the room's page needs to draw itself (also after a reload)."""
    settings = settings_from(room.settings)
    questions = store.room.questions(room.id)
    done = answered_ids(store, room)
    current = next((q for q in questions if q.id not in done), None)
    takes = store.room.takes(current.id) if current is not None else []
    open_take = next((t for t in takes if t.state in ("recording", "complete")), None)
    return {
        "stage": room.stage,
        "language": room.language,
        "ai": room.ai_choice,
        "settings": settings.to_dict(),
        "total": len(questions),
        "answered": len(done),
        "question": None
        if current is None
        else {
            "id": current.id,
            "number": questions.index(current) + 1,
            "text": current.text,
            "followup": current.kind == "followup",
            "attempts_left": max(0, 1 + settings.retakes - finished_takes(takes)),
        },
        "take": None if open_take is None else take_view(open_take),
    }


def take_view(take: Take) -> dict[str, Any]:
    """A take as the room's page sees it: how far it came, and whether the answer is safe."""
    return {
        "key": take.client_key,
        "state": take.state,
        "next_seq": take.next_seq,
        "received_bytes": take.received_bytes,
        "duration_s": take.duration_s,
        # The last piece was announced (the answer is being stored, or could not be).
        "finished": take.finished_at is not None or take.state in ("complete", "used"),
        # Stored and checked in the spool: the answer can no longer be lost.
        "safe": take.safe,
        "problem": take.error,
    }


def analysis_refusal(store: Store, interview_id: int, *, actor: str) -> str | None:
    """Why AI analysis may not start for an interview (None: it may).

    The candidate's choice in the room counts in every region; the region's policy (e.g.
    Illinois: consent after a notice, before the interview) is asked as well and logs a refusal.
    """
    room = store.room.session_for(interview_id)
    if room is not None and room.ai_choice != "accepted":
        return "the candidate declined AI analysis: people review the recordings"
    decision = decide_for_interview(store, PolicyAction.RUN_AI_SCORING, interview_id, actor=actor)
    return None if decision.allowed else decision.reason


# A candidate's recorded answers are never turned away at the end of their effort: admission
# control acts when links are issued (appliance.scheduling.capacity), not when a room closes.
NEVER_FULL = 2**62


def _enqueue(
    store: Store, config: ApplianceConfig, recording_id: int, *, recorded_answer: bool = False
) -> Job:
    return store.jobs.enqueue(
        ANALYSE,
        subject_type="recording",
        subject_id=recording_id,
        max_open=NEVER_FULL if recorded_answer else config.worker.max_queued_jobs,
        max_attempts=config.worker.max_attempts,
    )


def start_analysis(
    store: Store, config: ApplianceConfig, principal: Principal, recording_id: int
) -> Job:
    """HR asks for a recording's analysis; refused where the candidate or the policy says no."""
    visibility = require(principal, Action.UPLOAD_RECORDING)
    recording = store.recordings.get(recording_id)
    interview = store.interviews.get_visible(recording.interview_id, visibility)
    actor = principal.actor
    reason = analysis_refusal(store, interview.id, actor=actor)
    if reason is not None:
        raise AnalysisRefusedError(f"AI analysis cannot start: {reason}")
    if store.room.analysis_jobs(recording.id):
        raise AnalysisRefusedError("this recording was already analysed or is queued")
    check_queue_room(store, config)
    with store.audited(actor, "analysis.requested", recording=recording.id) as entry:
        job = _enqueue(store, config, recording.id)
        entry.subject = _candidate_pseudonym(store, interview)
        entry.details["job"] = job.id
    return job


@dataclass(frozen=True)
class Closing:
    """What closing a room did."""

    jobs: list[int]
    analysis_refused: str | None
    notified: list[int]


def close_room(store: Store, config: ApplianceConfig, opened: OpenedRoom) -> Closing:
    """Finish the interview: queue the answers' analyses (where allowed) and tell HR."""
    room = opened.room
    if room.stage != "questions":
        raise RoomError(said("the interview has not started yet"))
    if current_question(store, room) is not None:
        raise RoomError(said("please answer every question before you finish"))
    if store.coding_work.judging_count(room.interview_id, since=now_stamp(-JUDGING_WAIT_S)):
        # The candidate would leave before their code is judged: finishing waits for it, but
        # a stuck queue never keeps them in the room for longer than JUDGING_WAIT_S.
        raise RoomError(said("your code is still being judged: finish again in a moment"))
    answers = store.interview_answers.for_interview(room.interview_id)
    refusal = analysis_refusal(store, room.interview_id, actor="candidate")
    # No queue check here: the answers are recorded, and a full queue takes them anyway.
    pseudonym = _candidate_pseudonym(store, opened.interview)
    jobs: list[int] = []
    with store.audited(
        "candidate", "room.closed", subject=pseudonym, interview=room.interview_id
    ) as entry:
        fresh = store.room.session(room.id)
        if fresh.stage == "closed":
            raise RoomClosedError("this interview is complete: the link cannot be used again")
        store.room.update_session(room.id, stage="closed", closed_at=now_stamp())
        if refusal is None:
            jobs = [
                _enqueue(store, config, answer.recording_id, recorded_answer=True).id
                for answer in answers
            ]
            store.interviews.set_status(room.interview_id, "analysing")
        else:
            store.interviews.set_status(room.interview_id, "recorded")
        recipients = sorted({opened.link.created_by})
        details = {
            "answers": len(answers),
            "jobs": jobs,
            "ai": room.ai_choice,
            "analysis": "queued" if refusal is None else "not_started",
        }
        for user_id in recipients:
            store.hr_notifications.add(user_id, "room.completed", room.interview_id, details)
        entry.details.update(details)
    logger.info("room of interview %s closed, %d analyses queued", room.interview_id, len(jobs))
    return Closing(jobs, refusal, recipients)


def interview_of_room_question(
    store: Store, room: RoomSession, room_question_id: int
) -> RoomQuestion:
    """A question of this room (NotFoundError for another room's question)."""
    question = store.room.question(room_question_id)
    if question.session_id != room.id:
        raise NotFoundError(f"no question {room_question_id}")
    return question
