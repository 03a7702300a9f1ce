"""`python -m appliance serve` as the operator runs it: gunicorn plus the worker, on loopback."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import psutil
import pytest

from appliance.platform.errors import MaintenanceLockError
from appliance.store import Store
from appliance.store.migrate import available_migrations
from tests.conftest import REPO, Appliance, demo_interview, write_wav
from webui.app import CSP

pytestmark = pytest.mark.slow

# Loopback only, and never through a proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str, *, timeout: float = 10) -> Response:
    """GET http://127.0.0.1:PORT/PATH; HTTP error statuses are returned, not raised."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with _OPENER.open(url, timeout=timeout) as reply:
            return Response(reply.status, reply.headers, reply.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, error.read())


@dataclass
class Serving:
    """A running `serve` process and what it started."""

    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def healthz(self) -> dict[str, Any]:
        reply = http_get(self.port, "/healthz")
        assert reply.status == 200, reply
        data: dict[str, Any] = reply.json()
        return data

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.popen.pid).children(recursive=True)


def _wait_until_up(serving: Serving, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert serving.popen.poll() is None, f"serve exited early:\n{serving.output()}"
        try:
            if http_get(serving.port, "/healthz", timeout=2).status == 200:
                return
        except OSError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"no answer on /healthz:\n{serving.output()}"
        time.sleep(0.2)


@contextmanager
def serving(appliance: Appliance, tmp_path: Path) -> Iterator[Serving]:
    """Start `serve` on a free loopback port; whatever still runs afterwards is killed."""
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve", "--config", str(appliance.config_path)],
            env=appliance.env(APPLIANCE_WEB__PORT=str(port), APPLIANCE_WEB__HOST="127.0.0.1"),
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    started = Serving(popen, port, log)
    family: list[psutil.Process] = []
    try:
        _wait_until_up(started, 60)
        family = [psutil.Process(popen.pid), *started.descendants()]
        yield started
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(timeout=10)
        for process in family[1:]:
            with suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(family[1:], timeout=10)


def _stop_and_check(server: Serving, sig: signal.Signals) -> None:
    """Send `sig` to serve alone; it must stop all its children and exit 0 within 30 s."""
    children = psutil.Process(server.popen.pid).children()
    everything = server.descendants()  # gunicorn's own workers too
    kinds = sorted("gunicorn" if "gunicorn" in " ".join(child.cmdline()) else
                   "worker" if "worker" in child.cmdline() else child.name()
                   for child in children)
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
