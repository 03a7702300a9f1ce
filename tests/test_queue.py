"""The durable queue: claims, heartbeats, claim tokens, abandoned jobs, bounded size."""

from __future__ import annotations

import os

import pytest

from appliance.jobs.worker import process_alive, recover_abandoned
from appliance.platform.errors import QueueFullError
from appliance.store import Store
from appliance.store.queue import LostClaimError


def _enqueue(store: Store, n: int = 1, **kwargs: object) -> list[int]:
    return [
        store.jobs.enqueue("analyse", max_open=100, max_attempts=3, **kwargs).id  # type: ignore[arg-type]
        for _ in range(n)
    ]


def test_claim_order_and_exclusivity(store: Store) -> None:
    low, high = _enqueue(store, priority=200)[0], _enqueue(store, priority=10)[0]
    first = store.jobs.claim("w1")
    second = store.jobs.claim("w2")
    assert first is not None and second is not None
    assert (first.job.id, second.job.id) == (high, low)
    assert store.jobs.claim("w3") is None
    assert first.job.state == "running" and first.job.attempts == 1


def test_completion_needs_the_live_claim(store: Store) -> None:
    _enqueue(store)
    claim = store.jobs.claim("w1")
    assert claim is not None
    assert store.jobs.heartbeat(claim, progress=0.5, step="probe")
    assert store.jobs.requeue_abandoned(claim.job.id, claim.token, "test") == "queued"
    assert not store.jobs.heartbeat(claim)
    with pytest.raises(LostClaimError), store.transaction():
        store.jobs.succeed(claim, {"late": True})
    again = store.jobs.claim("w2")
    assert again is not None and again.job.attempts == 2
    with store.transaction():
        store.jobs.succeed(again, {"ok": True})
    assert [r["outcome"] for r in store.jobs.runs(again.job.id)] == ["abandoned", "succeeded"]
    assert store.jobs.get(again.job.id).result == {"ok": True}


def test_retry_respects_run_after(store: Store) -> None:
    _enqueue(store)
    claim = store.jobs.claim("w1")
    assert claim is not None
    with store.transaction():
        store.jobs.retry(claim, "internal", "boom", delay_s=3600)
    assert store.jobs.claim("w1") is None  # not before its time
    job = store.jobs.get(claim.job.id)
    assert (job.state, job.error) == ("queued", "boom")


def test_abandoned_job_out_of_attempts_fails(store: Store) -> None:
    job_id = store.jobs.enqueue("analyse", max_open=10, max_attempts=1).id
    claim = store.jobs.claim("ghost")
    assert claim is not None
    assert store.jobs.requeue_abandoned(job_id, claim.token, "worker died") == "failed"
    job = store.jobs.get(job_id)
    assert job.state == "failed" and job.error is not None and "gave up after 1" in job.error


def test_recover_requeues_only_dead_workers(store: Store) -> None:
    _enqueue(store, 2)
    store.workers.register("dead", "thishost", 999_999, 1.0)
    store.workers.register("alive", "thishost", os.getpid(), _own_start())
    dead_claim, live_claim = store.jobs.claim("dead"), store.jobs.claim("alive")
    assert dead_claim is not None and live_claim is not None
    recovered = recover_abandoned(store, hostname="thishost", stale_after_s=3600)
    assert recovered == [dead_claim.job.id]
    assert store.jobs.get(live_claim.job.id).state == "running"
    # A worker on another host is judged by its heartbeat age.
    store.workers.register("remote", "otherhost", 1, 1.0)
    _enqueue(store)
    remote = store.jobs.claim("remote")
    assert remote is not None
    assert remote.job.id not in recover_abandoned(store, hostname="thishost", stale_after_s=3600)
    assert remote.job.id in recover_abandoned(store, hostname="thishost", stale_after_s=-1)


def _own_start() -> float:
    import psutil

    return float(psutil.Process().create_time())


def test_process_alive_rejects_reused_pid() -> None:
    assert process_alive(os.getpid(), _own_start())
    assert not process_alive(os.getpid(), _own_start() - 100)
    assert not process_alive(999_999, 0.0)


def test_bounded_queue(store: Store) -> None:
    for _ in range(3):
        store.jobs.enqueue("analyse", max_open=3, max_attempts=1)
    with pytest.raises(QueueFullError, match="full"):
        store.jobs.enqueue("analyse", max_open=3, max_attempts=1)
    claim = store.jobs.claim("w")
    assert claim is not None
    with store.transaction():
        store.jobs.succeed(claim, {})
    store.jobs.enqueue("analyse", max_open=3, max_attempts=1)  # room again
    assert store.jobs.counts() == {"queued": 3, "succeeded": 1}
