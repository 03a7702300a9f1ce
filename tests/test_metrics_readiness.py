"""Watchdog and health (issue 19, item 3): `/readyz` says what is not ready, `/metrics` gives
Prometheus the queue, step times, the real-time factor, errors, backlog, disk and memory, to
the configured networks or a signed-in administrator only; no personal data in either."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from appliance.jobs.worker import Worker
from appliance.media.recordings import ingest_recording
from appliance.store import Store
from webui import create_app

from .conftest import MODEL_PACKS, Appliance, demo_interview, login, make_user, write_wav


def _app(appliance: Appliance, store: Store):  # type: ignore[no-untyped-def]
    app = create_app(appliance.config, store)
    app.config.update(TESTING=True, SESSION_COOKIE_SECURE=False)
    return app


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_readiness_names_what_is_missing(appliance: Appliance, store: Store) -> None:
    if not (MODEL_PACKS / "whisper-base" / "manifest.json").is_file():
        pytest.skip("model packs not built")
    client = _app(appliance, store).test_client()
    reply = client.get("/readyz")
    assert reply.status_code == 503
    body = reply.get_json()
    assert body["ready"] is False and "no worker has reported" in body["checks"]["worker"]
    assert body["checks"]["database"] == "ok" and body["checks"]["model_packs"] == "ok"
    Worker(appliance.config, store).register()
    reply = client.get("/readyz")
    assert reply.status_code == 200 and reply.get_json()["ready"] is True


def test_readiness_fails_without_the_packs(tmp_path: Path) -> None:
    from tests.conftest import make_appliance

    appliance = make_appliance(tmp_path, inference={"pack_dirs": [tmp_path / "no-packs"]})
    store = appliance.open_store()
    try:
        Worker(appliance.config, store).register()
        reply = _app(appliance, store).test_client().get("/readyz")
        assert reply.status_code == 503
        assert "no model pack" in reply.get_json()["checks"]["model_packs"]
    finally:
        store.close()


def test_metrics_after_a_real_analysis(appliance: Appliance, store: Store, tmp_path: Path) -> None:
    interview_id = demo_interview(store, name="Metric Person")
    clip = write_wav(tmp_path / "clip.wav", 2.0)
    with clip.open("rb") as handle:
        ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=interview_id,
            source=handle,
            filename="clip.wav",
            actor="test",
        )
    worker = Worker(appliance.config, store)
    worker.register()
    assert worker.run_forever(exit_when_idle=True) == 1
    client = _app(appliance, store).test_client()
    reply = client.get("/metrics")
    assert reply.status_code == 200 and reply.content_type.startswith("text/plain")
    text = reply.get_data(as_text=True)
    samples = _samples(text)
    assert samples[("appliance_jobs", (("kind", "analyse"), ("state", "succeeded")))] == 1
    assert (
        samples[("appliance_job_runs_total", (("kind", "analyse"), ("outcome", "succeeded")))] == 1
    )
    assert samples[("appliance_analysis_step_seconds_count", (("step", "probe"),))] == 1
    assert samples[("appliance_analysis_step_seconds_sum", (("step", "probe"),))] > 0
    assert samples[("appliance_analysis_realtime_factor", ())] > 0
    assert samples[("appliance_workers_alive", ())] == 0  # it stopped when the queue was empty
    assert samples[("appliance_disk_free_bytes", ())] > 0
    assert ("appliance_analysis_backlog_hours", ()) in samples
    assert "Metric Person" not in text and "cand-" not in text


def test_metrics_only_for_the_configured_networks_or_an_administrator(
    appliance: Appliance, store: Store
) -> None:
    app = _app(appliance, store)
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    assert app.test_client().get("/metrics", environ_base=remote).status_code == 403
    make_user(store, "rec.metrics", "recruiter", departments=["*"], regions=["*"])
    recruiter = app.test_client()
    login(recruiter, "rec.metrics")
    assert recruiter.get("/metrics", environ_base=remote).status_code == 403
    make_user(store, "admin.metrics", "hr_admin", departments=["*"], regions=["*"])
    admin = app.test_client()
    login(admin, "admin.metrics")
    assert admin.get("/metrics", environ_base=remote).status_code == 200
    store_config = appliance.config.model_copy(
        update={
            "security": appliance.config.security.model_copy(
                update={"metrics_networks": ["10.1.0.0/16"]}
            )
        }
    )
    monitored = _app(
        Appliance(store_config, appliance.config_path, appliance.keyset, appliance.passphrase),
        store,
    )
    assert monitored.test_client().get("/metrics", environ_base=remote).status_code == 200


def test_readiness_reasons_only_for_monitoring(appliance: Appliance, store: Store) -> None:
    app = _app(appliance, store)
    remote = app.test_client().get("/readyz", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert remote.status_code == 503 and remote.get_json() == {"ready": False}
    mapped = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"})
    assert mapped.status_code == 200  # an IPv4 loopback client of a dual-stack listener
