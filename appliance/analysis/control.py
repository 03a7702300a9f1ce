"""The stop control for AI analysis (EU AI Act human oversight: a person can halt scoring)."""

from __future__ import annotations

from appliance.analysis.views import get_job
from appliance.platform.errors import ApplianceError
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store


class StopError(ApplianceError):
    """The job cannot be stopped (already finished)."""

    exit_code = 39


def stop_analysis(store: Store, principal: Principal, job_id: int, reason: str) -> None:
    """Halt a queued or running analysis job; its results, if any arrive, are discarded."""
    view = get_job(store, require(principal, Action.STOP_ANALYSIS), job_id)
    text = (reason or "").strip() or "stopped by a person"
    if store.jobs.cancel(view.job.id, f"stopped by user {principal.user_id}: {text}"[:500]) is None:
        raise StopError("the analysis has already finished")
    candidate = store.candidates.get(view.candidate_id)
    with store.audited(
        principal.actor, "analysis.stopped", subject=candidate.pseudonym, job=view.job.id
    ):
        store.interviews.set_status(view.interview_id, "cancelled")
