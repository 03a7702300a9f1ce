"""The bias audit's tables over 30 000 synthetic candidates (two sexes x five race/ethnicity
categories, their intersections, selection and scoring rates, Fisher's exact test per row):
the figures an LL144 audit publishes, computed at the size of a large employer's year.

`python -m pytest benchmarks/bench_bias_audit.py` writes the time to
benchmarks/results/bias_audit.json (goal: under 5 s on 2 cores).
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from appliance.compliance.bias import Person, scoring_tables, selection_tables

RESULTS = Path(__file__).resolve().parent / "results" / "bias_audit.json"
PEOPLE = 30_000
SEXES = ("Female", "Male")
RACES = ("Asian", "Black", "Hispanic or Latino", "White", "Two or more races")


def _people(count: int) -> list[Person]:
    draw = random.Random(7)
    people = []
    for _ in range(count):
        sex = draw.choice(SEXES) if draw.random() > 0.03 else None
        race = draw.choice(RACES) if draw.random() > 0.05 else None
        score = round(draw.gauss(6.0 + (0.4 if race == "White" else 0.0), 1.5), 1)
        people.append(Person(sex, race, draw.random() < 0.1 + score / 100, score))
    return people


def test_an_audit_of_thirty_thousand_candidates() -> None:
    people = _people(PEOPLE)
    started = time.perf_counter()
    tables = selection_tables(people) + scoring_tables(people)
    elapsed = time.perf_counter() - started
    rows = sum(len(t.groups) for t in tables)
    assert rows >= 2 * (2 + 5 + 10)
    assert all(0 <= (g.impact_ratio or 0) <= 1 for t in tables for g in t.groups)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "people": PEOPLE,
                "tables": len(tables),
                "rows": rows,
                "seconds": round(elapsed, 3),
                "goal_seconds": 5.0,
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nbias audit of {PEOPLE} candidates: {elapsed:.3f} s ({rows} rows)")
