"""A worker asked to stop mid-job gives the job back without spending an attempt."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.media.recordings import ingest_recording

from .conftest import REPO, demo_interview, make_appliance, write_wav

pytestmark = [pytest.mark.slow, pytest.mark.realtime]


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigterm_releases_the_running_job(tmp_path: Path) -> None:
    # A step that works until stopped: the job is surely mid-way when SIGTERM comes, however
    # loaded the machine (probing a long file alone was sometimes done first).
    appliance = make_appliance(
        tmp_path, worker={"pipeline": ["probe", "tests.support.steps_for_tests:SlowStep"]}
    )
    store = appliance.open_store()
    interview_id = demo_interview(store)
    long_wav = write_wav(tmp_path / "long.wav", 60, rate=8000)
    with open(long_wav, "rb") as source:
        job_id = ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=interview_id,
            source=source,
            filename="long.wav",
            actor="test",
        ).job.id
    worker = subprocess.Popen(
        [sys.executable, "-m", "appliance", "worker", "--config", str(appliance.config_path)],
        env=appliance.env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_for(lambda: store.jobs.get(job_id).state == "running", 60)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    job = store.jobs.get(job_id)
    assert (job.state, job.attempts) == ("queued", 0), (job.error_code, job.error)
    assert [run["outcome"] for run in store.jobs.runs(job_id)] == ["abandoned"]
    assert "stopped" in store.jobs.runs(job_id)[0]["error"]
    store.close()
