"""Coding rounds: submissions judged per minute with 8 candidates submitting at once.

One task (print the median and the number of distinct values of N integers) with 10 test cases,
5 visible and 5 hidden, from 2 000 to 20 000 numbers. Each of 8 candidate threads submits a
correct solution again and again; a submission is judged in full (compile where the language
has one, then all 10 cases, each in its own sandboxed process with every mechanism this box
has). The figure is judged submissions per minute of wall time, per language, on this box's
cores (the issue asks for 2), with the sandbox's optional gate off (8 runs at once) and at the
number of cores.

`python -m pytest benchmarks/bench_sandbox.py` writes benchmarks/results/sandbox.json; under
`--benchmark-disable` (`make test`) the sizes shrink to a quick smoke test.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.coding.judge import Judgement, TestCase, judge
from appliance.coding.model import Limits, Verdict
from appliance.coding.sandbox import Sandbox
from appliance.platform.clock import now_stamp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops from root to a uid")

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox.json"
CANDIDATES = 8
FULL = (10, 2)  # test cases, submissions per candidate
SMALL = (3, 1)
LIMITS = Limits(cpu_s=5, wall_s=20)

SOLUTIONS = {
    "python": (
        "import sys\n"
        "d = sorted(map(int, sys.stdin.read().split()[1:]))\n"
        "print(d[len(d) // 2], len(set(d)))\n"
    ),
    "c": (
        "#include <stdio.h>\n#include <stdlib.h>\n"
        "static int cmp(const void *a, const void *b) {\n"
        "  int x = *(const int *)a, y = *(const int *)b; return (x > y) - (x < y); }\n"
        'int main(void) { int n; if (scanf("%d", &n) != 1) return 1;\n'
        "  int *v = malloc(sizeof(int) * n);\n"
        '  for (int i = 0; i < n; i++) if (scanf("%d", &v[i]) != 1) return 1;\n'
        "  qsort(v, n, sizeof(int), cmp); int d = n > 0;\n"
        "  for (int i = 1; i < n; i++) d += v[i] != v[i - 1];\n"
        '  printf("%d %d\\n", v[n / 2], d); return 0; }\n'
    ),
    "cpp": (
        "#include <algorithm>\n#include <cstdio>\n#include <vector>\n"
        'int main() { int n; if (std::scanf("%d", &n) != 1) return 1;\n'
        '  std::vector<int> v(n); for (int &x : v) if (std::scanf("%d", &x) != 1) return 1;\n'
        "  std::sort(v.begin(), v.end()); int median = v[n / 2];\n"
        "  int d = std::unique(v.begin(), v.end()) - v.begin();\n"
        '  std::printf("%d %d\\n", median, d); }\n'
    ),
    "java": (
        "import java.io.*;\nimport java.util.*;\n"
        "public class Main { public static void main(String[] a) throws IOException {\n"
        "  StreamTokenizer t = new StreamTokenizer(new BufferedInputStream(System.in));\n"
        "  t.nextToken(); int n = (int) t.nval; int[] v = new int[n];\n"
        "  for (int i = 0; i < n; i++) { t.nextToken(); v[i] = (int) t.nval; }\n"
        "  Arrays.sort(v); int d = n > 0 ? 1 : 0;\n"
        "  for (int i = 1; i < n; i++) if (v[i] != v[i - 1]) d++;\n"
        '  System.out.println(v[n / 2] + " " + d); } }\n'
    ),
    "javascript": (
        "const d = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).slice(1)\n"
        "  .map(Number).sort((a, b) => a - b);\n"
        "console.log(d[d.length >> 1], new Set(d).size);\n"
    ),
}


def make_tests(count: int, seed: int = 21) -> list[TestCase]:
    """`count` cases of growing size, the second half hidden."""
    rng = random.Random(seed)
    tests = []
    for index in range(count):
        numbers = [rng.randint(-(10**6), 10**6) for _ in range(2000 * (index + 1))]
        ordered = sorted(numbers)
        tests.append(
            TestCase(
                f"{len(numbers)}\n{' '.join(map(str, numbers))}\n",
                f"{ordered[len(ordered) // 2]} {len(set(numbers))}\n",
                hidden=index >= count // 2,
            )
        )
    return tests


def throughput(sandbox: Sandbox, language: str, tests: list[TestCase], each: int) -> dict[str, Any]:
    """8 candidate threads, `each` submissions apiece: judged submissions per minute."""
    judged: list[Judgement] = []
    lock = threading.Lock()

    def candidate() -> None:
        for _ in range(each):
            result = judge(sandbox, language, SOLUTIONS[language], tests, LIMITS)
            with lock:
                judged.append(result)

    threads = [threading.Thread(target=candidate) for _ in range(CANDIDATES)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    runs = [case for result in judged for case in result.cases]
    return {
        "submissions": len(judged),
        "test_runs": len(runs),
        "wall_s": elapsed,
        "submissions_per_minute": len(judged) / elapsed * 60,
        "test_runs_per_second": len(runs) / elapsed,
        "all_passed": all(r.verdict is Verdict.OK for r in judged),
        "median_case_cpu_ms": statistics.median(c.cpu_s for c in runs) * 1000,
        "median_case_wall_ms": statistics.median(c.wall_s for c in runs) * 1000,
    }


def sizes(request: pytest.FixtureRequest) -> tuple[int, int]:
    disabled = bool(request.config.getoption("benchmark_disable"))
    return SMALL if disabled or os.environ.get("BENCH_QUICK") else FULL


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.mark.benchmark(group="sandbox")
def test_sandbox_python_submissions(
    benchmark: Any, sandbox: Sandbox, request: pytest.FixtureRequest
) -> None:
    count, each = sizes(request)
    tests = make_tests(count)
    figures = benchmark.pedantic(
        throughput, args=(sandbox, "python", tests, each), rounds=1, iterations=1
    )
    assert figures["all_passed"] and figures["submissions"] == CANDIDATES * each


def test_sandbox_report(sandbox: Sandbox, request: pytest.FixtureRequest) -> None:
    """Every language this box has, 8 candidates at once; results/sandbox.json."""
    count, each = sizes(request)
    tests = make_tests(count)
    languages = sandbox.languages() if (count, each) == FULL else ["python"]
    per_language = {}
    for language in languages:
        figures = throughput(sandbox, language, tests, each)
        assert figures["all_passed"], language
        per_language[language] = figures
    cores = os.cpu_count() or 1
    gated = Sandbox(max_parallel=cores)
    python_gated = throughput(gated, "python", tests, each)
    report = {
        "measured_at": now_stamp(),
        "cpu_count": cores,
        "benchmarks_disabled": bool(request.config.getoption("benchmark_disable")),
        "candidates": CANDIDATES,
        "test_cases_per_submission": count,
        "submissions_per_candidate": each,
        "mechanisms": sandbox.mechanisms().active(),
        "languages": per_language,
        f"python_with_gate_of_{cores}": python_gated,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    assert per_language["python"]["submissions_per_minute"] > 0
