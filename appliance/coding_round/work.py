"""A candidate's work on a coding task: drafts (each autosave, with its time) and submissions,
each submission queued for the worker to judge (never judged in a web request).

Two ways in, the same rules: staff and service accounts with `coding.submit` act on the
interviews of their scope (the API, HR's test page); the candidate room acts through the
candidate's signed link (`room_*`: the link is checked on every call, as the room's other
requests are). A task is reached only through the interview's own job, so an id of another
job's task finds nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from appliance.coding.sandbox import MAX_SOURCE_BYTES
from appliance.coding.task import CodingTask, task_from_json
from appliance.coding_round.tasks import candidate_task_json
from appliance.coding_round.trials import (
    MAX_TRIALS,
    TRIAL_KIND,
    TRIAL_PRIORITY,
    TRIAL_SUBJECT,
    submission_view,
    trial_view,
)
from appliance.hiring.common import InvalidInputError
from appliance.hiring.links import check_link
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.coding import CodeDraft, CodeSubmission, StoredTask
from appliance.store.hiring import Interview
from appliance.store.queue import Job

JOB_KIND = "coding_judge"
PRIORITY = 50  # ahead of recording analyses: a candidate or an expert is waiting for it
MAX_ATTEMPTS = 2
MAX_DRAFTS = 2000  # per interview and task: an autosave every few seconds for two hours
MAX_SUBMISSIONS = 20  # per interview and task: each one costs the box a full judging
CANDIDATE_ACTOR = "candidate"
NEVER_FULL = 2**62  # a candidate's submission is never refused (appliance.room.service)


class CodingLimitError(RefusedError):
    """An interview has used up its drafts or submissions for a task (answered with 422)."""


def _task_of(store: Store, interview: Interview, task_id: int) -> tuple[StoredTask, CodingTask]:
    """A task version of the interview's own job; any other id is not found."""
    stored = store.coding_tasks.get(task_id)
    if stored.requisition_id != interview.requisition_id:
        raise NotFoundError(f"no coding task {task_id}")
    return stored, task_from_json(stored.spec)


def _check_code(task: CodingTask, language: str, code: str) -> None:
    problems = []
    if language not in task.languages:
        problems.append(f"language must be one of: {', '.join(task.languages)}")
    if len(code.encode("utf-8")) > MAX_SOURCE_BYTES:
        problems.append(f"the code is larger than {MAX_SOURCE_BYTES // 1024} KiB")
    if "\x00" in code:
        problems.append("the code holds a NUL character")
    if problems:
        raise InvalidInputError(problems)


def _version_ids(store: Store, stored: StoredTask) -> list[int]:
    return [v.id for v in store.coding_tasks.versions(stored.requisition_id, stored.key)]


def _live(interview: Interview) -> None:
    if interview.status == "cancelled":
        raise RefusedError(said("the interview was cancelled"))


def _save_draft(
    store: Store, interview: Interview, task_id: int, language: str, code: str
) -> CodeDraft:
    _live(interview)
    stored, task = _task_of(store, interview, task_id)
    _check_code(task, language, code)
    with store.transaction():
        last = store.coding_work.last_draft(interview.id, stored.id)
        if last is not None and last.code == code and last.language == language:
            return last  # an autosave of nothing new is not a new draft
        if store.coding_work.draft_count(interview.id, _version_ids(store, stored)) >= MAX_DRAFTS:
            raise CodingLimitError(f"at most {MAX_DRAFTS} drafts of one task are kept")
        return store.coding_work.add_draft(interview.id, stored.id, language, code)


def _submit(
    store: Store,
    config: ApplianceConfig,
    interview: Interview,
    task_id: int,
    language: str,
    code: str,
    actor: str,
) -> CodeSubmission:
    _live(interview)
    stored, task = _task_of(store, interview, task_id)
    _check_code(task, language, code)
    if not code.strip():
        raise InvalidInputError(["the code is empty"])
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(actor, "coding.submitted", subject=candidate.pseudonym) as entry:
        made = store.coding_work.submission_count(interview.id, _version_ids(store, stored))
        if made >= MAX_SUBMISSIONS:
            raise CodingLimitError(f"at most {MAX_SUBMISSIONS} submissions of one task")
        submission = store.coding_work.add_submission(
            interview.id, stored.id, language, code, actor
        )
        job = store.jobs.enqueue(
            JOB_KIND,
            subject_type="coding_submission",
            subject_id=submission.id,
            payload={"submission_id": submission.id},
            # A candidate's submitted code is never turned away (as their recorded answers).
            max_open=NEVER_FULL if actor == CANDIDATE_ACTOR else config.worker.max_queued_jobs,
            max_attempts=MAX_ATTEMPTS,
            priority=PRIORITY,
        )
        store.coding_work.set_job(submission.id, job.id)
        entry.details.update(
            interview=interview.id,
            task=stored.id,
            key=stored.key,
            version=stored.version,
            submission=submission.id,
            language=language,
            job=job.id,
        )
    return replace(submission, job_id=job.id)


