"""`create_app`: the Flask application over a config and a store."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

import appliance
from appliance.clock import now_stamp
from appliance.config import ApplianceConfig
from appliance.migrate import current_version
from appliance.store import Store
from firmware.health import check_health

CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'"


def _operational_status(config: ApplianceConfig, store: Store) -> dict[str, Any]:
    # Counts and states only: this page is for operators and shows no personal data.
    health = check_health(config.data_dir)
    return {
        "site": config.site.name,
        "version": appliance.__version__,
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
                "created_at": job.created_at,
                "finished_at": job.finished_at,
            }
            for job in store.jobs.recent(25)
        ],
        "workers": [
            {"id": worker.id, "heartbeat_at": worker.heartbeat_at}
            for worker in store.workers.alive_since(now_stamp(-120))
        ],
        "health": {
            "problems": health.problems,
            "disk_free_gib": round(health.disk_free_bytes / 2**30, 1),
            "memory_available_gib": round(health.memory_available_bytes / 2**30, 1),
            "load_per_cpu": health.load_per_cpu,
        },
    }


def create_app(config: ApplianceConfig | None = None, store: Store | None = None) -> Flask:
    """Build the web application over an opened store."""
    if config is None or store is None:
        raise ValueError("create_app needs a config and an opened store")
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=config.media.max_upload_bytes)

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        body = {
            "error": {
                "code": (error.name or "error").lower().replace(" ", "_"),
                "message": error.description,
            }
        }
        return jsonify(body), error.code or 500

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        status = _operational_status(config, store)
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

    @app.get("/")
    def index() -> ResponseReturnValue:
        return render_template("status.html", status=_operational_status(config, store))

    return app
