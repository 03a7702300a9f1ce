"""What an auditor export costs: the signed, age-encrypted bundle versus plain JSONL.

A real provisioned appliance (SQLCipher store, sealed report content, vault keys) is filled
with N synthetic EU candidates, each with an interview, a report of five AI scores, two
decisions and, for one in five, a human override (no media). Then:

* `export`: `appliance.exports.build.build_export` for kind `decisions_scores`: the same batched
  reads, JSONL and CSV tables, tar, SHA-256 of every file, the Ed25519-signed manifest, age
  (X25519 + ChaCha20-Poly1305) through a bounded queue to the file;
* `baseline`: the very same rows read by the same batched queries, dumped to one plain JSONL
  file: no CSV, no tar, no hashes, no signature, no encryption (and a plaintext copy on
  disk, which the export never makes).

Time is the median of the benchmark rounds. Peak memory is measured in runs of their own: the
peak of Python allocations (tracemalloc, in this process) and the peak growth of the resident
set of a fresh child process doing one run (psutil, sampled every 5 ms from the moment the
store is open; it includes SQLCipher's and pyrage's own memory). `make bench` uses
FULL_N = 10 000 candidates; under `--benchmark-disable` (`make test`) SMALL_N keeps this a
smoke test. Nothing asserts on time. The figures go to benchmarks/results/exports.json and
are printed.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from appliance.accounts.auth import principal_of
from appliance.exports.build import build_export
from appliance.exports.bundle_files import exports_dir
from appliance.exports.recipients import register_recipient
from appliance.exports.requesting import request_export
from appliance.hiring.review import ai_scores
from appliance.platform.clock import now_stamp, utcnow
from appliance.platform.config import load_config
from appliance.security.permissions import Principal
from appliance.security.sealing import PassphraseSealer
from appliance.store import Store
from appliance.store.db import transaction
from appliance.store.exports import ExportRepository
from appliance.store.fieldcrypt import seal_text
from appliance.store.keyring import unlock
from appliance.store.runtime import open_store
from tests.conftest import (
    FAST_SCRYPT,
    PASSPHRASE,
    REPO,
    Appliance,
    make_appliance,
    make_user,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RESULTS_FILE = RESULTS_DIR / "exports.json"
FULL_N = 10_000
SMALL_N = 40
FULL_ROUNDS = 3
DIMENSIONS = ("ownership", "collaboration", "craft", "communication", "learning")
RSS_SAMPLE_S = 0.005


@dataclass
class Filled:
    """A provisioned appliance holding N candidates, and the auditor who exports them."""

    appliance: Appliance
    store: Store
    auditor: Principal
    n: int
    day: str


def _n(config: pytest.Config) -> int:
    disabled = bool(config.getoption("benchmark_disable")) and not config.getoption(
        "benchmark_enable"
    )
    return SMALL_N if disabled else FULL_N


def fill(store: Store, n: int) -> None:
    """N candidates with an interview, a sealed report, two decisions, some overrides."""
    with store.transaction():
        requisitions = [
            store.requisitions.create(f"Role {i}", f"Dept {i}", "Berlin", "EU").id for i in range(4)
        ]
    deciders = [
        make_user(store, f"bench.hr{i}", "hr_admin", departments=["*"], regions=["*"])
        for i in range(3)
    ]
    people = [("cand-" + secrets.token_hex(8), secrets.token_bytes(32)) for _ in range(n)]
    now = now_stamp()
    # The vault's keys in one transaction (VaultRepository.create_key commits one at a time).
    with transaction(store.vault_conn):
        store.vault_conn.executemany(
            "INSERT INTO candidate_keys (pseudonym, data_key, created_at) VALUES (?, ?, ?)",
            [(pseudonym, key, now) for pseudonym, key in people],
        )
    with store.transaction():
        for index, (pseudonym, key) in enumerate(people):
            # CandidateRepository.create's statement, with its key made above.
            cursor = store.conn.execute(
                "INSERT INTO candidates (pseudonym, full_name, email, phone, residence_region,"
                " language, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pseudonym,
                    seal_text(
                        key,
                        f"Person {index}",
                        table="candidates",
                        column="full_name",
                        row=pseudonym,
                    ),
                    None,
                    None,
                    "EU",
                    "en",
                    now,
                    now,
                ),
            )
            candidate_id = int(cursor.lastrowid)
            requisition = requisitions[index % len(requisitions)]
            interview = store.interviews.create(candidate_id, requisition)
            job = store.jobs.enqueue("analyse", max_open=n + 10, max_attempts=1)
            store.conn.execute(
                "UPDATE jobs SET state = 'succeeded', progress = 1 WHERE id = ?", (job.id,)
            )
            scores = {
                dimension: {
                    "score": 1 + (index * 7 + d) % 10,
                    "confidence": 0.7,
                    "evidence": [{"quote": f"answer {index}.{d}", "start_s": d}],
                }
                for d, dimension in enumerate(DIMENSIONS)
            }
            report = store.reports.create(
                interview.id,
                job.id,
                {"scores": scores, "transcript": "words " * 40},
                model_version="bench-1",
            )
            decider = deciders[index % len(deciders)]
            store.decisions.add(
                candidate_id, requisition, "recommend_hire", "Solid answers", decider
            )
            store.decisions.add(candidate_id, requisition, "advance", "Strong ownership", decider)
            if index % 5 == 0:
                store.overrides.add(
                    report.id,
                    "craft",
                    float(scores["craft"]["score"]),
                    7.0,
                    "Second reviewer disagrees",
                    decider,
                )


@pytest.fixture(scope="module")
def filled(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Filled]:
    n = _n(pytestconfig)
    appliance = make_appliance(tmp_path_factory.mktemp("bench-exports"))
    store = appliance.open_store()
    fill(store, n)
    auditor_id = make_user(store, "bench.auditor", "auditor", regions=["EU"])
    auditor = principal_of(store.users.get(auditor_id))
    import pyrage

    register_recipient(store, auditor, str(pyrage.x25519.Identity.generate().to_public()), "DE")
    yield Filled(appliance, store, auditor, n, utcnow().date().isoformat())
    store.close()


def run_export(filled: Filled) -> dict[str, Any]:
    """One export, from the request to the encrypted file."""
    export = request_export(
        filled.store,
        filled.auditor,
        "decisions_scores",
        "EU",
        filled.day,
        filled.day,
        config=filled.appliance.config,
    )
    claim = filled.store.jobs.claim("bench")
    assert claim is not None and claim.job.payload == {"export_id": export.id}
    result = build_export(
        filled.store, filled.appliance.config, claim.job.payload, lambda _f, _s: None
    )
    with filled.store.transaction():
        filled.store.jobs.succeed(claim, result)
    return result


def run_baseline(filled: Filled, target: Path) -> dict[str, Any]:
    """The same rows, read by the same batched queries, as one plain JSONL file."""
    store = filled.store
    repo = ExportRepository.of(store)
    start, end = (f"{filled.day}T00:00:00.000000Z", "9999-12-31T00:00:00.000000Z")
    rows = 0
    with target.open("w", encoding="utf-8") as out:
        for batch in repo.subject_batches("EU", start, end, 500):
            ids = sorted({row["candidate_id"] for row in batch})
            decisions = repo.decisions_of(ids, start, end)
            reports = repo.reports_of(ids, start, end)
            overrides = repo.overrides_of([r["id"] for r in reports])
            by_candidate: dict[int, list[Any]] = {}
            for decision in decisions:
                by_candidate.setdefault(decision["candidate_id"], []).append(
                    {
                        "kind": decision["kind"],
                        "by": decision["decided_by"],
                        "at": decision["decided_at"],
                    }
                )
            changes: dict[int, list[Any]] = {}
            for override in overrides:
                changes.setdefault(override["report_id"], []).append(dict(override))
            scored = {r["candidate_id"]: r for r in reports}
            for row in batch:
                report = scored.get(row["candidate_id"])
                ai = ai_scores(report["content"]) if report else {}
                current = dict(ai)
                for change in changes.get(report["id"], []) if report else []:
                    current[change["dimension"]] = change["new_score"]
                out.write(
                    json.dumps(
                        {
                            "pseudonym": row["pseudonym"],
                            "requisition_id": row["requisition_id"],
                            "decisions": by_candidate.get(row["candidate_id"], []),
                            "ai_scores": ai,
                            "current_scores": current,
                        }
                    )
                    + "\n"
                )
                rows += 1
    return {"rows": rows, "bytes": target.stat().st_size}


class _RssPeak:
    """Samples the resident set while a function runs; the peak growth over the start."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.start = self.peak = self._process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_S):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def measure(self, fn: Callable[[], Any]) -> int:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            fn()
        finally:
            self._stop.set()
            thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        return self.peak - self.start


