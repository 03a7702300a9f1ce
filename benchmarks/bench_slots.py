"""Slot finding at scale: 50 interviewers x 14 days x 200 candidate requests.

`SlotFinder` (precomputed per-interviewer matrices, vectorised per request) runs beside the
start-by-start reference in `appliance.scheduling.reference`, the naive baseline, on the very
same calendars (which also checks that both find the same slots). The naive baseline is far
too slow for 200 requests in a benchmark run: it is timed on a sample of requests and its
per-request time is compared with the fast finder's.

`make bench` shows both groups; `test_slots_report` writes benchmarks/results/slots.json
(the fast path's time for all 200 requests, both per-request times and their ratio). Under
`--benchmark-disable` (`make test`) the sizes shrink to a quick smoke test.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from typing import Any

import pytest

from appliance.platform.clock import now_stamp
from appliance.scheduling.model import CandidateWish, Interviewer, Slot, SlotRules, parse_hours
from appliance.scheduling.reference import reference_slots
from appliance.scheduling.slots import SlotFinder, zone_ok
from appliance.scheduling.zones import to_instant

RESULTS = Path(__file__).resolve().parent / "results" / "slots.json"
ZONES = [
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Asia/Shanghai",
    "America/Los_Angeles",
]
START = datetime(2026, 3, 2, 6, tzinfo=UTC)  # spans the US and EU DST changes in March
FULL = (50, 14, 200, 5)  # interviewers, days, requests, naive sample
SMALL = (10, 3, 20, 2)
TOP = 10  # slots shown to a candidate


@dataclass
class Workload:
    """Interviewers, the interview shape and the candidates' wishes."""

    people: list[Interviewer]
    rules: SlotRules
    wishes: list[CandidateWish]
    days: int


def build(interviewers: int, days: int, requests: int, seed: int = 8) -> Workload:
    """Realistic calendars: weekday hours in each person's zone, ~3 meetings a day, focus
    blocks, some load; candidates in many zones, most with preferred windows."""
    rng = random.Random(seed)
    people = []
    for uid in range(interviewers):
        begin = rng.choice(["08:00", "08:30", "09:00", "10:00"])
        end = rng.choice(["16:30", "17:00", "18:00"])
        hours = parse_hours({str(d): [[begin, end]] for d in range(5)})
        busy = []
        for day in range(days):
            for _ in range(rng.randint(1, 5)):
                at = START + timedelta(days=day, minutes=15 * rng.randint(0, 95))
                busy.append((at, at + timedelta(minutes=rng.choice([30, 45, 60, 90]))))
        focus = ((rng.randint(0, 4), wall(9), wall(11)),)
        people.append(
            Interviewer(
                uid,
                rng.choice(ZONES),
                hours,
                busy=tuple(sorted(busy)),
                focus=focus,
                max_per_day=4,
                load=rng.randint(0, 6),
            )
        )
    rules = SlotRules(
        timedelta(minutes=60),
        tuple(range(interviewers)),
        mode="pool",
        attendees=1,
        buffer_after=timedelta(minutes=15),
    )
    wishes = []
    for _ in range(requests):
        windows: tuple[tuple[int, wall, wall], ...] = ()
        if rng.random() < 0.8:
            windows = tuple(
                (d, wall(rng.randint(8, 12)), wall(rng.randint(15, 20))) for d in range(5)
            )
        wishes.append(CandidateWish(rng.choice(ZONES), windows))
    return Workload(people, rules, wishes, days)


def fast_all(work: Workload) -> list[list[Slot]]:
    """Every request's best slots with one finder (what a batch of requests costs)."""
    finder = SlotFinder(work.people, work.rules, start=START, days=work.days)
    return [finder.find(wish, limit=TOP) for wish in work.wishes]


def naive(work: Workload, sample: int) -> list[list[Slot]]:
    """The reference for the first `sample` requests."""
    return [
        reference_slots(work.people, work.rules, wish, start=START, days=work.days)[:TOP]
        for wish in work.wishes[:sample]
    ]


def sizes(request: pytest.FixtureRequest) -> tuple[int, int, int, int]:
    disabled = bool(request.config.getoption("benchmark_disable"))
    return SMALL if disabled or os.environ.get("BENCH_QUICK") else FULL


@pytest.fixture(scope="module")
def workload(request: pytest.FixtureRequest) -> tuple[Workload, int]:
    interviewers, days, requests, sample = sizes(request)
    return build(interviewers, days, requests), sample


@pytest.mark.benchmark(group="slots")
def test_slots_fast(benchmark: Any, workload: tuple[Workload, int]) -> None:
    work, _ = workload
    found = benchmark.pedantic(fast_all, args=(work,), rounds=3, iterations=1)
    assert len(found) == len(work.wishes)
    assert sum(1 for slots in found if slots) > len(found) // 2  # most candidates get times


@pytest.mark.benchmark(group="slots")
def test_slots_naive_baseline(benchmark: Any, workload: tuple[Workload, int]) -> None:
    work, sample = workload
    found = benchmark.pedantic(naive, args=(work, sample), rounds=1, iterations=1)
    assert found == fast_all(work)[:sample]  # the same slots, the same order


def test_slots_report(workload: tuple[Workload, int], request: pytest.FixtureRequest) -> None:
    """Both paths timed side by side; the figures and their ratio go to results/slots.json."""
    work, sample = workload
    # Cold: no zone data or window edges cached yet in this process (the first request batch
    # after a start); warm: the caches a running appliance keeps.
    to_instant.cache_clear()
    zone_ok.cache_clear()
    started = time.perf_counter()
    fast_all(work)
    cold_s = time.perf_counter() - started
    fast_runs = []
    for _ in range(3):
        started = time.perf_counter()
        fast = fast_all(work)
        fast_runs.append(time.perf_counter() - started)
    started = time.perf_counter()
    slow = naive(work, sample)
    naive_s = time.perf_counter() - started
    assert slow == fast[:sample]
    fast_total = statistics.median(fast_runs)
    per_fast = fast_total / len(work.wishes)
    per_naive = naive_s / sample
    ratio = per_naive / per_fast
    report = {
        "measured_at": now_stamp(),
        "cpu_count": os.cpu_count(),
        "benchmarks_disabled": bool(request.config.getoption("benchmark_disable")),
        "interviewers": len(work.people),
        "days": work.days,
        "requests": len(work.wishes),
        "fast": {
            "total_s_all_requests": fast_total,
            "cold_total_s": cold_s,
            "per_request_ms": per_fast * 1000,
        },
        "naive_baseline": {
            "sampled_requests": sample,
            "per_request_ms": per_naive * 1000,
            "extrapolated_total_s": per_naive * len(work.wishes),
        },
        "ratio_naive_over_fast_per_request": ratio,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    assert ratio > 0
