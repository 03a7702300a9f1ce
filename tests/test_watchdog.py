"""The watchdog (issue 19, item 3): `python -m appliance watchdog` runs the readiness checks of
`/readyz` on a real provisioned appliance, requeues jobs whose worker died, logs each problem
once when it appears and once when it clears, and speaks systemd's notify protocol."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from pathlib import Path

import pytest

from appliance.cli.main import main
from appliance.jobs.readiness import NotReadyError
from appliance.jobs.watchdog import Watchdog
from appliance.jobs.worker import Worker
from appliance.platform.sdnotify import notify, watchdog_interval_s

from .conftest import MODEL_PACKS, PASSPHRASE, Appliance, make_appliance


@pytest.fixture
def no_packs(tmp_path: Path) -> Appliance:
    """An appliance whose model packs are missing, so that only the worker check varies."""
    return make_appliance(tmp_path, inference={"pack_dirs": [tmp_path / "no-packs"]})


def _once(appliance: Appliance, monkeypatch: pytest.MonkeyPatch) -> int:
    for name in [name for name in os.environ if name.startswith("APPLIANCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("APPLIANCE_PASSPHRASE", PASSPHRASE)
    return main(["watchdog", "--once", "--config", str(appliance.config_path)])


def test_once_without_a_worker_exits_52_and_names_the_reason(
    appliance: Appliance, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert NotReadyError.exit_code == 52
    assert _once(appliance, monkeypatch) == 52
    out, err = capsys.readouterr()
    assert "not ready" in err and "worker: no worker has reported in the last 5 s" in err
    report = json.loads(out)
    assert report["ready"] is False and report["checks"]["database"] == "ok"


def test_once_is_ready_after_a_worker_registers(
    appliance: Appliance, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (MODEL_PACKS / "whisper-base" / "manifest.json").is_file():
        pytest.skip("model packs not built")
    store = appliance.open_store()
    try:
        Worker(appliance.config, store).register()
    finally:
        store.close()
    assert _once(appliance, monkeypatch) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "ready": True,
        "checks": {"database": "ok", "model_packs": "ok", "worker": "ok", "disk": "ok"},
        "requeued": [],
    }


def test_a_job_whose_worker_died_is_requeued(
    appliance: Appliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = appliance.open_store()
    try:
        job_id = store.jobs.enqueue("analyse", max_open=10, max_attempts=3).id
        # A worker of this host that was killed: its pid runs nothing any more.
        store.workers.register("dead-worker", socket.gethostname(), 999_999, 1.0)
        claim = store.jobs.claim("dead-worker")
        assert claim is not None and store.jobs.get(job_id).state == "running"
    finally:
        store.close()
    _once(appliance, monkeypatch)
    store = appliance.open_store()
    try:
        assert store.jobs.get(job_id).state == "queued"
        assert [run["outcome"] for run in store.jobs.runs(job_id)] == ["abandoned"]
    finally:
        store.close()


def test_a_problem_is_logged_once_when_it_appears_and_once_when_it_clears(
    no_packs: Appliance, caplog: pytest.LogCaptureFixture
) -> None:
    store = no_packs.open_store()
    try:
        watchdog = Watchdog(no_packs.config, store)
        with caplog.at_level(logging.WARNING, logger="appliance.jobs.watchdog"):
            first = watchdog.round()
            assert first.appeared == ["model_packs", "worker"] and not first.ready
            assert first.summary() == "not ready: model_packs, worker"
            second = watchdog.round()
            assert second.appeared == [] and second.cleared == []
            Worker(no_packs.config, store).register()
            third = watchdog.round()
            assert third.cleared == ["worker"] and third.appeared == []
        lines = [record.getMessage() for record in caplog.records]
        assert sum("worker not ready" in line for line in lines) == 1
        assert sum("model_packs not ready" in line for line in lines) == 1
        assert sum("worker ok again" in line for line in lines) == 1
    finally:
        store.close()


def _listen(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(10)
    return sock


def test_the_loop_tells_systemd_it_is_ready_and_alive(
    no_packs: Appliance, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"appliance-test-{os.getpid()}-{id(no_packs)}"
    listener = _listen("\0" + name)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)  # systemd's spelling of an abstract socket
    store = no_packs.open_store()
    stop = threading.Event()
    loop = threading.Thread(target=Watchdog(no_packs.config, store).run, args=(0.05, stop))
    try:
        loop.start()
        first = listener.recv(4096).decode().splitlines()
        second = listener.recv(4096).decode().splitlines()
    finally:
        stop.set()
        loop.join(10)
        store.close()
    assert "READY=1" in first and "WATCHDOG=1" in first
    assert "STATUS=not ready: model_packs, worker" in first
    assert "READY=1" not in second and "WATCHDOG=1" in second
    assert listener.recv(4096).decode().splitlines()[-1] == "STOPPING=1"
    listener.close()


def test_notify_is_silent_outside_systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert notify("READY=1") is False  # never an error
    path = tmp_path / "n"
    listener = _listen(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    assert notify("STATUS=ready", "WATCHDOG=1") is True
    assert listener.recv(4096) == b"STATUS=ready\nWATCHDOG=1"
    listener.close()


def test_watchdog_interval_follows_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval_s() is None
    monkeypatch.setenv("WATCHDOG_USEC", "120000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval_s() == 120.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert watchdog_interval_s() is None


@pytest.mark.slow
def test_the_command_runs_as_the_unit_runs_it(appliance: Appliance, tmp_path: Path) -> None:
    """The real process, as appliance-watchdog.service starts it: the passphrase from the
    credential folder, READY=1 over the notify socket, a clean stop on SIGTERM."""
    import signal
    import subprocess
    import sys

    from .conftest import REPO

    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "passphrase").write_text(PASSPHRASE + "\n", encoding="utf-8")
    (credentials / "passphrase").chmod(0o400)
    name = f"appliance-test-cli-{os.getpid()}"
    listener = _listen("\0" + name)
    listener.settimeout(120)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "CREDENTIALS_DIRECTORY": str(credentials),
            "NOTIFY_SOCKET": "@" + name,
            "WATCHDOG_USEC": "3000000",  # pings every second, a third of it
        }
    )
    argv = [sys.executable, "-m", "appliance", "watchdog", "--config", str(appliance.config_path)]
    process = subprocess.Popen(
        argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        first = listener.recv(4096).decode().splitlines()
        second = listener.recv(4096).decode().splitlines()
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        listener.close()
    assert "READY=1" in first and "WATCHDOG=1" in second, err
    assert process.returncode == 0, err
    assert "watchdog: worker not ready: no worker has reported" in err
    assert err.count("worker not ready") == 1  # once, not every round
