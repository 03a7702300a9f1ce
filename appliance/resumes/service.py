"""Resumes on a candidate's profile: upload, the skills match per job, personalised questions.

Every function takes the acting principal and checks the permission table and scope; reads of
a resume are logged like other reads of candidate data, uploads and plan edits are audited
(ids and sizes only, never names or text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from appliance.hiring.review import log_candidate_read
from appliance.media.recordings import safe_display_name
from appliance.platform.clock import utcnow
from appliance.platform.errors import NotFoundError
from appliance.resumes.match import draft_questions, match_model
from appliance.resumes.profile import extract_profile
from appliance.resumes.text import ResumeError, resume_text
from appliance.security.permissions import Action, Principal, Visibility, require
from appliance.store import Store
from appliance.store.hiring import Requisition
from appliance.store.people import Candidate
from appliance.store.resumes import PersonalQuestion, Resume

MAX_QUESTION_CHARS = 1000
QUESTION_LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class JobMatch:
    """The skills match of the newest resume against one job the candidate interviews for."""

    requisition: Requisition
    summary: dict[str, Any] | None  # None when the job has no competency model
    questions: list[PersonalQuestion]


@dataclass(frozen=True)
class ResumeOverview:
    """What the profile page shows about a candidate's resume."""

    resume: Resume | None
    older: list[Resume]
    jobs: list[JobMatch]


def _candidate(store: Store, visibility: Visibility, candidate_id: int) -> Candidate:
    candidate = store.candidates.get_visible(candidate_id, visibility)
    if candidate.erased:
        raise NotFoundError(f"candidate {candidate_id} is erased")
    return candidate


def _jobs(store: Store, visibility: Visibility, candidate_id: int) -> list[tuple[Requisition, str]]:
    """The visible requisitions the candidate interviews for, with the interview language."""
    found: dict[int, tuple[Requisition, str]] = {}
    for interview in store.interviews.for_candidate_visible(candidate_id, visibility):
        if interview.requisition_id not in found:
            found[interview.requisition_id] = (
                store.requisitions.get(interview.requisition_id),
                interview.language,
            )
    return list(found.values())


def _summary(store: Store, requisition: Requisition, resume: Resume) -> dict[str, Any] | None:
    if requisition.competency_model_id is None:
        return None
    return match_model(store.competency.spec(requisition.competency_model_id), resume.extracted)


def _redraft(
    store: Store,
    principal: Principal,
    candidate: Candidate,
    resume: Resume,
    jobs: list[tuple[Requisition, str]],
) -> int:
    """Inside a transaction: replace the untouched resume questions of each job with new ones."""
    added = 0
    for requisition, language in jobs:
        summary = _summary(store, requisition, resume)
        if summary is None:
            continue
        for question in store.personal_questions.for_plan(candidate.id, requisition.id):
            # HR's own questions and the ones HR edited stay; only untouched drafts go.
            if question.source == "resume" and question.updated_at == question.created_at:
                store.personal_questions.delete(question.id)
        lang = language if language in QUESTION_LANGUAGES else "en"
        for drafted in draft_questions(summary, resume.extracted, lang):
            store.personal_questions.add(
                candidate.id,
                requisition.id,
                text=drafted["text"],
                language=lang,
                source="resume",
                dimension_key=drafted["dimension_key"],
                resume_id=resume.id,
                created_by=principal.user_id,
            )
            added += 1
    return added


def upload_resume(
    store: Store,
    principal: Principal,
    *,
    candidate_id: int,
    filename: str,
    data: bytes,
    today: date | None = None,
) -> Resume:
    """Read, seal and store a resume; draft personalised questions for each of its jobs.

    A file that cannot be read raises ResumeError before anything is stored.
    """
    visibility = require(principal, Action.EDIT_CANDIDATES)
    candidate = _candidate(store, visibility, candidate_id)
    content_type, text = resume_text(data)
    profile = extract_profile(text, today=today or utcnow().date())
    profile["text"] = text
    jobs = _jobs(store, visibility, candidate.id)
    with store.audited(principal.actor, "resume.uploaded", subject=candidate.pseudonym) as entry:
        resume = store.resumes.create(
            candidate.id,
            display_name=safe_display_name(filename) or "resume",
            content_type=content_type,
            data=data,
            extracted=profile,
            language=str(profile["language"]),
            uploaded_by=principal.user_id,
        )
        added = _redraft(store, principal, candidate, resume, jobs)
        entry.details.update(resume=resume.id, bytes=len(data), type=content_type, questions=added)
    return resume


