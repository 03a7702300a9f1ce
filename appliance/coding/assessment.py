"""Everything the technical expert gets about one submission, measured in the sandbox: test
verdicts, usage beside the reference solution's (same limits, same cases), the growth
estimate, lint findings and the edit timeline, as one JSON-ready result.

A hidden case's output and input never enter the result: only its name, verdict and usage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from appliance.coding.growth import GrowthReport, ProgramGrowth, measure_growth
from appliance.coding.judge import Judgement, judge
from appliance.coding.lint import lint
from appliance.coding.model import Verdict
from appliance.coding.sandbox import Sandbox
from appliance.coding.task import CodingTask
from appliance.coding.timeline import Snapshot, build_timeline

RESULT_FORMAT = 1
MAX_COMPILE_MESSAGE = 4000
MAX_CASE_OUTPUT = 2000  # of a visible case's output, for the expert

Progress = Callable[[float, str], None]


def _cases(judged: Judgement) -> list[dict[str, Any]]:
    return [
        {
            "name": case.name,
            "hidden": case.hidden,
            "verdict": case.verdict.value,
            "cpu_s": round(case.cpu_s, 4),
            "wall_s": round(case.wall_s, 4),
            "peak_memory_bytes": case.peak_memory_bytes,
            "reason": case.reason,
            # Never for a hidden case (the judge keeps none), and cut for the page.
            "output": None if case.hidden or case.output is None else case.output[:MAX_CASE_OUTPUT],
        }
        for case in judged.cases
    ]


def _both_ok_totals(judged: Judgement, reference: Judgement) -> tuple[float, float, int, int]:
    """CPU totals and memory peaks over the cases both programs ran to the end."""
    cpu = ref_cpu = 0.0
    memory = ref_memory = 0
    for own, ref in zip(judged.cases, reference.cases, strict=False):
        if own.verdict in (Verdict.OK, Verdict.WRONG) and ref.verdict is Verdict.OK:
            cpu += own.cpu_s
            ref_cpu += ref.cpu_s
            memory = max(memory, own.peak_memory_bytes)
            ref_memory = max(ref_memory, ref.peak_memory_bytes)
    return cpu, ref_cpu, memory, ref_memory


def _ratio(value: float, base: float) -> float | None:
    return round(value / base, 2) if base > 0 and value > 0 else None


def _program_growth(growth: ProgramGrowth | None) -> dict[str, Any] | None:
    if growth is None:
        return None
    return {
        "times_s": list(growth.times),
        "law": growth.fit.law,
        "exponent": growth.fit.exponent,
        "measurable": growth.fit.measurable,
        "startup_s": round(growth.fit.startup_s, 4),
        "stopped_at": growth.stopped_at,
        "stopped_verdict": growth.stopped_verdict,
        "agrees_with_reference": growth.agrees,
        "compared": growth.compared,
    }


def _growth(report: GrowthReport) -> dict[str, Any]:
    return {
        "available": report.available,
        "reason": report.reason,
        "sizes": list(report.sizes),
        "submission": _program_growth(report.submission),
        "reference": _program_growth(report.reference),
    }


def assess(
    sandbox: Sandbox,
    task: CodingTask,
    language: str,
    code: str,
    drafts: Sequence[Snapshot] = (),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Judge `code` against every case of `task` and measure it beside the reference."""
    say = progress or (lambda _share, _step: None)
    say(0.05, "running the test cases")
    judged = judge(sandbox, language, code, task.tests, task.limits)
    say(0.3, "running the reference solution")
    ref_language, ref_code = task.reference_for(language)  # its own language's, where given
    reference = judge(sandbox, ref_language, ref_code, task.tests, task.limits)
    compiled = judged.compile is None or judged.compile.ok
    growth = (
        measure_growth(sandbox, task, language, code, lambda step: say(0.6, step))
        if compiled
        else GrowthReport(False, "compile_error")
    )
    say(0.9, "lint and timeline")
    cpu, ref_cpu, memory, ref_memory = _both_ok_totals(judged, reference)
    compile_message = ""
    if judged.compile is not None and not judged.compile.ok:
        compile_message = (judged.compile.stderr or judged.compile.reason)[:MAX_COMPILE_MESSAGE]
    linted = lint(language, code)
    timeline = build_timeline(drafts, code, task.starter.get(language, ""))
    return {
        "format": RESULT_FORMAT,
        "language": language,
        "verdict": judged.verdict.value,
        "compile_message": compile_message,
        "tests": {
            "visible": {"passed": judged.visible_passed, "total": judged.visible_total},
            "hidden": {"passed": judged.hidden_passed, "total": judged.hidden_total},
        },
        "cases": _cases(judged),
        "limits": {
            "cpu_s": task.limits.cpu_s,
            "wall_s": task.limits.wall_s,
            "memory_bytes": task.limits.memory_bytes,
        },
        "usage": {
            "max_cpu_s": round(judged.max_cpu_s, 4),
            "total_cpu_s": round(cpu, 4),
            "peak_memory_bytes": judged.max_memory_bytes,
        },
        "reference": {
            "language": ref_language,
            "verdict": reference.verdict.value,
            "passed": reference.visible_passed + reference.hidden_passed,
            "total": len(reference.cases),
            "max_cpu_s": round(reference.max_cpu_s, 4),
            "total_cpu_s": round(ref_cpu, 4),
            "peak_memory_bytes": reference.max_memory_bytes,
        },
        "relative": {"cpu": _ratio(cpu, ref_cpu), "memory": _ratio(memory, ref_memory)},
        "complexity": _growth(growth),
        "lint": {
            "available": linted.available,
            "reason": linted.reason,
            "tool": linted.tool,
            "findings": [asdict(finding) for finding in linted.findings],
        },
        "timeline": asdict(timeline),
        "isolation": sandbox.mechanisms().active(),
    }
