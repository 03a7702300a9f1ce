"""Operational endpoints: the health check (public, no personal data) and the operator status."""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask.typing import ResponseReturnValue

import appliance
from appliance.accounts.auth import principal_of
from appliance.jobs.readiness import is_ready, readiness_checks
from appliance.jobs.status import queue_status
from appliance.security.permissions import Action, allowed
from appliance.store.maintenance import database_figures, folder_bytes
from firmware.health import check_health
from webui.metrics import CONTENT_TYPE, exposition
from webui.security import app_config, app_store, optional_user, public, requires

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


def _readiness() -> tuple[bool, dict[str, str]]:
    """Each check's verdict in words ('ok' or what is wrong): the core's, as the watchdog's."""
    checks = readiness_checks(app_store(), app_config())
    return is_ready(checks), checks


@bp.get("/readyz")
@public
def readyz() -> ResponseReturnValue:
    """Readiness: databases open, model packs verified, a worker alive, disk above its floor
    (503 otherwise); the reasons only for the monitoring networks or an administrator, since
    they name paths and free space."""
    ready, checks = _readiness()
    body: dict[str, object] = {"ready": ready}
    if _may_read_metrics():
        body["checks"] = checks
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response


def _may_read_metrics() -> bool:
    address = request.remote_addr or ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        parsed = None
    # An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d.
    client = getattr(parsed, "ipv4_mapped", None) or parsed
    if client is not None:
        for network in app_config().security.metrics_networks:
            try:
                if client in ipaddress.ip_network(network, strict=False):
                    return True
            except ValueError:
                continue
    user = optional_user()
    return user is not None and allowed(principal_of(user), Action.MANAGE_SETTINGS) is not None


@bp.get("/metrics")
@public
def metrics() -> ResponseReturnValue:
    """Prometheus metrics: from the configured networks (loopback by default) or for an
    administrator signed in."""
    if not _may_read_metrics():
        abort(403)
    return Response(exposition(app_store(), app_config()), mimetype=None, content_type=CONTENT_TYPE)


@bp.get("/system/status")
@requires(Action.MANAGE_SETTINGS)
def status_page() -> ResponseReturnValue:
    """The operator's status page."""
    return render_template("status.html", status=operational_status())
