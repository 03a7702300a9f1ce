"""`python -m appliance serve` as the operator runs it: gunicorn plus the worker, on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from appliance.platform.errors import MaintenanceLockError
from appliance.platform.executable import WEB_SERVER_COMMAND
from appliance.store import Store
from appliance.store.migrate import available_migrations
from tests.conftest import Appliance, demo_interview, write_wav
from tests.support.serving import Serving, http_get, serving
from webui.app import CSP

pytestmark = pytest.mark.slow


def _stop_and_check(server: Serving, sig: signal.Signals) -> None:
    """Send `sig` to serve alone; it must stop all its children and exit 0 within 30 s."""
    children = psutil.Process(server.popen.pid).children()
    everything = server.descendants()  # gunicorn's own workers too
    kinds = sorted(
        "gunicorn"
        if WEB_SERVER_COMMAND in child.cmdline()
        else "worker"
        if "worker" in child.cmdline()
        else child.name()
        for child in children
    )
    # gunicorn, the batch worker and the interactive worker (live assist, follow-ups, chores).
    assert kinds == ["gunicorn", "worker", "worker"], [child.cmdline() for child in children]
    lanes = sorted(
        "interactive" if "--only-kinds" in child.cmdline() else "batch"
        for child in children
        if "worker" in child.cmdline()
    )
    assert lanes == ["batch", "interactive"]
    for process in everything:  # keys travel by pipe: no passphrase in any child's environment
        assert "APPLIANCE_PASSPHRASE" not in process.environ()

    server.popen.send_signal(sig)
    try:
        code = server.popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve did not stop within 30 s of {sig.name}:\n{server.output()}")
    assert code == 0, server.output()
    assert "stopped" in server.output().splitlines()[-1]
    assert "Traceback" not in server.output()
    _, alive = psutil.wait_procs(everything, timeout=5)
    assert alive == [], f"still running after serve exited: {alive}"
    with pytest.raises(OSError):
        http_get(server.port, "/healthz", timeout=2)


def test_serve_answers_processes_a_recording_and_stops_on_sigint(
    tmp_path: Path, appliance: Appliance, store: Store
) -> None:
    with serving(appliance, tmp_path) as server:
        health = server.healthz()
        assert health["status"] == "ok"
        assert health["schema_version"] == len(available_migrations())
        assert health["queue"] == {}

        page = http_get(server.port, "/login")
        assert page.status == 200
        assert page.headers.get_content_type() == "text/html"
        assert 'name="password"' in page.body.decode("utf-8")
        assert page.headers["Content-Security-Policy"] == CSP
        assert page.headers["X-Content-Type-Options"] == "nosniff"

        page_missing = http_get(server.port, "/no/such/page")  # a browser gets a page
        assert page_missing.status == 404
        assert page_missing.headers.get_content_type() == "text/html"
        missing = http_get(server.port, "/api/v1/no/such/thing")  # an API client gets JSON
        assert missing.status == 404
        assert missing.headers.get_content_type() == "application/json"
        error = missing.json()["error"]
        assert error["code"] == "not_found"
        assert isinstance(error["message"], str) and error["message"]
        assert missing.headers["Content-Security-Policy"] == CSP

        interview_id = demo_interview(store)
        clip = write_wav(tmp_path / "interview.wav", 1.0)
        done = appliance.cli("ingest", "--interview", str(interview_id), str(clip))
        assert done.returncode == 0, done.stderr
        job_id = json.loads(done.stdout)["job"]

        deadline = time.monotonic() + 60
        while (health := server.healthz())["queue"].get("succeeded", 0) < 1:
            assert server.popen.poll() is None, server.output()
            assert time.monotonic() < deadline, f"job not analysed: {health}\n{server.output()}"
            time.sleep(0.2)
        assert health["queue"] == {"succeeded": 1}
        assert health["workers"] >= 1
        job = store.jobs.get(job_id)
        assert (job.state, job.attempts) == ("succeeded", 1)
        assert [report.job_id for report in store.reports.for_interview(interview_id)] == [job_id]

        _stop_and_check(server, signal.SIGINT)

    # The worker recorded a clean stop, and no process holds the data directory any more.
    running = store.conn.execute("SELECT count(*) FROM workers WHERE stopped_at IS NULL")
    assert running.fetchone()[0] == 0
    migrated = appliance.cli("migrate")
    assert migrated.returncode == 0, migrated.stderr


def test_migrate_is_refused_while_serve_runs(tmp_path: Path, appliance: Appliance) -> None:
    with serving(appliance, tmp_path) as server:
        refused = appliance.cli("migrate")
        assert refused.returncode == MaintenanceLockError.exit_code == 12
        assert "stop the appliance" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert server.popen.poll() is None  # serving goes on undisturbed
        assert server.healthz()["status"] == "ok"

        _stop_and_check(server, signal.SIGTERM)
    after = appliance.cli("migrate")
    assert after.returncode == 0, after.stderr


def _child(server: Serving, kind: str) -> psutil.Process:
    """serve's child of a kind: `gunicorn`, `batch` (worker) or `interactive` (worker)."""
    for child in psutil.Process(server.popen.pid).children():
        try:
            line = child.cmdline()
        except psutil.Error:  # a killed child not yet reaped by serve
            continue
        found = (
            "gunicorn"
            if WEB_SERVER_COMMAND in line
            else "interactive"
            if "--only-kinds" in line
            else "batch"
        )
        if found == kind:
            return child
    raise AssertionError(f"no {kind} child")


