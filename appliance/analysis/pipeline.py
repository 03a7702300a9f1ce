"""The analysis pipeline: ordered steps that turn a recording into a report draft."""

from __future__ import annotations

import io
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from appliance.platform.config import ApplianceConfig
from appliance.store.recordings import Recording

if TYPE_CHECKING:
    from appliance.store import Store


class StepFailure(Exception):
    """A step cannot succeed; `retryable` says whether trying again could help."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass
class StepContext:
    """What a step may use: the recording (decrypted on demand), policy inputs, scratch space."""

    job_id: int
    recording: Recording
    region: str
    language: str
    config: ApplianceConfig
    open_media: Callable[[], io.RawIOBase]
    scratch_dir: Path
    report_progress: Callable[[float, str], None]
    # Policy and consent are re-checked here, in the worker, not only in the UI.
    store: Store | None = None


@dataclass
class ReportDraft:
    """The report as the steps build it up."""

    media_info: dict[str, Any] | None = None
    sections: dict[str, Any] = field(default_factory=dict)
    steps_run: list[str] = field(default_factory=list)
    steps_skipped: list[str] = field(default_factory=list)
    # Why a step was skipped or failed softly, by step name (shown in the report).
    notes: dict[str, str] = field(default_factory=dict)
    # Stored apart from the report (e.g. affect output), by table-like name; never scored.
    apart: dict[str, Any] = field(default_factory=dict)
    # In-memory values passed between steps (decoded PCM, Transcript objects); never stored.
    artifacts: dict[str, Any] = field(default_factory=dict, repr=False)
    # Wall seconds each step took (the job's result, for the operator's metrics; no content).
    step_seconds: dict[str, float] = field(default_factory=dict)

    def to_content(self) -> dict[str, Any]:
        """The JSON stored as the report's content."""
        return {
            "media": self.media_info,
            "sections": self.sections,
            "steps_run": self.steps_run,
            "steps_skipped": self.steps_skipped,
            "notes": self.notes,
        }


class AnalysisStep(ABC):
    """One stage of the pipeline."""

    name: ClassVar[str]

    def able_to_run(self, ctx: StepContext) -> bool:
        """Whether policy and inputs allow this step for this job."""
        return True

    @abstractmethod
    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        """Do the work and return the updated draft."""

    def begin(self, ctx: StepContext, draft: ReportDraft) -> bool:
        """Start the step's work in the background once the steps before have given it what it
        needs (its `run` then collects the result); True when started. Called after each
        earlier step; most steps cannot start early and say no."""
        return False

    def cleanup(self, ctx: StepContext) -> None:  # noqa: B027 - optional hook
        """Release what the step held; always called, also after a failure."""


STEPS: dict[str, type[AnalysisStep]] = {}


def register_step(cls: type[AnalysisStep]) -> type[AnalysisStep]:
    """Class decorator: make a step available to `worker.pipeline` by its name."""
    if cls.name in STEPS and STEPS[cls.name] is not cls:
        raise ValueError(f"two steps are called {cls.name!r}")
    STEPS[cls.name] = cls
    return cls


def run_pipeline(
    steps: Sequence[AnalysisStep], ctx: StepContext, *, overlap: bool = False
) -> ReportDraft:
    """Run the steps in order; every step that started gets its cleanup.

    With `overlap`, after each step the later steps are offered to `begin` in the background
    (the visual cues beside the transcription: a 2-core box has one core idle otherwise);
    their results are still taken in the configured order.
    """
    draft = ReportDraft()
    started: list[AnalysisStep] = []
    early: set[int] = set()
    try:
        for position, step in enumerate(steps):
            if not step.able_to_run(ctx):
                draft.steps_skipped.append(step.name)
                continue
            ctx.report_progress(position / len(steps), step.name)
            if position not in early:
                started.append(step)
            began = time.monotonic()
            draft = step.run(ctx, draft)
            # A step that ran in the background records its own time (longer than the wait).
            draft.step_seconds.setdefault(step.name, round(time.monotonic() - began, 3))
            draft.steps_run.append(step.name)
            if overlap:
                for later, waiting in enumerate(steps[position + 1 :], start=position + 1):
                    if later not in early and waiting.begin(ctx, draft):
                        early.add(later)
                        started.append(waiting)
    finally:
        for step in reversed(started):
            step.cleanup(ctx)
    return draft
