"""Read records in group commits, and the writers' gate in front of SQLite's write lock.

Many threads (and processes) record reads at once against the real encrypted store: every
record is there exactly once, the hash chain verifies, each caller returns only after its
record is committed, and a failed write reaches every caller whose record it held.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from appliance.hiring.review import log_candidate_reads
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.audit import ROWS_A_STATEMENT, NewEntry, entry_hash
from appliance.store.group_commit import GroupCommit
from appliance.store.writer_gate import LOCK_SUFFIX, WriterGate, gate_for
from tests.conftest import Appliance

READER = Principal(7, "hr.reader", "hr_admin", (), ())


def _slow_writer(written: list[list[int]], pause_s: float = 0.02):  # type: ignore[no-untyped-def]
    def write(items: list[int]) -> None:
        time.sleep(pause_s)  # a transaction long enough for others to queue behind it
        written.append(list(items))

    return write


def test_concurrent_callers_share_transactions_and_wait_for_their_own() -> None:
    written: list[list[int]] = []
    group: GroupCommit[int] = GroupCommit(_slow_writer(written))
    seen_committed: dict[int, bool] = {}
    start = threading.Barrier(16)

    def call(item: int) -> None:
        start.wait()
        group.submit(item)
        seen_committed[item] = any(item in batch for batch in written)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = sorted(i for batch in written for i in batch)
    assert flat == list(range(16))  # each item written once
    assert len(written) < 16  # callers that queued during a write went in one later write
    assert all(seen_committed.values()) and len(seen_committed) == 16


def test_a_failed_write_reaches_every_caller_it_held_and_the_next_write_works() -> None:
    attempts: list[list[int]] = []
    release = threading.Event()

    def write(items: list[int]) -> None:
        attempts.append(list(items))
        if len(attempts) == 1:
            release.wait(5)  # hold the first write until the others queued
        elif len(attempts) == 2:
            raise OSError("disk full")

    group: GroupCommit[int] = GroupCommit(write)
    errors: dict[int, BaseException | None] = {}

    def call(item: int) -> None:
        try:
            group.submit(item)
            errors[item] = None
        except OSError as exc:
            errors[item] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()
    while not attempts:
        time.sleep(0.001)
    queued = [threading.Thread(target=call, args=(i,)) for i in (1, 2, 3)]
    for thread in queued:
        thread.start()
    time.sleep(0.1)  # let them queue behind the first write
    release.set()
    for thread in [first, *queued]:
        thread.join()
    assert errors[0] is None
    assert sorted(attempts[1]) == [1, 2, 3]  # the three queued callers went in one write
    assert all(isinstance(errors[i], OSError) for i in (1, 2, 3))
    group.submit(4)  # the failure left nothing stuck
    assert attempts[-1] == [4]


def test_append_many_chains_like_append_one_by_one(store: Store) -> None:
    with store.transaction():
        before = store.audit.append("admin", "user.created", subject="u-1")
    entries = [
        NewEntry("hr.reader", "candidate.read", f"c-{i}", {"what": "list"}) for i in range(3)
    ]
    entries += [NewEntry("hr.reader", "candidate.read", None)] * (ROWS_A_STATEMENT + 2)
    with store.transaction():
        store.audit.append_many(entries)
    rows = [r for r in store.audit.entries(limit=10_000) if r.seq > before.seq]
    assert len(rows) == len(entries)  # across more than one statement
    assert [r.subject for r in rows[:3]] == ["c-0", "c-1", "c-2"]
    assert rows[0].prev_hash == before.hash
    assert rows[1].hash == entry_hash(
        rows[0].hash, rows[1].at, "hr.reader", "candidate.read", "c-1", '{"what":"list"}'
    )
    assert store.audit.first_broken_link() is None


def test_many_threads_recording_reads_at_once_keep_every_record_and_the_chain(
    appliance: Appliance, store: Store
) -> None:
    threads, views = 8, 12
    start = threading.Barrier(threads)

    def reader(index: int) -> None:
        local = appliance.open_store()
        start.wait()
        try:
            for view in range(views):
                log_candidate_reads(
                    local, READER, [f"c-{index}-{view}-{k}" for k in range(3)], f"view:{view}"
                )
        finally:
            local.close()

    workers = [threading.Thread(target=reader, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    rows = store.audit.entries(action="candidate.read", limit=10_000)
    assert sorted(r.subject or "" for r in rows) == sorted(
        f"c-{i}-{v}-{k}" for i in range(threads) for v in range(views) for k in range(3)
    )
    assert store.audit.first_broken_link() is None


def _record_reads(config_path: str, passphrase: str, prefix: str, count: int) -> None:
    from appliance.platform.config import load_config
    from appliance.security.sealing import PassphraseSealer
    from appliance.store.keyring import unlock
    from appliance.store.runtime import open_store
    from tests.conftest import FAST_SCRYPT

    config = load_config(Path(config_path))
    keyset = unlock(config.paths, PassphraseSealer(passphrase, log2_n=FAST_SCRYPT))

    def thread(k: int) -> None:
        store = open_store(config, keyset)
        try:
            for i in range(count):
                log_candidate_reads(store, READER, [f"{prefix}-{k}-{i}"], "view")
        finally:
            store.close()

    workers = [threading.Thread(target=thread, args=(k,)) for k in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_processes_writing_at_once_through_their_gates_keep_the_chain(
    appliance: Appliance, store: Store
) -> None:
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(
            target=_record_reads,
            args=(str(appliance.config_path), appliance.passphrase, f"p{n}", 15),
        )
        for n in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    rows = store.audit.entries(action="candidate.read", limit=10_000)
    assert len(rows) == 2 * 4 * 15
    assert store.audit.first_broken_link() is None
    assert appliance.config.paths.database.with_name(
        appliance.config.paths.database.name + LOCK_SUFFIX
    ).is_file()


def _hold_lock_file(path: str, held: object, release: object) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    held.set()  # type: ignore[attr-defined]
    release.wait(30)  # type: ignore[attr-defined]
    os.close(fd)


def test_a_gate_held_elsewhere_too_long_lets_the_writer_go_on_to_sqlite(tmp_path: Path) -> None:
    lock = tmp_path / ("db" + LOCK_SUFFIX)
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    other = context.Process(target=_hold_lock_file, args=(str(lock), held, release))
    other.start()
    try:
        assert held.wait(10)
        gate = WriterGate(lock, timeout_s=0.2)
        started = time.monotonic()
        with gate.passed():
            waited = time.monotonic() - started
        assert 0.2 <= waited < 5  # waited its timeout, then went on without the file lock
        release.set()
        other.join(10)
        probe = os.open(lock, os.O_RDWR)
        started = time.monotonic()
        with gate.passed():  # free again: taken at once, and held
            assert time.monotonic() - started < 0.2
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(probe)
    finally:
        release.set()
        other.join(10)


def test_the_lock_file_is_really_held_while_inside_and_freed_after(tmp_path: Path) -> None:
    gate = WriterGate(tmp_path / ("db" + LOCK_SUFFIX), timeout_s=1.0)
    probe = os.open(tmp_path / ("db" + LOCK_SUFFIX), os.O_RDWR | os.O_CREAT)
    with gate.passed():
        with gate.passed():  # nested in one thread: passes, no deadlock
            pass
        with pytest.raises(BlockingIOError):  # still held by the outer pass
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on leaving
    os.close(probe)


def test_an_unusable_lock_file_leaves_sqlite_lock_alone(tmp_path: Path) -> None:
    # A folder where the lock file should be cannot be opened for writing (as a read-only
    # medium would refuse it, even to root): the gate goes on without it.
    (tmp_path / ("db" + LOCK_SUFFIX)).mkdir()
    gate = WriterGate(tmp_path / ("db" + LOCK_SUFFIX), timeout_s=0.5)
    started = time.monotonic()
    with gate.passed(), gate.passed():
        pass
    assert time.monotonic() - started < 0.5  # no wait for a lock it cannot take


def test_each_process_has_its_own_gate_per_file(tmp_path: Path) -> None:
    a = gate_for(tmp_path / "one.db", 1.0)
    assert gate_for(tmp_path / "one.db", 1.0) is a
    assert gate_for(tmp_path / "two.db", 1.0) is not a


def test_reads_recorded_inside_a_write_transaction_belong_to_it(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        log_candidate_reads(store, READER, ["c-rolled-back"], "view")
        raise RuntimeError("the change failed")
    with store.transaction():  # returns at once: no group writer waits for this thread's lock
        log_candidate_reads(store, READER, ["c-kept"], "view")
    subjects = [r.subject for r in store.audit.entries(action="candidate.read")]
    assert subjects == ["c-kept"]
    assert store.audit.first_broken_link() is None


def test_a_file_system_without_locks_leaves_sqlite_lock_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)  # the module the gate calls
    gate = WriterGate(tmp_path / ("db" + LOCK_SUFFIX), timeout_s=5.0)
    started = time.monotonic()
    for _ in range(2):  # the second pass does not try the file again
        with gate.passed():
            pass
    assert time.monotonic() - started < 1.0
    assert gate._unusable and gate._fd is None