def _replaced(server: Serving, kind: str, old_pid: int, timeout: float = 60) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.popen.poll() is None, server.output()
        try:
            child = _child(server, kind)
        except AssertionError:
            child = None
        if child is not None and child.pid != old_pid:
            return child
        time.sleep(0.2)
    raise AssertionError(f"{kind} was not restarted\n{server.output()}")


def test_a_killed_child_is_restarted_while_the_others_keep_serving(
    tmp_path: Path, appliance: Appliance, store: Store
) -> None:
    with serving(appliance, tmp_path) as server:
        assert server.healthz()["status"] == "ok"
        # The analysis worker is killed (as the OOM killer would): the web UI keeps answering.
        batch = _child(server, "batch")
        batch.kill()
        assert http_get(server.port, "/login").status == 200
        restarted = _replaced(server, "batch", batch.pid)
        # ... and the restarted worker analyses a recording.
        interview_id = demo_interview(store)
        clip = write_wav(tmp_path / "after-restart.wav", 1.0)
        done = appliance.cli("ingest", "--interview", str(interview_id), str(clip))
        assert done.returncode == 0, done.stderr
        deadline = time.monotonic() + 60
        while server.healthz()["queue"].get("succeeded", 0) < 1:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        assert restarted.is_running()
        # The web server is killed: the workers stay, and the web UI comes back.
        web = _child(server, "gunicorn")
        interactive = _child(server, "interactive")
        web.kill()
        _replaced(server, "gunicorn", web.pid)
        deadline = time.monotonic() + 60
        while True:
            try:
                if http_get(server.port, "/login").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.3)
        assert interactive.is_running() and _child(server, "interactive").pid == interactive.pid
        assert "restarting in" in server.output() and "restarted (pid" in server.output()
        _stop_and_check(server, signal.SIGTERM)


def test_a_child_that_cannot_start_is_retried_with_back_off_then_given_up(
    tmp_path: Path,
) -> None:
    import sys

    from appliance.cli.serve import MAX_QUICK_FAILURES, _Child, _supervise

    def exited() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        process.wait()
        return process

    now = 1000.0
    child = _Child("web", ["unused"], exited(), started=now)
    waits = []
    for _ in range(MAX_QUICK_FAILURES):
        assert _supervise(child, None, tmp_path, now + 1) is None  # type: ignore[arg-type]
        assert child.restart_at is not None
        waits.append(child.restart_at - (now + 1))
        # As if restarted at once, and failed again within a second.
        now = child.restart_at
        child.process, child.started, child.restart_at = exited(), now, None
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert _supervise(child, None, tmp_path, now + 1) == 3  # type: ignore[arg-type]
    # A child that ran for a while before dying starts its back-off afresh.
    steady = _Child("worker", ["unused"], exited(), started=0.0, quick_failures=4)
    assert _supervise(steady, None, tmp_path, 500.0) is None  # type: ignore[arg-type]
    assert steady.restart_at == 501.0
