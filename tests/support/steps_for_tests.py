"""Pipeline plugin steps used by the worker tests (loaded through `module:Class` names)."""

from __future__ import annotations

import time
from pathlib import Path

from appliance.analysis.pipeline import AnalysisStep, ReportDraft, StepContext, StepFailure


def _marker(ctx: StepContext, label: str) -> Path:
    return ctx.config.data_dir / f"{label}-marker-{ctx.job_id}"


class FlakyStep(AnalysisStep):
    """Fails with an unexpected error on a job's first run, succeeds on every later run."""

    name = "flaky"

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        marker = _marker(ctx, "flaky")
        if not marker.exists():
            marker.write_text("attempted once\n", encoding="utf-8")
            raise RuntimeError("simulated disk hiccup")
        draft.sections["flaky"] = {"recovered": True}
        return draft


class BrokenStep(AnalysisStep):
    """Always fails with an unexpected (hence retryable) error."""

    name = "broken"

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        raise RuntimeError("simulated permanent breakage")


class AlwaysFailsStep(AnalysisStep):
    """Always fails with a permanent, readable StepFailure."""

    name = "always_fails"

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        raise StepFailure(
            "model_missing", "the speech model pack is not installed", retryable=False
        )


class SlowStep(AnalysisStep):
    """Works (reporting progress) for up to two minutes: a job that is surely still running
    when a test stops its worker."""

    name = "slow"

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline:
            ctx.report_progress(0.5, self.name)
            time.sleep(0.05)
        return draft