def _tasks_for(store: Store, interview: Interview) -> list[dict[str, Any]]:
    return [
        candidate_task_json(stored, task_from_json(stored.spec))
        for stored in store.coding_tasks.current(interview.requisition_id)
    ]


# --- staff and service accounts ------------------------------------------------------------------


def _interview(store: Store, principal: Principal, interview_id: int) -> Interview:
    visibility = require(principal, Action.SUBMIT_CODE)
    return store.interviews.get_visible(interview_id, visibility)


def interview_tasks(store: Store, principal: Principal, interview_id: int) -> list[dict[str, Any]]:
    """The tasks of the interview's job as the candidate is given them (current versions)."""
    return _tasks_for(store, _interview(store, principal, interview_id))


def save_draft(
    store: Store, principal: Principal, interview_id: int, task_id: int, language: str, code: str
) -> CodeDraft:
    """Keep an autosave of the candidate's code (the same code twice is kept once)."""
    return _save_draft(store, _interview(store, principal, interview_id), task_id, language, code)


def submit(
    store: Store,
    config: ApplianceConfig,
    principal: Principal,
    interview_id: int,
    task_id: int,
    language: str,
    code: str,
) -> CodeSubmission:
    """Store submitted code and queue the job that judges it (audited)."""
    interview = _interview(store, principal, interview_id)
    return _submit(store, config, interview, task_id, language, code, principal.actor)


# --- the candidate room (through the candidate's signed link) --------------------------------


def room_tasks(store: Store, token: str) -> list[dict[str, Any]]:
    """The tasks of the link's interview, as the candidate is given them."""
    interview, _link = check_link(store, token)
    return _tasks_for(store, interview)


def room_save_draft(store: Store, token: str, task_id: int, language: str, code: str) -> CodeDraft:
    """An autosave from the room: the link names the interview."""
    interview, _link = check_link(store, token)
    return _save_draft(store, interview, task_id, language, code)


def room_submit(
    store: Store, config: ApplianceConfig, token: str, task_id: int, language: str, code: str
) -> CodeSubmission:
    """A submission from the room: the link names the interview; audited as the candidate's."""
    interview, _link = check_link(store, token)
    return _submit(store, config, interview, task_id, language, code, CANDIDATE_ACTOR)


def room_drafts(store: Store, token: str) -> dict[int, CodeDraft]:
    """The newest draft of each of the interview's current tasks (the room resumes from it)."""
    interview, _link = check_link(store, token)
    found = {}
    for stored in store.coding_tasks.current(interview.requisition_id):
        last = store.coding_work.last_draft(interview.id, stored.id)
        if last is not None:
            found[stored.id] = last
    return found


def room_run(
    store: Store, config: ApplianceConfig, token: str, task_id: int, language: str, code: str
) -> Job:
    """The candidate's "run the tests": the code is kept as a draft and the worker runs it on
    the visible cases (one run at a time per interview; audited as the candidate's)."""
    interview, _link = check_link(store, token)
    if not code.strip():
        raise InvalidInputError(["the code is empty"])
    draft = _save_draft(store, interview, task_id, language, code)
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(CANDIDATE_ACTOR, "coding.tried", subject=candidate.pseudonym) as entry:
        if store.jobs.count_for(TRIAL_KIND, TRIAL_SUBJECT, interview.id, open_only=True):
            raise RefusedError(said("the tests are already running: wait for their result"))
        if store.jobs.count_for(TRIAL_KIND, TRIAL_SUBJECT, interview.id) >= MAX_TRIALS:
            raise CodingLimitError(f"the tests can be run at most {MAX_TRIALS} times")
        job = store.jobs.enqueue(
            TRIAL_KIND,
            subject_type=TRIAL_SUBJECT,
            subject_id=interview.id,
            payload={"draft_id": draft.id},
            max_open=config.worker.max_queued_jobs,
            max_attempts=1,  # a failed run is run again by the candidate, not the queue
            priority=TRIAL_PRIORITY,
        )
        entry.details.update(
            interview=interview.id, task=task_id, draft=draft.id, language=language, job=job.id
        )
    return job


def room_trial(store: Store, token: str, job_id: int) -> dict[str, Any]:
    """A trial run of the link's interview: running, or its visible cases' results."""
    interview, _link = check_link(store, token)
    job = store.jobs.get(job_id)
    if (job.kind, job.subject_type, job.subject_id) != (TRIAL_KIND, TRIAL_SUBJECT, interview.id):
        raise NotFoundError(f"no test run {job_id}")
    return trial_view(store, job)


def room_submissions(store: Store, token: str) -> list[dict[str, Any]]:
    """The interview's submissions as the candidate sees them (visible cases only)."""
    interview, _link = check_link(store, token)
    return [submission_view(s) for s in store.coding_work.submissions(interview.id)]
