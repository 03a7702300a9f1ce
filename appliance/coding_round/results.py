"""What people see of an interview's coding round: each submission with the task version it
was judged against and its result.

The technical expert sees the rounds assigned to them; people who may read the interview's
reports see it too. A hidden case shows its name, verdict and usage only: its input, expected
output and actual output are in no view (the result never held the last two, and the task's
hidden cases are not handed out here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from appliance.coding.task import task_from_json
from appliance.hiring.review import log_candidate_read
from appliance.hiring.tech_rounds import tech_round
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.coding import CodeSubmission, StoredTask
from appliance.store.hiring import Interview


@dataclass(frozen=True)
class SubmissionView:
    """One submission, the task version it names, and that task's newest version number."""

    submission: CodeSubmission
    task: StoredTask
    title: Mapping[str, str]
    current_version: int
    # Visible cases' expected outputs by name (the candidate saw them too); never hidden ones.
    visible_expected: Mapping[str, str] = field(default_factory=dict)

    @property
    def result(self) -> dict[str, Any] | None:
        """The judged result, None while queued or once erased."""
        found = self.submission.result
        return found if found and not found.get("erased") else None

    def title_in(self, language: str) -> str:
        """The task's title in `language` ("en" or "zh"), else in the other one."""
        other = "zh" if language == "en" else "en"
        return self.title.get(language) or self.title.get(other) or self.task.key


@dataclass(frozen=True)
class CodingRound:
    """An interview's coding round: its job's tasks (current versions) and the submissions."""

    tasks: list[StoredTask]
    submissions: list[SubmissionView]


def _views(store: Store, interview: Interview) -> list[SubmissionView]:
    views = []
    newest: dict[str, int] = {}
    for submission in store.coding_work.submissions(interview.id):
        stored = store.coding_tasks.get(submission.task_id)
        if stored.key not in newest:
            versions = store.coding_tasks.versions(stored.requisition_id, stored.key)
            newest[stored.key] = versions[0].version
        task = task_from_json(stored.spec)
        views.append(
            SubmissionView(
                submission,
                stored,
                dict(task.title),
                newest[stored.key],
                {case.name: case.expected for case in task.visible_tests},
            )
        )
    return views


def _round(store: Store, interview: Interview) -> CodingRound:
    return CodingRound(
        store.coding_tasks.current(interview.requisition_id), _views(store, interview)
    )


def interview_coding(store: Store, principal: Principal, interview_id: int) -> CodingRound:
    """The coding round of an interview the principal may read the reports of (a logged read
    when there is anything of the candidate's to show)."""
    visibility = require(principal, Action.VIEW_REPORTS)
    interview = store.interviews.get_visible(interview_id, visibility)
    found = _round(store, interview)
    if found.submissions:
        candidate = store.candidates.get(interview.candidate_id)
        log_candidate_read(store, principal, candidate.pseudonym, f"coding:{interview_id}")
    return found


def tech_round_coding(store: Store, principal: Principal, interview_id: int) -> CodingRound:
    """The coding round of a technical round assigned to the principal (others: not found)."""
    return _round(store, tech_round(store, principal, interview_id).interview)


def submission_json(view: SubmissionView) -> dict[str, Any]:
    """A submission for the API: code, state and the result (no hidden case's output)."""
    submission = view.submission
    return {
        "id": submission.id,
        "interview_id": submission.interview_id,
        "task": {
            "id": view.task.id,
            "key": view.task.key,
            "version": view.task.version,
            "current_version": view.current_version,
            "title": dict(view.title),
        },
        "language": submission.language,
        "state": submission.state,
        "submitted_by": "candidate" if submission.submitted_by == "candidate" else "staff",
        "submitted_at": submission.submitted_at,
        "judged_at": submission.judged_at,
        "job_id": submission.job_id,
        "erased": submission.erased,
        "code": None if submission.erased else submission.code,
        "result": view.result,
    }
