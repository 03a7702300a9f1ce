"""What people see of analysis jobs and uploads: always inside their visibility.

The web UI and the API ask here instead of the raw queue, so a job of another department
(or one whose recording belongs to an interview the person cannot see) is simply not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from appliance.platform.clock import from_stamp, utcnow
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store import Store
from appliance.store.hiring import Interview
from appliance.store.job_views import FINISHED_STATES, JobView, JobViewRepository
from appliance.store.uploads import UploadSession

__all__ = [
    "FINISHED_STATES",
    "JobView",
    "finished_since",
    "get_job",
    "job_for_recording",
    "job_summary",
    "list_jobs",
    "own_upload",
    "seconds_left",
]


def _jobs(store: Store) -> JobViewRepository:
    return JobViewRepository(store)


def list_jobs(store: Store, visibility: Visibility, *, limit: int = 100) -> list[JobView]:
    """The newest analysis jobs the visibility reaches."""
    return _jobs(store).visible(visibility, limit=limit)


def get_job(store: Store, visibility: Visibility, job_id: int) -> JobView:
    """One visible job, else NotFoundError."""
    return _jobs(store).get_visible(job_id, visibility)


def job_for_recording(store: Store, visibility: Visibility, recording_id: int) -> JobView | None:
    """The newest visible job analysing a recording."""
    return _jobs(store).for_recording(recording_id, visibility)


def finished_since(
    store: Store, visibility: Visibility, since: str, *, limit: int = 20
) -> list[JobView]:
    """Visible jobs that finished (succeeded or failed) after a store timestamp."""
    return _jobs(store).finished_since(visibility, since, limit=limit)


# Below this much progress an estimate of the time left would be a guess, not a measurement.
MIN_PROGRESS_FOR_ESTIMATE = 0.05


def seconds_left(store: Store, view: JobView, now: datetime | None = None) -> int | None:
    """The time a running job still needs, from its own pace so far (elapsed time of this
    attempt over its progress); None while it is queued, finished or has barely started."""
    job = view.job
    if job.state != "running" or not MIN_PROGRESS_FOR_ESTIMATE <= job.progress < 1.0:
        return None
    runs = store.jobs.runs(job.id)
    if not runs or runs[-1]["ended_at"]:
        return None
    elapsed = ((now or utcnow()) - from_stamp(runs[-1]["started_at"])).total_seconds()
    if elapsed <= 0:
        return None
    return max(1, round(elapsed * (1.0 - job.progress) / job.progress))


def job_summary(view: JobView) -> dict[str, Any]:
    """A job as JSON: states, counts and ids only, no personal data."""
    job = view.job
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "step": job.step,
        "progress": round(job.progress * 100),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error_code": job.error_code,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "finished": job.state in FINISHED_STATES,
        "recording_id": view.recording_id,
        "interview_id": view.interview_id,
        "requisition_id": view.requisition_id,
        "report_id": view.report_id,
    }


def own_upload(
    store: Store, visibility: Visibility, upload_id: str, user_id: int
) -> tuple[UploadSession, Interview]:
    """An upload the user started, for an interview still visible to them; else NotFoundError."""
    session = store.uploads.get(upload_id)
    if session.user_id != user_id:
        # Same answer as a missing upload: ids of other people's uploads reveal nothing.
        raise NotFoundError("no such upload")
    interview = store.interviews.get_visible(session.interview_id, visibility)
    return session, interview
