"""Runs for the complexity estimate: the task's generator makes inputs of growing size, the
reference and the submission run on each under the task's limits, and their CPU times are
fitted (appliance/coding/complexity.py). Generated inputs are never kept or shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from appliance.coding.complexity import GrowthFit, fit_growth
from appliance.coding.judge import outputs_match
from appliance.coding.model import MIB, Limits
from appliance.coding.sandbox import Sandbox
from appliance.coding.task import CodingTask

# The generator is the task author's code: it gets more room than a submission, never more
# than the sandbox takes as one input.
GENERATOR_LIMITS = Limits(
    cpu_s=10.0, wall_s=20.0, memory_bytes=512 * MIB, output_bytes=16 * MIB, file_bytes=16 * MIB
)
REPEATS = 2  # each size runs twice; the faster run counts (less noise from a busy box)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ProgramGrowth:
    """One program's CPU time per size, where it stopped (a limit), and the law that fits."""

    times: tuple[float, ...]
    fit: GrowthFit
    stopped_at: int | None = None  # the size where it failed a limit or crashed
    stopped_verdict: str | None = None  # a Verdict value
    agrees: int = 0  # sizes where its output matched the reference's
    compared: int = 0


@dataclass(frozen=True)
class GrowthReport:
    """The estimate for a submission beside the reference's, or why there is none."""

    available: bool
    reason: str = ""  # "no_generator", "generator_failed", "reference_failed", "compile_error"
    sizes: tuple[int, ...] = ()
    submission: ProgramGrowth | None = None
    reference: ProgramGrowth | None = None


def _generate(sandbox: Sandbox, task: CodingTask) -> list[str] | str:
    """The generated inputs, one per size, or the reason they could not be made."""
    generator = task.generator
    assert generator is not None
    inputs: list[str] = []
    with sandbox.workspace(generator.language, generator.code) as space:
        built = space.compile()
        if built is not None and not built.ok:
            return "generator_failed"
        for size in generator.sizes:
            run = space.run(f"{size}\n", GENERATOR_LIMITS)
            if not run.ok or run.stdout_truncated:
                return "generator_failed"
            inputs.append(run.stdout)
    return inputs


def _measure(
    sandbox: Sandbox,
    language: str,
    code: str,
    sizes: tuple[int, ...],
    inputs: list[str],
    limits: Limits,
    expected: list[str] | None,
) -> tuple[ProgramGrowth | None, list[str]]:
    """Times (and outputs) of one program over the inputs; None when it does not compile."""
    times: list[float] = []
    outputs: list[str] = []
    stopped: tuple[int, str] | None = None
    agrees = 0
    with sandbox.workspace(language, code) as space:
        built = space.compile()
        if built is not None and not built.ok:
            return None, []
        for size, data in zip(sizes, inputs, strict=True):
            runs = []
            for _ in range(REPEATS):
                runs.append(space.run(data, limits))
                if not runs[-1].ok:
                    break
            if not runs[-1].ok:
                stopped = (size, runs[-1].verdict.value)
                break
            times.append(min(run.cpu_s for run in runs))
            outputs.append(runs[0].stdout)
            if expected is not None and outputs_match(runs[0].stdout, expected[len(outputs) - 1]):
                agrees += 1
    measured = sizes[: len(times)]
    growth = ProgramGrowth(
        times=tuple(round(t, 4) for t in times),
        fit=fit_growth(measured, times),
        stopped_at=stopped[0] if stopped else None,
        stopped_verdict=stopped[1] if stopped else None,
        agrees=agrees,
        compared=len(outputs) if expected is not None else 0,
    )
    return growth, outputs


def measure_growth(
    sandbox: Sandbox, task: CodingTask, language: str, code: str, progress: Progress | None = None
) -> GrowthReport:
    """Run the reference and the submission on generated inputs of growing size and fit both."""
    if task.generator is None:
        return GrowthReport(available=False, reason="no_generator")
    say = progress or (lambda _step: None)
    say("generating inputs")
    inputs = _generate(sandbox, task)
    if isinstance(inputs, str):
        return GrowthReport(available=False, reason=inputs)
    sizes = task.generator.sizes
    say("timing the reference")
    ref_language, ref_code = task.reference_for(language)
    reference, expected = _measure(
        sandbox, ref_language, ref_code, sizes, inputs, task.limits, None
    )
    if reference is None or reference.stopped_at is not None:
        return GrowthReport(available=False, reason="reference_failed", sizes=sizes)
    say("timing the submission")
    submission, _ = _measure(sandbox, language, code, sizes, inputs, task.limits, expected)
    if submission is None:
        return GrowthReport(available=False, reason="compile_error", sizes=sizes)
    return GrowthReport(True, sizes=sizes, submission=submission, reference=reference)
