"""What encryption costs the store: SQLCipher versus plain SQLite on the store's own workload.

Both engines get the same schema (the shipped migrations, split by `appliance.store.migrate`), the
same pragmas (WAL, synchronous=FULL, secure_delete, foreign keys, temp_store=MEMORY) and run the
very same statements (copied from the repositories in appliance/store/, and checked against
them by `test_workload_sql_is_the_repositories_sql`).  The SQLCipher side goes through
`appliance.store.db.Database`, so it also pays for `cipher_memory_security`.

`make bench` shows the insert and read groups side by side; `test_ratio_report` writes the
sqlcipher/sqlite ratios to benchmarks/results/store_ratio.json.  Under `--benchmark-disable`
(`make test`) the workload shrinks to SMALL_N rows so the file stays a quick smoke test.

Reading the numbers: most of the SQLCipher side's cost is `cipher_memory_security = ON`
(every allocation locked and wiped), not the page encryption.  That setting is global to the
process and cannot be switched off again once a connection has turned it on, so it applies to
every SQLCipher connection opened after the first `Database.connect()`, keyed or not.
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance.platform.clock import now_stamp
from appliance.store import Store
from appliance.store.base import dumps
from appliance.store.db import Connection, Database, transaction
from appliance.store.migrate import _statements, apply, available_migrations
from appliance.store.vault import init_vault

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
RATIO_FILE = RESULTS_DIR / "store_ratio.json"
FULL_N = 1000  # candidates (and as many interviews and jobs) per batch when benchmarking
SMALL_N = 50  # the same under --benchmark-disable: a smoke test well under a second
INSERT_ROUNDS = 5
READ_ROUNDS = 10
RATIO_REPETITIONS = 5
SMALL_RATIO_REPETITIONS = 3
BUSY_TIMEOUT_MS = 15_000  # appliance.store.db.Database's default
KEY_BYTES = 32

# --- The statements, verbatim from appliance/store/*.py -------------------------------------

REQUISITION_INSERT = (  # RequisitionRepository.create
    "INSERT INTO requisitions (title, department, location, region, status,"
    " competency_model_id, created_by, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CANDIDATE_INSERT = (  # CandidateRepository.create
    "INSERT INTO candidates (pseudonym, full_name, email, phone, residence_region,"
    " language, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
INTERVIEW_INSERT = (  # InterviewRepository.create
    "INSERT INTO interviews (candidate_id, requisition_id, kind, round, language,"
    " scheduled_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
JOB_INSERT = (  # JobRepository._enqueue
    "INSERT INTO jobs (kind, subject_type, subject_id, payload, priority, max_attempts,"
    " run_after, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CANDIDATE_GET = "SELECT * FROM candidates WHERE id = ?"  # CandidateRepository.get
INTERVIEW_GET = "SELECT * FROM interviews WHERE id = ?"  # InterviewRepository.get
# JobRepository.claim's query (state + order served by the jobs_ready index), taking them all.
READY_JOBS = (
    "SELECT * FROM jobs WHERE state = 'queued' AND run_after <= ?"
    " ORDER BY priority, run_after, id LIMIT ?"
)
REQUISITION_INTERVIEWS = (
    "SELECT i.id, i.status, i.language, c.pseudonym, c.full_name, c.email"
    " FROM interviews AS i JOIN candidates AS c ON c.id = i.candidate_id"
    " WHERE i.requisition_id = ? ORDER BY i.id"
)
REPOSITORY_SQL = (
    REQUISITION_INSERT,
    CANDIDATE_INSERT,
    INTERVIEW_INSERT,
    JOB_INSERT,
    CANDIDATE_GET,
    INTERVIEW_GET,
)


# --- The two engines ---------------------------------------------------------------------------

# cipher_memory_security is process-wide once on, so the variant without it runs in a child
# process started by test_ratio_report with this variable set to 0.
MEMORY_SECURITY = os.environ.get("BENCH_SQLCIPHER_MEMORY_SECURITY", "1") != "0"


def open_sqlcipher(path: Path) -> Connection:
    """A new SQLCipher database through the appliance's own connection layer."""
    database = Database.create(
        path,
        os.urandom(KEY_BYTES),
        busy_timeout_ms=BUSY_TIMEOUT_MS,
        memory_security=MEMORY_SECURITY,
    )
    return database.connect()


