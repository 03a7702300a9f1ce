"""The candidate's "run the tests": the visible cases only, run by the worker in the sandbox
(like a submission, never in a web request), and what the room shows of any result.

A trial run names the draft it runs (the code is kept sealed there); its result goes back in
the job's result sealed with the candidate's key. What the candidate is shown of a trial or
a submission holds the visible cases only: a hidden case's name, verdict and usage stay on
the technical expert's page, and its input and output are in no result at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.coding.assessment import MAX_CASE_OUTPUT, MAX_COMPILE_MESSAGE
from appliance.coding.judge import Judgement, judge
from appliance.coding.model import Verdict
from appliance.coding.task import task_from_json
from appliance.coding_round.judging import sandbox_for
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotFoundError
from appliance.store import Store
from appliance.store.coding import CodeSubmission
from appliance.store.queue import Job

TRIAL_KIND = "coding_trial"
TRIAL_PRIORITY = 40  # ahead of judging: the candidate is looking at the page, waiting
MAX_TRIALS = 300  # per interview: each run costs the box a compile and the visible cases
TRIAL_SUBJECT = "interview"


def _visible_cases(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": case["name"],
            "verdict": case["verdict"],
            "cpu_s": case.get("cpu_s"),
            "reason": case.get("reason") or "",
            "output": case.get("output"),
        }
        for case in cases
        if not case.get("hidden")
    ]


def candidate_result(result: dict[str, Any]) -> dict[str, Any]:
    """What the candidate sees of a result: visible cases, their count and verdict."""
    cases = _visible_cases(list(result.get("cases") or []))
    failing = next((c["verdict"] for c in cases if c["verdict"] != Verdict.OK.value), None)
    return {
        # From the visible cases alone: the stored verdict may be a hidden case's.
        "verdict": failing or Verdict.OK.value,
        "passed": sum(1 for c in cases if c["verdict"] == Verdict.OK.value),
        "total": len(cases),
        "cases": cases,
        "compile_message": result.get("compile_message") or "",
    }


def _trial_result(judged: Judgement) -> dict[str, Any]:
    compile_message = ""
    if judged.compile is not None and not judged.compile.ok:
        compile_message = (judged.compile.stderr or judged.compile.reason)[:MAX_COMPILE_MESSAGE]
    cases = [
        {
            "name": case.name,
            "hidden": case.hidden,
            "verdict": case.verdict.value,
            "cpu_s": round(case.cpu_s, 4),
            "reason": case.reason,
            "output": None if case.output is None else case.output[:MAX_CASE_OUTPUT],
        }
        for case in judged.cases
        if not case.hidden
    ]
    return {"cases": cases, "compile_message": compile_message}


def run_visible_tests(
    store: Store,
    config: ApplianceConfig,
    payload: dict[str, Any],
    report_progress: Callable[[float, str], None],
) -> dict[str, Any]:
    """Worker task: run a draft on its task's visible cases; the result comes back sealed."""
    draft_id = int(payload["draft_id"])
    try:
        draft = store.coding_work.draft(draft_id)
    except NotFoundError:
        return {"draft_id": draft_id, "ran": False, "reason": "erased"}
    task = task_from_json(store.coding_tasks.get(draft.task_id).spec)
    report_progress(0.1, "running the visible tests")
    judged = judge(
        sandbox_for(config),
        draft.language,
        draft.code,
        task.tests,
        task.limits,
        visible_only=True,
    )
    try:
        with store.transaction():
            sealed = store.coding_work.seal_trial(draft_id, _trial_result(judged))
    except NotFoundError:  # erased meanwhile
        return {"draft_id": draft_id, "ran": False, "reason": "erased"}
    report_progress(1.0, "done")
    return {"draft_id": draft_id, "ran": True, "sealed": sealed}


def trial_view(store: Store, job: Job) -> dict[str, Any]:
    """Where a trial run stands, for the candidate: running, done with its result, or failed."""
    if job.state in ("queued", "running"):
        return {"id": job.id, "state": "running"}
    found = job.result or {}
    sealed, draft_id = found.get("sealed"), found.get("draft_id")
    opened = (
        store.coding_work.open_trial(int(draft_id), sealed)
        if job.state == "succeeded" and isinstance(sealed, str) and isinstance(draft_id, int)
        else None
    )
    if opened is None:
        return {"id": job.id, "state": "failed"}
    return {"id": job.id, "state": "done", "result": candidate_result(opened)}


def submission_view(submission: CodeSubmission) -> dict[str, Any]:
    """A submission as the candidate sees it: its state and the visible cases' results."""
    result = submission.result
    shown = None
    if submission.state == "judged" and result and not result.get("erased"):
        shown = candidate_result(result)
    return {
        "id": submission.id,
        "task_id": submission.task_id,
        "language": submission.language,
        "state": submission.state,
        "submitted_at": submission.submitted_at,
        "result": shown,
    }
