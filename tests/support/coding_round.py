"""Coding-round fixtures: a small task file (sum of numbers) with visible and hidden cases and
an input generator, submissions that are right, wrong, too slow and crashing, and a world of
a job, an interview and the people who work on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from appliance.accounts.auth import issue_api_token, principal_of
from appliance.security.permissions import Principal
from appliance.store import Store
from tests.conftest import make_user

# Canaries of the hidden cases: their input and expected output must never be shown.
HIDDEN_INPUT = "4000000000 3731946"
HIDDEN_EXPECTED = "4003731946"
BIG_N = 10_000  # the hidden case the quadratic submission cannot finish in time

REFERENCE = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"
GENERATOR = (
    "import random, sys\n"
    "n = int(sys.stdin.read())\n"
    "rng = random.Random(n)\n"
    "print(' '.join(str(rng.randrange(1000)) for _ in range(n)))\n"
)
SUBMISSIONS = {
    "correct": (
        "import sys\nvalues = [int(v) for v in sys.stdin.read().split()]\nprint(sum(values))\n"
    ),
    "wrong": "import sys\nvalues = sys.stdin.read().split()\nprint(len(values))\n",
    # Right answers in quadratic time: fine on small inputs, over the limit on large ones.
    "slow": (
        "import sys\n"
        "values = [int(v) for v in sys.stdin.read().split()]\n"
        "total = 0\n"
        "for x in values:\n"
        "    for _ in range(len(values)):\n"
        "        pass\n"
        "    total += x\n"
        "print(total)\n"
    ),
    "crash": "import sys\nvalues = sys.stdin.read().split()\nraise SystemExit(values[99999])\n",
}


def task_data(
    *, generator: bool = True, key: str = "sum-numbers", **changes: Any
) -> dict[str, Any]:
    """The sum task as a dict in the file's form; `changes` replace top-level fields."""
    data: dict[str, Any] = {
        "schema": "coding-task/1",
        "key": key,
        "title": {"en": "Sum of numbers", "zh": "数字求和"},
        "statement": {
            "en": "Print the sum of the integers on standard input.\n",
            "zh": "输出标准输入中所有整数之和。\n",
        },
        "languages": ["python"],
        "limits": {"cpu_seconds": 1, "wall_seconds": 5, "memory_mb": 128},
        "starter": {"python": "import sys\n\n# print the sum\n"},
        "reference": {"language": "python", "code": REFERENCE},
        "tests": [
            {"name": "three numbers", "input": "1 2 3\n", "output": "6\n"},
            {"name": "negative", "input": "-5 5 7\n", "output": "7\n"},
            {
                "name": "big numbers",
                "input": HIDDEN_INPUT + "\n",
                "output": HIDDEN_EXPECTED + "\n",
                "hidden": True,
            },
            {
                "name": "many numbers",
                "input": " ".join(["3"] * BIG_N) + "\n",
                "output": f"{3 * BIG_N}\n",
                "hidden": True,
            },
        ],
    }
    if generator:
        data["generator"] = {
            "language": "python",
            "code": GENERATOR,
            "sizes": [500, 1000, 2000, 4000, 8000],
        }
    data.update(changes)
    return data


def task_file(**options: Any) -> bytes:
    """The sum task as YAML bytes (see `task_data`)."""
    return yaml.safe_dump(task_data(**options), sort_keys=False, allow_unicode=True).encode()


@dataclass
class CodingWorld:
    """A job with an interview, HR, a technical expert assigned to it, and a service account."""

    requisition_id: int
    interview_id: int
    candidate_id: int
    hr: Principal
    hr_username: str
    expert: Principal
    expert_username: str
    service_token: str
    hr_token: str


def coding_world(store: Store, region: str = "EU") -> CodingWorld:
    """Real accounts and records for a coding round (users named per region)."""
    with store.transaction():
        job = store.requisitions.create("Backend engineer", "Engineering", "Berlin", region)
    candidate = store.candidates.create("Coding Candidate", email="coder@example.invalid")
    interview = store.interviews.create(candidate.id, job.id)
    suffix = region.lower().replace("-", "")
    hr_id = make_user(store, f"hr.{suffix}", "hr_admin", departments=["*"], regions=[region])
    expert_id = make_user(
        store, f"tech.{suffix}", "tech_expert", departments=["*"], regions=[region]
    )
    service_id = make_user(store, f"svc.{suffix}", "service", departments=["*"], regions=[region])
    with store.transaction():
        store.interviews.assign(interview.id, expert_id, "tech_expert")
    return CodingWorld(
        job.id,
        interview.id,
        candidate.id,
        principal_of(store.users.get(hr_id)),
        f"hr.{suffix}",
        principal_of(store.users.get(expert_id)),
        f"tech.{suffix}",
        issue_api_token(store, hr_id, service_id, "room back end").secret,
        issue_api_token(store, hr_id, hr_id, "hr").secret,
    )