def open_sqlite(path: Path) -> sqlite3.Connection:
    """A new plain SQLite database with the pragmas `Database._raw_connect` sets."""
    conn = sqlite3.connect(
        str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=True
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise RuntimeError(f"could not switch {path} to WAL (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.row_factory = sqlite3.Row
    return conn


OPENERS: dict[str, Callable[[Path], Any]] = {"sqlcipher": open_sqlcipher, "sqlite": open_sqlite}


def apply_schema(conn: Any) -> None:
    """The shipped migrations, statement by statement in one transaction (as migrate.apply)."""
    with transaction(conn):
        for migration in available_migrations():
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")


# --- The workload (any DB-API connection in autocommit mode) ---------------------------------


@dataclass(frozen=True)
class ReadCounts:
    """Rows each part of the read workload returned."""

    ready_jobs: int
    candidates: int
    joined_interviews: int


def add_requisition(conn: Any) -> int:
    """The requisition every interview of the workload belongs to."""
    now = now_stamp()
    with transaction(conn):
        cursor = conn.execute(
            REQUISITION_INSERT,
            ("Engineer", "Engineering", "Berlin", "EU", "open", None, None, now, now),
        )
    return int(cursor.lastrowid)


def insert_batch(conn: Any, requisition_id: int, n: int, *, seed: int = 0) -> None:
    """One transaction: `n` candidates, an interview each and an `analyse` job for it."""
    pseudonyms = random.Random(seed)  # random-looking like secrets.token_hex, but repeatable
    with transaction(conn):
        for i in range(n):
            now = now_stamp()
            candidate = conn.execute(
                CANDIDATE_INSERT,
                (
                    f"cand-{pseudonyms.getrandbits(64):016x}",
                    f"Candidate Number {i}",
                    f"candidate.{i}@example.invalid",
                    f"+49 30 {i:07d}",
                    "EU",
                    "en",
                    now,
                    now,
                ),
            )
            interview = conn.execute(
                INTERVIEW_INSERT,
                (
                    candidate.lastrowid,
                    requisition_id,
                    "upload",
                    1,
                    "en",
                    None,
                    now,
                    now,
                ),
            )
            conn.execute(
                JOB_INSERT,
                (
                    "analyse",
                    "interview",
                    interview.lastrowid,
                    dumps({}),
                    100,
                    3,
                    now,
                    now,
                    now,
                ),
            )


def read_back(conn: Any, requisition_id: int, n: int) -> ReadCounts:
    """Ready jobs by state, each job's interview and candidate by id, then the joined list."""
    jobs = conn.execute(READY_JOBS, (now_stamp(), n)).fetchall()
    candidates = 0
    for job in jobs:
        interview = conn.execute(INTERVIEW_GET, (job["subject_id"],)).fetchone()
        candidate = conn.execute(CANDIDATE_GET, (interview["candidate_id"],)).fetchone()
        candidates += candidate is not None
    joined = conn.execute(REQUISITION_INTERVIEWS, (requisition_id,)).fetchall()
    return ReadCounts(len(jobs), candidates, len(joined))


def ready_jobs_plan(conn: Any) -> str:
    """EXPLAIN QUERY PLAN of the ready-jobs query, as one line."""
    rows = conn.execute("EXPLAIN QUERY PLAN " + READY_JOBS, (now_stamp(), 1)).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


# --- Fixtures ----------------------------------------------------------------------------------


class Engines:
    """Fresh databases in one test's tmp_path, all closed at the end of the test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._opened: list[Any] = []

    def open(self, engine: str) -> tuple[Any, int]:
        """A new database of `engine` with the schema and one requisition."""
        conn = OPENERS[engine](self.root / f"{engine}-{len(self._opened)}.db")
        self._opened.append(conn)
        apply_schema(conn)
        return conn, add_requisition(conn)

    def close(self) -> None:
        for conn in self._opened:
            conn.close()
        self._opened.clear()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    opened = Engines(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def workload_size(request: pytest.FixtureRequest) -> int:
    """FULL_N rows when benchmarking, SMALL_N when benchmarks are disabled (`make test`)."""
    options = request.config
    disabled = bool(options.getoption("benchmark_disable")) and not options.getoption(
        "benchmark_enable"
    )
    return SMALL_N if disabled else FULL_N


# --- Benchmarks --------------------------------------------------------------------------------


def _count(conn: Any, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def _bench_insert(benchmark: Any, engines: Engines, engine: str, n: int) -> None:
    used: list[Any] = []

    def fresh_database() -> tuple[tuple[Any, ...], dict[str, Any]]:
        conn, requisition_id = engines.open(engine)
        used.append(conn)
        return (conn, requisition_id, n), {}

    benchmark.extra_info.update(engine=engine, n=n)
    benchmark.pedantic(insert_batch, setup=fresh_database, rounds=INSERT_ROUNDS, warmup_rounds=1)
    conn = used[-1]
    assert _count(conn, "SELECT count(*) FROM candidates") == n
    assert _count(conn, "SELECT count(*) FROM interviews") == n
    assert _count(conn, "SELECT count(*) FROM jobs WHERE state = 'queued'") == n
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"


def _bench_read(benchmark: Any, engines: Engines, engine: str, n: int) -> None:
    conn, requisition_id = engines.open(engine)
    insert_batch(conn, requisition_id, n)
    assert "jobs_ready" in ready_jobs_plan(conn)
    benchmark.extra_info.update(engine=engine, n=n)
    counts = benchmark.pedantic(
        read_back, args=(conn, requisition_id, n), rounds=READ_ROUNDS, warmup_rounds=1
    )
    assert counts == ReadCounts(n, n, n)


@pytest.mark.benchmark(group="store-insert")
def test_insert_sqlcipher(benchmark: Any, engines: Engines, workload_size: int) -> None:
    _bench_insert(benchmark, engines, "sqlcipher", workload_size)


@pytest.mark.benchmark(group="store-insert")
def test_insert_sqlite_baseline(benchmark: Any, engines: Engines, workload_size: int) -> None:
    _bench_insert(benchmark, engines, "sqlite", workload_size)


@pytest.mark.benchmark(group="store-read")
def test_read_sqlcipher(benchmark: Any, engines: Engines, workload_size: int) -> None:
    _bench_read(benchmark, engines, "sqlcipher", workload_size)


@pytest.mark.benchmark(group="store-read")
def test_read_sqlite_baseline(benchmark: Any, engines: Engines, workload_size: int) -> None:
    _bench_read(benchmark, engines, "sqlite", workload_size)


# --- The ratio report --------------------------------------------------------------------------


def measure_ratios(engines: Engines, n: int, repetitions: int) -> dict[str, Any]:
    """Median seconds of each engine's insert and read over `repetitions`, and their ratios."""
    timings: dict[str, dict[str, list[float]]] = {
        phase: {engine: [] for engine in OPENERS} for phase in ("insert", "read")
    }
    versions: dict[str, str] = {}
    for repetition in range(repetitions):
        # Alternate the order so neither engine always runs on a warmer cache.
        order = list(OPENERS) if repetition % 2 == 0 else list(reversed(OPENERS))
        for engine in order:
            conn, requisition_id = engines.open(engine)
            started = time.perf_counter()
            insert_batch(conn, requisition_id, n, seed=repetition)
            timings["insert"][engine].append(time.perf_counter() - started)
            started = time.perf_counter()
            counts = read_back(conn, requisition_id, n)
            timings["read"][engine].append(time.perf_counter() - started)
            if counts != ReadCounts(n, n, n):
                raise AssertionError(f"{engine} read back {counts}, expected {n} of each")
            versions[engine] = str(conn.execute("SELECT sqlite_version()").fetchone()[0])
            if engine == "sqlcipher":
                versions["cipher"] = str(conn.execute("PRAGMA cipher_version").fetchone()[0])
    report: dict[str, Any] = {
        "n": n,
        "repetitions": repetitions,
        "measured_at": now_stamp(),
        "sqlite_version": versions["sqlite"],
        "sqlcipher_sqlite_version": versions["sqlcipher"],
        "cipher_version": versions["cipher"],
    }
    for phase, by_engine in timings.items():
        sqlcipher_s = statistics.median(by_engine["sqlcipher"])
        sqlite_s = statistics.median(by_engine["sqlite"])
        report[phase] = {
            "sqlcipher_median_s": sqlcipher_s,
            "sqlite_median_s": sqlite_s,
            "ratio": sqlcipher_s / sqlite_s if sqlite_s > 0 else math.inf,
            "sqlcipher_s": by_engine["sqlcipher"],
            "sqlite_s": by_engine["sqlite"],
        }
    return report


def measure_standalone(n: int, repetitions: int) -> dict[str, Any]:
    """measure_ratios in fresh temporary databases (entry point of the child process)."""
    with tempfile.TemporaryDirectory() as folder:
        engines = Engines(Path(folder))
        try:
            return measure_ratios(engines, n, repetitions)
        finally:
            engines.close()


def measure_without_memory_security(n: int, repetitions: int) -> dict[str, Any]:
    """The same measurement in a child process where cipher_memory_security stays off."""
    code = (
        "import json, sys; from benchmarks.bench_store import measure_standalone; "
        f"print(json.dumps(measure_standalone({n}, {repetitions})))"
    )
    env = {**os.environ, "BENCH_SQLCIPHER_MEMORY_SECURITY": "0"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    child: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return child


def write_report(report: dict[str, Any]) -> Path:
    """Write the report (and the results folder's .gitignore when the folder is new)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    ignore = RESULTS_DIR / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n!.gitignore\n", encoding="utf-8")
    partial = RATIO_FILE.with_name(RATIO_FILE.name + ".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    partial.replace(RATIO_FILE)
    return RATIO_FILE


@pytest.mark.benchmark(group="store-ratio")
def test_ratio_report(
    benchmark: Any, engines: Engines, workload_size: int, request: pytest.FixtureRequest
) -> None:
    # Run through the fixture once so --benchmark-only does not skip the report.
    repetitions = RATIO_REPETITIONS if workload_size == FULL_N else SMALL_RATIO_REPETITIONS
    report: dict[str, Any] = benchmark.pedantic(
        measure_ratios, args=(engines, workload_size, repetitions), rounds=1, iterations=1
    )
    report["benchmarks_disabled"] = bool(request.config.getoption("benchmark_disable"))
    report["memory_security"] = MEMORY_SECURITY
    unsecured = measure_without_memory_security(workload_size, repetitions)
    report["without_memory_security"] = {
        phase: {
            key: unsecured[phase][key] for key in ("ratio", "sqlcipher_median_s", "sqlite_median_s")
        }
        for phase in ("insert", "read")
    }
    written = write_report(report)
    print(
        f"\nstore ratio sqlcipher/sqlite at n={workload_size}: "
        f"insert {report['insert']['ratio']:.2f}x, read {report['read']['ratio']:.2f}x "
        f"with cipher_memory_security; without it insert "
        f"{report['without_memory_security']['insert']['ratio']:.2f}x, read "
        f"{report['without_memory_security']['read']['ratio']:.2f}x (written to {written})"
    )
    print(json.dumps(report, indent=2))
    for phase in ("insert", "read"):
        for ratio in (report[phase]["ratio"], report["without_memory_security"][phase]["ratio"]):
            assert math.isfinite(ratio) and ratio > 0, f"{phase} ratio {ratio!r}"
    assert json.loads(written.read_text(encoding="utf-8"))["n"] == workload_size


# --- The workload really is the store's --------------------------------------------------------


def _normalise(sql: str) -> str:
    return " ".join(sql.split())


class _RecordingConnection:
    """Forwards to a connection, noting every statement executed."""

    def __init__(self, conn: Connection, seen: set[str]) -> None:
        self._conn = conn
        self._seen = seen

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        self._seen.add(_normalise(sql))
        return self._conn.execute(sql, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class _RecordingStore(Store):
    """A Store whose repositories' statements are noted in `seen`."""

    def __init__(self, database: Database, vault: Database) -> None:
        self.seen: set[str] = set()
        super().__init__(database, vault)

    @property
    def conn(self) -> Connection:
        return _RecordingConnection(super().conn, self.seen)


def test_workload_sql_is_the_repositories_sql(tmp_path: Path) -> None:
    """Every repository statement the benchmark copies is one the repositories execute."""
    key = os.urandom(KEY_BYTES)
    main = Database.create(tmp_path / "main.db", key)
    vault = Database.create(tmp_path / "vault.db", os.urandom(KEY_BYTES))
    conn = main.connect()
    try:
        apply(main, conn, key, tmp_path / "backups", 1)
    finally:
        conn.close()
    vault_conn = vault.connect()
    try:
        init_vault(vault_conn)
    finally:
        vault_conn.close()
    store = _RecordingStore(main, vault)
    try:
        with store.transaction():
            requisition = store.requisitions.create("Engineer", "Engineering", "Berlin", "EU")
        candidate = store.candidates.create(
            "Someone", email="someone@example.invalid", phone="+49 30 0000000"
        )
        interview = store.interviews.create(candidate.id, requisition.id)
        job = store.jobs.enqueue(
            "analyse",
            max_open=10,
            max_attempts=3,
            subject_type="interview",
            subject_id=interview.id,
        )
    finally:
        store.close()
    assert job.subject_id == interview.id
    missing = [sql for sql in REPOSITORY_SQL if _normalise(sql) not in store.seen]
    assert missing == [], "the benchmark's copies no longer match appliance/store/*.py"
