"""The report page: a report's scores after human overrides, their evidence, and the override
history."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from appliance.hiring.common import NameLookup, competency_model_of
from appliance.hiring.review import scores_with_overrides
from appliance.security.permissions import Visibility
from appliance.store import Store
from appliance.store.competency import ModelSpec
from appliance.store.hiring import Interview, Requisition
from appliance.store.people import Candidate
from appliance.store.recordings import Recording
from appliance.store.reports import Report
from appliance.store.review import ScoreOverride


@dataclass(frozen=True)
class Evidence:
    """A quote from the answer with its place in the recording, if known."""

    quote: str
    start: float | None
    end: float | None


@dataclass(frozen=True)
class ScoreRow:
    """One competency's AI score, the current score after overrides, and the evidence."""

    key: str
    name: str
    weight: float | None
    ai_score: float | None
    confidence: float | None
    current: float | None
    overridden: bool
    evidence: list[Evidence]


@dataclass(frozen=True)
class OverrideView:
    """An override with its author's name."""

    override: ScoreOverride
    author: str


@dataclass(frozen=True)
class ReportDetail:
    """Everything the report page shows."""

    report: Report
    interview: Interview
    candidate: Candidate
    requisition: Requisition
    model: ModelSpec | None
    recording: Recording | None
    media: dict[str, Any] | None
    steps_run: list[str]
    steps_skipped: list[str]
    scores: list[ScoreRow]
    overrides: list[OverrideView]

    @property
    def scored(self) -> bool:
        """Whether the analysis produced any score."""
        return any(row.ai_score is not None for row in self.scores)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _evidence(value: Any) -> list[Evidence]:
    if not isinstance(value, list):
        return []
    return [
        Evidence(str(item["quote"]), _number(item.get("start")), _number(item.get("end")))
        for item in value
        if isinstance(item, dict) and item.get("quote")
    ]


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _score_rows(
    report: Report,
    model: ModelSpec | None,
    raw: Any,
    current: dict[str, float],
    overridden: set[str],
) -> list[ScoreRow]:
    # Every dimension the report scored is shown, even one the job's model no longer has.
    dimensions = {dim.key: dim for dim in model.dimensions} if model else {}
    # Weights belong to a model version: shown only when the job still uses the version the
    # report names (names of dimensions are kept as labels either way).
    same_version = model is not None and report.model_version == model.label
    raw_scores: dict[str, Any] = raw if isinstance(raw, dict) else {}
    keys = list(raw_scores) + [key for key in dimensions if key not in raw_scores]
    rows = []
    for key in keys:
        entry = raw_scores.get(key)
        entry = entry if isinstance(entry, dict) else {}
        dim = dimensions.get(key)
        rows.append(
            ScoreRow(
                key,
                dim.name if dim else key,
                dim.weight if dim and same_version else None,
                _number(entry.get("score")),
                _number(entry.get("confidence")),
                current.get(key),
                key in overridden,
                _evidence(entry.get("evidence")),
            )
        )
    return rows


def report_detail(store: Store, visibility: Visibility, report_id: int) -> ReportDetail:
    """A visible report with its scores (after overrides), evidence and override history."""
    report = store.reports.get_visible(report_id, visibility)
    interview = store.interviews.get(report.interview_id)
    candidate = store.candidates.get(interview.candidate_id)
    requisition = store.requisitions.get(interview.requisition_id)
    model = competency_model_of(store, requisition)
    recording = (
        store.recordings.get(report.recording_id) if report.recording_id is not None else None
    )
    content = report.content if isinstance(report.content, dict) else {}
    media = content.get("media")
    if not isinstance(media, dict):
        media = recording.media_info if recording is not None else None
    overrides = store.overrides.for_report(report.id)
    rows = _score_rows(
        report,
        model,
        content.get("scores"),
        scores_with_overrides(report, overrides),
        {override.dimension for override in overrides},
    )
    names = NameLookup(store)
    return ReportDetail(
        report,
        interview,
        candidate,
        requisition,
        model,
        recording,
        media,
        _strings(content.get("steps_run")),
        _strings(content.get("steps_skipped")),
        rows,
        [OverrideView(override, names(override.overridden_by)) for override in overrides],
    )


__all__ = ["Evidence", "OverrideView", "ReportDetail", "ScoreRow", "report_detail"]
