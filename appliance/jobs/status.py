"""The queue's state for operators (the CLI's `status`, the web status page): counts, states and
error codes only, no personal data."""

from __future__ import annotations

from typing import Any

from appliance.platform.clock import now_stamp
from appliance.store import Store
from appliance.store.migrate import current_version

# A worker whose heartbeat is older than this is not counted as alive.
ALIVE_WITHIN_S = 120.0


def queue_status(store: Store, *, recent: int = 25) -> dict[str, Any]:
    """Schema version, job counts per state, the most recent jobs and the live workers."""
    return {
        "schema_version": current_version(store.conn),
        "queue": store.jobs.counts(),
        "jobs": [
            {
                "id": job.id,
                "kind": job.kind,
                "state": job.state,
                "attempts": job.attempts,
                "max_attempts": job.max_attempts,
                "step": job.step,
                "progress": round(job.progress * 100),
                "error_code": job.error_code,
                "error": job.error,
                "created_at": job.created_at,
                "finished_at": job.finished_at,
            }
            for job in store.jobs.recent(recent)
        ],
        "workers": [
            {"id": worker.id, "heartbeat_at": worker.heartbeat_at}
            for worker in store.workers.alive_since(now_stamp(-ALIVE_WITHIN_S))
        ],
    }
