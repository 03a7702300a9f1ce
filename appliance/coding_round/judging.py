"""The worker job that judges a submission in the sandbox and stores the sealed result.

The job's own (clear) result names the submission only: verdicts and code are the
candidate's data and live sealed in the submission row. A submission erased before it is
judged ends the job quietly; a judging that breaks marks the submission failed rather than
leaving it queued for ever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from appliance.coding.assessment import assess
from appliance.coding.sandbox import Sandbox
from appliance.coding.task import task_from_json
from appliance.coding.timeline import Snapshot
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotFoundError
from appliance.store import Store

logger = logging.getLogger(__name__)

_SANDBOXES: dict[str, Sandbox] = {}
_LOCK = threading.Lock()


def sandbox_for(config: ApplianceConfig) -> Sandbox:
    """This process's sandbox for the appliance's data directory (hidden from every run);
    made once, sweeping scratch folders a dead worker left."""
    name = str(config.data_dir)
    with _LOCK:
        found = _SANDBOXES.get(name)
        if found is None:
            found = Sandbox(config.data_dir)
            for left in found.sweep():
                logger.warning("wiped coding scratch folder %s left by a dead worker", left)
            _SANDBOXES[name] = found
    return found


def _record(store: Store, submission_id: int, state: str, result: dict[str, Any]) -> bool:
    """Store the sealed result; False when the candidate was erased meanwhile."""
    try:
        with store.transaction():
            store.coding_work.record_result(submission_id, state, result)
    except NotFoundError:
        return False
    return True


def judge_submission(
    store: Store,
    config: ApplianceConfig,
    payload: dict[str, Any],
    report_progress: Callable[[float, str], None],
) -> dict[str, Any]:
    """Worker task: judge one submission against the task version it names."""
    submission_id = int(payload["submission_id"])
    try:
        submission = store.coding_work.submission(submission_id)
    except NotFoundError:
        return {"submission_id": submission_id, "judged": False, "reason": "erased"}
    if submission.erased:
        return {"submission_id": submission_id, "judged": False, "reason": "erased"}
    stored = store.coding_tasks.get(submission.task_id)
    drafts = [
        Snapshot(draft.saved_at, draft.code)
        for draft in store.coding_work.drafts(submission.interview_id, [submission.task_id])
        if draft.saved_at <= submission.submitted_at
    ]
    task = task_from_json(stored.spec)
    try:
        result = assess(
            sandbox_for(config), task, submission.language, submission.code, drafts, report_progress
        )
    except Exception as exc:
        # Judging broke (not the candidate's code: that ends in a verdict). Say so on the
        # submission; the traceback goes to the log, never the candidate's code.
        logger.exception("judging submission %d failed", submission_id)
        failed = {
            "error": type(exc).__name__,
            "task": _task_ref(stored.id, stored.key, stored.version),
        }
        recorded = _record(store, submission_id, "failed", failed)
        return {
            "submission_id": submission_id,
            "judged": False,
            "reason": "failed" if recorded else "erased",
        }
    result["task"] = _task_ref(stored.id, stored.key, stored.version)
    judged = _record(store, submission_id, "judged", result)
    report_progress(1.0, "judged")
    return {
        "submission_id": submission_id,
        "judged": judged,
        "reason": None if judged else "erased",
    }


def _task_ref(task_id: int, key: str, version: int) -> dict[str, Any]:
    return {"id": task_id, "key": key, "version": version}