def resume_overview(
    store: Store, principal: Principal, candidate_id: int, *, log_read: bool = True
) -> ResumeOverview:
    """The newest resume, its match per visible job and the personalised questions."""
    visibility = require(principal, Action.VIEW_CANDIDATES)
    candidate = _candidate(store, visibility, candidate_id)
    resumes = store.resumes.for_candidate(candidate.id)
    latest = resumes[0] if resumes else None
    jobs = [
        JobMatch(
            requisition,
            _summary(store, requisition, latest) if latest else None,
            store.personal_questions.for_plan(candidate.id, requisition.id),
        )
        for requisition, _language in _jobs(store, visibility, candidate.id)
    ]
    if log_read and latest is not None:
        log_candidate_read(store, principal, candidate.pseudonym, f"resume:{latest.id}")
    return ResumeOverview(latest, resumes[1:], jobs)


def resume_file(store: Store, principal: Principal, resume_id: int) -> tuple[Resume, bytes]:
    """A resume's file for download (logged as a read of the candidate's data)."""
    visibility = require(principal, Action.VIEW_CANDIDATES)
    resume = store.resumes.get(resume_id)
    candidate = _candidate(store, visibility, resume.candidate_id)
    data = store.resumes.file(resume.id)
    log_candidate_read(store, principal, candidate.pseudonym, f"resume-file:{resume.id}")
    return resume, data


def _question_text(text: str) -> str:
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise ResumeError("a question needs a text")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise ResumeError(f"a question is at most {MAX_QUESTION_CHARS} characters")
    return cleaned


def _dimension(store: Store, requisition: Requisition, key: str | None) -> str | None:
    key = (key or "").strip() or None
    if key is None:
        return None
    if requisition.competency_model_id is None or key not in {
        d.key for d in store.competency.spec(requisition.competency_model_id).dimensions
    }:
        raise ResumeError(f"the job's competency model has no dimension {key!r}")
    return key


def add_personal_question(
    store: Store,
    principal: Principal,
    *,
    candidate_id: int,
    requisition_id: int,
    text: str,
    dimension_key: str | None,
    language: str,
) -> PersonalQuestion:
    """HR adds a question of their own to the candidate's plan for a job."""
    visibility = require(principal, Action.EDIT_CANDIDATES)
    candidate = _candidate(store, visibility, candidate_id)
    jobs = {req.id: req for req, _lang in _jobs(store, visibility, candidate.id)}
    requisition = jobs.get(requisition_id)
    if requisition is None:
        raise NotFoundError(f"no interview of this candidate for requisition {requisition_id}")
    if language not in QUESTION_LANGUAGES:
        raise ResumeError("a question is in English (en) or Chinese (zh)")
    cleaned, key = _question_text(text), _dimension(store, requisition, dimension_key)
    with store.audited(
        principal.actor, "plan.question_added", subject=candidate.pseudonym
    ) as entry:
        question = store.personal_questions.add(
            candidate.id,
            requisition.id,
            text=cleaned,
            language=language,
            source="hr",
            dimension_key=key,
            created_by=principal.user_id,
        )
        entry.details["question"] = question.id
    return question


def _own_question(
    store: Store, principal: Principal, question_id: int
) -> tuple[PersonalQuestion, Candidate, Requisition]:
    visibility = require(principal, Action.EDIT_CANDIDATES)
    question = store.personal_questions.get(question_id)
    candidate = _candidate(store, visibility, question.candidate_id)
    requisition = store.requisitions.get_visible(question.requisition_id, visibility)
    return question, candidate, requisition


def edit_personal_question(
    store: Store, principal: Principal, question_id: int, *, text: str, dimension_key: str | None
) -> PersonalQuestion:
    """HR rewrites a question of the plan (a drafted one then stays on a new upload)."""
    question, candidate, requisition = _own_question(store, principal, question_id)
    cleaned, key = _question_text(text), _dimension(store, requisition, dimension_key)
    with store.audited(
        principal.actor, "plan.question_edited", subject=candidate.pseudonym, question=question.id
    ):
        updated = store.personal_questions.update(question.id, text=cleaned, dimension_key=key)
    return updated


def delete_personal_question(store: Store, principal: Principal, question_id: int) -> int:
    """HR removes a question from the plan; returns the candidate's id."""
    question, candidate, _requisition = _own_question(store, principal, question_id)
    with store.audited(
        principal.actor, "plan.question_removed", subject=candidate.pseudonym, question=question.id
    ):
        store.personal_questions.delete(question.id)
    return candidate.id


__all__ = [
    "JobMatch",
    "ResumeError",
    "ResumeOverview",
    "add_personal_question",
    "delete_personal_question",
    "edit_personal_question",
    "resume_file",
    "resume_overview",
    "upload_resume",
]
