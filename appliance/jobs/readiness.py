"""Whether the appliance can do its work now: the checks behind `/readyz` and the watchdog.

Each check answers 'ok' or what is wrong in words; none names a candidate or quotes their data.
"""

from __future__ import annotations

from datetime import timedelta

from appliance.engines.readiness import pack_problems
from appliance.media.disk import free_bytes
from appliance.platform.clock import to_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ApplianceError
from appliance.store import Store

OK = "ok"


class NotReadyError(ApplianceError):
    """A readiness check fails (databases, model packs, no worker reporting, disk floor)."""

    exit_code = 52


def readiness_checks(store: Store, config: ApplianceConfig) -> dict[str, str]:
    """Each check's verdict: databases readable, required packs verified, a worker heartbeat
    within `worker.stale_after_s`, free disk at or above `media.min_free_bytes`."""
    checks: dict[str, str] = {}
    try:
        store.conn.execute("SELECT 1").fetchone()
        store.vault_conn.execute("SELECT 1").fetchone()
        checks["database"] = OK
    except Exception as exc:
        # The exception's text could quote a statement; its class says enough.
        checks["database"] = f"cannot read the databases: {type(exc).__name__}"
    problems = pack_problems(config)
    checks["model_packs"] = "; ".join(problems) if problems else OK
    stale = config.worker.stale_after_s
    since = to_stamp(utcnow() - timedelta(seconds=stale))
    try:
        alive = store.metrics.workers_alive(since)
    except Exception:
        alive = 0  # an unreadable database is reported above; do not hide it behind this
    checks["worker"] = OK if alive else f"no worker has reported in the last {stale:g} s"
    floor = config.media.min_free_bytes
    free = free_bytes(config.data_dir)
    checks["disk"] = (
        OK if free >= floor else f"{free // 2**20} MiB free, below the floor of {floor // 2**20}"
    )
    return checks


def is_ready(checks: dict[str, str]) -> bool:
    """True when every check says 'ok'."""
    return all(value == OK for value in checks.values())


__all__ = ["OK", "NotReadyError", "is_ready", "readiness_checks"]
