"""Job kinds besides analyses, and idle-time chores, run by the same worker."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.analysis.pipeline import StepFailure
from appliance.jobs import worker as worker_module
from appliance.jobs.worker import Worker
from appliance.store import Store

from .conftest import Appliance


def test_registered_task_kind_runs_with_progress_and_result(
    appliance: Appliance, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[float, str]] = []

    def count_things(
        store_: Store, config: Any, payload: dict[str, Any], progress: Any
    ) -> dict[str, Any]:
        progress(0.5, "counting")
        seen.append((0.5, "counting"))
        return {"counted": payload["n"] * 2}

    def broken(
        store_: Store, config: Any, payload: dict[str, Any], progress: Any
    ) -> dict[str, Any]:
        raise StepFailure("no_recipient", "the auditor has no registered key")

    monkeypatch.setitem(worker_module.TASKS, "count", count_things)
    monkeypatch.setitem(worker_module.TASKS, "broken", broken)
    ok = store.jobs.enqueue("count", max_open=10, max_attempts=2, payload={"n": 21})
    bad = store.jobs.enqueue("broken", max_open=10, max_attempts=2)
    worker = Worker(appliance.config, store)
    assert worker.run_once() is not None and worker.run_once() is not None
    assert store.jobs.get(ok.id).result == {"counted": 42} and seen
    failed = store.jobs.get(bad.id)
    assert (failed.state, failed.error_code, failed.attempts) == ("failed", "no_recipient", 1)
    assert store.audit.entries(action="count.completed")


def test_failing_chore_does_not_stop_the_worker(
    appliance: Appliance, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def good(store_: Store, config: Any, spool: Any) -> None:
        calls.append("good")

    def bad(store_: Store, config: Any, spool: Any) -> None:
        calls.append("bad")
        raise RuntimeError("disk hiccup")

    monkeypatch.setitem(worker_module.PERIODIC, "a-bad", (3600.0, bad))
    monkeypatch.setitem(worker_module.PERIODIC, "b-good", (3600.0, good))
    worker = Worker(appliance.config, store)
    worker._run_periodic()
    worker._run_periodic()  # within the interval: nothing runs again
    assert sorted(calls) == ["bad", "good"]


def test_lanes_keep_interactive_jobs_away_from_the_batch_worker(
    appliance: Appliance, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follow-up the candidate waits for is never queued behind a long analysis."""
    from appliance.cli.serve import worker_argv

    ran: list[str] = []

    def task(kind: str) -> Any:
        def run(
            store_: Store, config: Any, payload: dict[str, Any], progress: Any
        ) -> dict[str, Any]:
            ran.append(kind)
            return {}

        return run

    monkeypatch.setitem(worker_module.TASKS, "room_followup", task("room_followup"))
    monkeypatch.setitem(worker_module.TASKS, "slow_batch", task("slow_batch"))
    store.jobs.enqueue("slow_batch", max_open=10, max_attempts=1, priority=1)
    store.jobs.enqueue("room_followup", max_open=10, max_attempts=1, priority=200)
    interactive_kinds = appliance.config.worker.interactive_kinds
    batch = Worker(appliance.config, store, exclude_kinds=interactive_kinds, chores=False)
    interactive = Worker(appliance.config, store, kinds=interactive_kinds)
    assert interactive.run_once() is not None and ran == ["room_followup"]
    assert interactive.run_once() is None  # the batch job is not its kind
    assert batch.run_once() is not None and ran == ["room_followup", "slow_batch"]
    assert batch.run_once() is None
    batch_argv = worker_argv(appliance.config, appliance.config_path, "batch")
    assert batch_argv[-3:] == [
        "--except-kinds",
        "live_assist,room_followup,room_assemble",
        "--no-chores",
    ]
    assert worker_argv(appliance.config, appliance.config_path, "interactive")[-2:] == [
        "--only-kinds",
        "live_assist,room_followup,room_assemble",
    ]


def test_the_batch_worker_yields_the_cpu_to_the_web_processes(appliance: Appliance) -> None:
    """Under `serve` the batch worker runs niced (and at low I/O priority); the interactive
    lane, which a candidate waits on, does not."""
    import subprocess
    import sys

    from appliance.cli.serve import worker_argv

    batch = worker_argv(appliance.config, appliance.config_path, "batch")
    assert batch[batch.index("--nice") + 1] == str(appliance.config.worker.batch_niceness) == "10"
    assert "--nice" not in worker_argv(appliance.config, appliance.config_path, "interactive")
    probe = (
        "import os, psutil\n"
        "from appliance.jobs.worker import lower_priority\n"
        "lower_priority(10)\n"
        "print(os.nice(0), psutil.Process().ionice().value)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    niceness, ionice_level = done.stdout.split()
    assert int(niceness) >= 10 and int(ionice_level) == 7


def test_a_running_analysis_estimates_its_time_left_from_its_own_pace(store: Store) -> None:
    import dataclasses
    from datetime import timedelta

    from appliance.analysis.views import seconds_left
    from appliance.platform.clock import from_stamp
    from appliance.store.job_views import JobView

    store.jobs.enqueue("analyse", max_open=10, max_attempts=1)
    claim = store.jobs.claim("worker-a", kinds=["analyse"])
    assert claim is not None
    store.jobs.heartbeat(claim, progress=0.25, step="transcribe")
    job = store.jobs.get(claim.job.id)
    view = JobView(job, 1, 1, 1, 1, 1, "Engineer", "Engineering", "EU", None)
    started = from_stamp(store.jobs.runs(job.id)[-1]["started_at"])
    # A quarter done after 60 s: three quarters more at that pace.
    assert seconds_left(store, view, started + timedelta(seconds=60)) == 180
    assert (
        seconds_left(store, dataclasses.replace(view, job=dataclasses.replace(job, progress=0.01)))
        is None
    )
    assert (
        seconds_left(store, dataclasses.replace(view, job=dataclasses.replace(job, state="queued")))
        is None
    )