def child_main() -> None:
    """In a fresh process: open the store, run one variant, print its peak RSS growth."""
    variant, config_path, target = sys.argv[1:4]
    config = load_config(Path(config_path))
    keyset = unlock(config.paths, PassphraseSealer(PASSPHRASE, log2_n=FAST_SCRYPT))
    store = open_store(config, keyset)
    user = store.users.by_username("bench.auditor")
    assert user is not None
    appliance = Appliance(config, Path(config_path), keyset, PASSPHRASE)
    filled = Filled(appliance, store, principal_of(user), 0, utcnow().date().isoformat())
    store.candidates.count()  # the connection and its cipher state exist before measuring
    fn: Callable[[], Any] = (
        (lambda: run_export(filled))
        if variant == "export"
        else (lambda: run_baseline(filled, Path(target)))
    )
    print(json.dumps({"rss_growth_bytes": _RssPeak().measure(fn)}))
    store.close()


def child_rss(filled: Filled, variant: str, target: Path) -> int:
    """The peak RSS growth of one run of `variant` in a fresh child process."""
    code = "from benchmarks.bench_exports import child_main; child_main()"
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    done = subprocess.run(
        [sys.executable, "-c", code, variant, str(filled.appliance.config_path), str(target)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=True,
    )
    return int(json.loads(done.stdout.strip().splitlines()[-1])["rss_growth_bytes"])


def peak_memory(
    fn: Callable[[], Any], filled: Filled, variant: str, target: Path
) -> dict[str, int]:
    """Peak Python allocations (tracemalloc) and a child process's peak RSS growth."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "tracemalloc_peak_bytes": peak,
        "child_rss_growth_bytes": child_rss(filled, variant, target),
    }


@pytest.mark.benchmark(group="exports")
def test_export_bundle(benchmark: Any, filled: Filled) -> None:
    rounds = FULL_ROUNDS if filled.n == FULL_N else 1
    benchmark.extra_info.update(n=filled.n, kind="decisions_scores")
    result = benchmark.pedantic(run_export, args=(filled,), rounds=rounds, iterations=1)
    assert result["counts"]["tables"]["subjects"] == filled.n
    assert result["counts"]["tables"]["decisions"] == 2 * filled.n


@pytest.mark.benchmark(group="exports")
def test_export_baseline_plain_jsonl(benchmark: Any, filled: Filled, tmp_path: Path) -> None:
    rounds = FULL_ROUNDS if filled.n == FULL_N else 1
    benchmark.extra_info.update(n=filled.n, kind="plain jsonl")
    done = benchmark.pedantic(
        run_baseline, args=(filled, tmp_path / "plain.jsonl"), rounds=rounds, iterations=1
    )
    assert done["rows"] == filled.n


def _timed(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


@pytest.mark.benchmark(group="exports-report")
def test_export_report(
    benchmark: Any, filled: Filled, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    rounds = FULL_ROUNDS if filled.n == FULL_N else 1
    plain = tmp_path / "plain.jsonl"

    def measure() -> dict[str, Any]:
        export_s, result = _timed(lambda: run_export(filled), rounds)
        baseline_s, baseline = _timed(lambda: run_baseline(filled, plain), rounds)
        export_memory = peak_memory(lambda: run_export(filled), filled, "export", plain)
        baseline_memory = peak_memory(
            lambda: run_baseline(filled, plain), filled, "baseline", plain
        )
        return {
            "n": filled.n,
            "kind": "decisions_scores",
            "rounds": rounds,
            "measured_at": now_stamp(),
            "cpu_count": os.cpu_count(),
            "benchmarks_disabled": bool(request.config.getoption("benchmark_disable")),
            "export": {
                "median_s": export_s,
                "per_candidate_us": export_s / filled.n * 1e6,
                "tar_bytes": result["tar_bytes"],
                "bundle_bytes": result["bundle_bytes"],
                "files": result["counts"]["files"],
                **export_memory,
            },
            "baseline_plain_jsonl": {
                "median_s": baseline_s,
                "per_candidate_us": baseline_s / filled.n * 1e6,
                "bytes": baseline["bytes"],
                **baseline_memory,
            },
            "ratio": {
                "time": export_s / baseline_s if baseline_s else None,
                "tracemalloc_peak": export_memory["tracemalloc_peak_bytes"]
                / max(1, baseline_memory["tracemalloc_peak_bytes"]),
                "child_rss_growth": export_memory["child_rss_growth_bytes"]
                / max(1, baseline_memory["child_rss_growth_bytes"]),
            },
        }

    report: dict[str, Any] = benchmark.pedantic(measure, rounds=1, iterations=1)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    ignore = RESULTS_DIR / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n!.gitignore\n", encoding="utf-8")
    partial = RESULTS_FILE.with_name(RESULTS_FILE.name + ".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    partial.replace(RESULTS_FILE)
    export, baseline = report["export"], report["baseline_plain_jsonl"]
    print(
        f"\nexport of {filled.n} candidates: {export['median_s']:.2f} s, "
        f"peak +{export['tracemalloc_peak_bytes'] / 2**20:.1f} MiB (tracemalloc), "
        f"+{export['child_rss_growth_bytes'] / 2**20:.1f} MiB RSS, bundle "
        f"{export['bundle_bytes'] / 2**20:.1f} MiB; plain JSONL {baseline['median_s']:.2f} s, "
        f"+{baseline['tracemalloc_peak_bytes'] / 2**20:.1f} MiB, "
        f"+{baseline['child_rss_growth_bytes'] / 2**20:.1f} MiB RSS (written to {RESULTS_FILE})"
    )
    print(json.dumps(report, indent=2))
    assert json.loads(RESULTS_FILE.read_text(encoding="utf-8"))["n"] == filled.n
    assert report["export"]["bundle_bytes"] > 0
    # Every bundle built here is in the exports folder, encrypted; nothing else is.
    names = {path.name for path in exports_dir(filled.appliance.config).iterdir()}
    assert names == ExportRepository.of(filled.store).bundle_names()
