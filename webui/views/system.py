"""Operational endpoints: the health check (public, no personal data) and the operator status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

import appliance
from appliance.jobs.status import queue_status
from appliance.security.permissions import Action
from appliance.store.maintenance import database_figures, folder_bytes
from firmware.health import check_health
from webui.security import app_config, app_store, public, requires

bp = Blueprint("system", __name__)


def operational_status() -> dict[str, Any]:
    """Queue, workers and machine health: counts and states only, no personal data."""
    config, store = app_config(), app_store()
    floor = config.media.min_free_bytes
    health = check_health(config.data_dir, **({"min_free_disk": floor} if floor > 0 else {}))
    return {
        "site": config.site.name,
        "version": appliance.__version__,
        **queue_status(store),
        "storage": {
            "database": database_figures(store.conn, config.paths.database),
            "vault": database_figures(store.vault_conn, config.paths.vault),
            "spool_bytes": folder_bytes(config.paths.spool),
            "disk_free_bytes": health.disk_free_bytes,
            "free_space_floor_bytes": floor,
        },
        "health": {
            "problems": health.problems,
            "disk_free_gib": round(health.disk_free_bytes / 2**30, 1),
            "memory_available_gib": round(health.memory_available_bytes / 2**30, 1),
            "load_per_cpu": health.load_per_cpu,
        },
    }


@bp.get("/healthz")
@public
def healthz() -> ResponseReturnValue:
    """Liveness for the operator's monitoring."""
    status = operational_status()
    problems = status["health"]["problems"]
    return jsonify(
        {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "schema_version": status["schema_version"],
            "queue": status["queue"],
            "workers": len(status["workers"]),
        }
    )


@bp.get("/system/status")
@requires(Action.MANAGE_SETTINGS)
def status_page() -> ResponseReturnValue:
    """The operator's status page."""
    return render_template("status.html", status=operational_status())
