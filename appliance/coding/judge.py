"""The test runner: one submission against a task's visible and hidden test cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from appliance.coding.model import Limits, RunResult, Verdict
from appliance.coding.sandbox import Sandbox


@dataclass(frozen=True)
class TestCase:
    """One input and the output it must produce; hidden cases are never shown to the candidate."""

    __test__ = False  # not a pytest class, despite the name

    input: str
    expected: str
    hidden: bool = False
    name: str = ""


@dataclass(frozen=True)
class CaseResult:
    """How the submission did on one test case."""

    name: str
    hidden: bool
    verdict: Verdict
    wall_s: float
    cpu_s: float
    peak_memory_bytes: int
    reason: str = ""
    output: str | None = None  # visible cases only: a hidden case's output could echo its input


@dataclass(frozen=True)
class Judgement:
    """A submission's result: compile step, every case, passed counts and the worst usage."""

    language: str
    verdict: Verdict
    cases: tuple[CaseResult, ...]
    compile: RunResult | None = None

    @property
    def visible_passed(self) -> int:
        """Visible cases passed."""
        return sum(1 for c in self.cases if not c.hidden and c.verdict is Verdict.OK)

    @property
    def visible_total(self) -> int:
        """Visible cases run."""
        return sum(1 for c in self.cases if not c.hidden)

    @property
    def hidden_passed(self) -> int:
        """Hidden cases passed."""
        return sum(1 for c in self.cases if c.hidden and c.verdict is Verdict.OK)

    @property
    def hidden_total(self) -> int:
        """Hidden cases run."""
        return sum(1 for c in self.cases if c.hidden)

    @property
    def max_cpu_s(self) -> float:
        """The slowest case's CPU time."""
        return max((c.cpu_s for c in self.cases), default=0.0)

    @property
    def max_memory_bytes(self) -> int:
        """The hungriest case's peak memory."""
        return max((c.peak_memory_bytes for c in self.cases), default=0)


def outputs_match(actual: str, expected: str) -> bool:
    """Equal up to trailing spaces on each line and trailing blank lines (and CRLF)."""

    def lines(text: str) -> list[str]:
        found = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        while found and not found[-1]:
            found.pop()
        return found

    return lines(actual) == lines(expected)


def judge(
    sandbox: Sandbox,
    language: str,
    source: str,
    tests: Sequence[TestCase],
    limits: Limits | None = None,
    *,
    visible_only: bool = False,
) -> Judgement:
    """Compile once, run every case (only the visible ones for a candidate's "run tests")."""
    limits = limits or Limits()
    chosen = [t for t in tests if not (visible_only and t.hidden)]
    with sandbox.workspace(language, source) as space:
        built = space.compile()
        if built is not None and not built.ok:
            cases = tuple(
                CaseResult(t.name or f"case {i + 1}", t.hidden, built.verdict, 0.0, 0.0, 0)
                for i, t in enumerate(chosen)
            )
            return Judgement(language, built.verdict, cases, built)
        results = []
        for index, test in enumerate(chosen):
            run = space.run(test.input, limits)
            verdict = run.verdict
            if verdict is Verdict.OK and not outputs_match(run.stdout, test.expected):
                verdict = Verdict.WRONG
            results.append(
                CaseResult(
                    name=test.name or f"case {index + 1}",
                    hidden=test.hidden,
                    verdict=verdict,
                    wall_s=run.wall_s,
                    cpu_s=run.cpu_s,
                    peak_memory_bytes=run.peak_memory_bytes,
                    reason=run.reason,
                    output=None if test.hidden else run.stdout,
                )
            )
    overall = next((c.verdict for c in results if c.verdict is not Verdict.OK), Verdict.OK)
    return Judgement(language, overall, tuple(results), built)
