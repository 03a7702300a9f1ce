"""An interview's scores as people see them: the AI's, and the current ones after overrides.

Two kinds of override exist. One of a single answer's report changes that report's score for a
competency: within the interview it replaces the AI's assessments of that competency in that
report's answers, so the interview's score is combined again from them (one report of six
moves the interview's score by its share, not to the overridden value). One of the whole
interview sets the interview's score for a competency outright, and the newest one wins over
anything the answers say.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from appliance.store import Store
from appliance.store.hiring import Interview
from appliance.store.reports import Report
from appliance.store.review import InterviewOverride, ScoreOverride

SCOPE_ANSWER = "answer"
SCOPE_INTERVIEW = "interview"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sections_of(report: Report) -> dict[str, Any]:
    """A report's analysis sections (empty when it has none)."""
    return _dict(_dict(report.content).get("sections"))


def latest_per_recording(reports: list[Report]) -> list[Report]:
    """The newest report of each recording (a re-analysis supersedes the older report)."""
    newest: dict[Any, Report] = {}
    for report in sorted(reports, key=lambda r: r.id):
        newest[report.recording_id if report.recording_id is not None else ("r", report.id)] = (
            report
        )
    return sorted(newest.values(), key=lambda r: r.id)


def _overridden_section(section: dict[str, Any], scores: dict[str, float]) -> dict[str, Any]:
    """A report's scoring section with a person's scores in place of the AI's: the report's
    dimensions, and every assessment of those dimensions in its answers."""
    changed = copy.deepcopy(section)
    for dim in changed.get("dimensions", []):
        if isinstance(dim, dict) and dim.get("key") in scores:
            dim["score"] = scores[dim["key"]]
    for answer in changed.get("answers", []):
        for item in _dict(answer).get("assessments", []):
            # Only assessments the AI scored count towards the interview's score.
            if (
                isinstance(item, dict)
                and item.get("dimension_key") in scores
                and item.get("score") is not None
            ):
                item["score"] = scores[item["dimension_key"]]
    return changed


def combined_scoring(
    reports: list[Report], overrides: dict[int, dict[str, float]] | None = None
) -> tuple[dict[str, Any] | None, list[int | None]]:
    """The scoring of the interview (one recording's section, or the aggregate of several),
    with the given per-report scores put in place of the AI's, and the recording each
    evidence span's `recording` position points at."""
    scored = [r for r in reports if isinstance(sections_of(r).get("scoring"), dict)]
    if not scored:
        return None, []
    given = overrides or {}
    sections = [
        _overridden_section(sections_of(r)["scoring"], given[r.id])
        if given.get(r.id)
        else dict(sections_of(r)["scoring"])
        for r in scored
    ]
    if len(scored) == 1:
        return sections[0], [scored[0].recording_id]
    from appliance.scoring import SCORER, aggregate_interview

    # The aggregate numbers recordings by their place among the sections it can use.
    usable = [r for r, s in zip(scored, sections, strict=True) if s.get("scorer") == SCORER]
    return aggregate_interview(sections), [r.recording_id for r in usable]


@dataclass(frozen=True)
class AppliedOverride:
    """The override behind a competency's current score, and whether it was of one answer's
    report or of the whole interview."""

    override: ScoreOverride | InterviewOverride
    scope: str
    report_id: int | None


@dataclass(frozen=True)
class InterviewScores:
    """Per competency key: the AI's score, the current score, and the override behind it."""

    scoring: dict[str, Any] | None
    recordings: list[int | None]
    ai: dict[str, float | None]
    current: dict[str, float | None]
    applied: dict[str, AppliedOverride]
    answer_overrides: list[tuple[Report, ScoreOverride]]
    interview_overrides: list[InterviewOverride]


def _newest_per_dimension(
    overrides: list[tuple[Report, ScoreOverride]],
) -> dict[int, dict[str, ScoreOverride]]:
    """Per report, the newest override of each competency."""
    newest: dict[int, dict[str, ScoreOverride]] = {}
    for report, override in sorted(overrides, key=lambda i: (i[1].overridden_at, i[1].id)):
        newest.setdefault(report.id, {})[override.dimension] = override
    return newest


def _scores(scoring: dict[str, Any] | None) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for dim in _dict(scoring).get("dimensions", []):
        if isinstance(dim, dict) and dim.get("key"):
            value = dim.get("score")
            found[str(dim["key"])] = (
                float(value)
                if isinstance(value, int | float) and not isinstance(value, bool)
                else None
            )
    return found


def score_overrides(
    reports: list[Report],
    answer_overrides: list[tuple[Report, ScoreOverride]],
    interview_overrides: list[InterviewOverride],
) -> InterviewScores:
    """The interview's scores from these reports, with both kinds of override applied."""
    scoring, recordings = combined_scoring(reports)
    newest = _newest_per_dimension(answer_overrides)
    by_report = {rid: {k: o.new_score for k, o in dims.items()} for rid, dims in newest.items()}
    adjusted = combined_scoring(reports, by_report)[0] if by_report else scoring
    ai, current = _scores(scoring), _scores(adjusted)
    applied: dict[str, AppliedOverride] = {}
    for report_id, dims in newest.items():
        for key, override in dims.items():
            if key in current and (
                key not in applied or applied[key].override.overridden_at <= override.overridden_at
            ):
                applied[key] = AppliedOverride(override, SCOPE_ANSWER, report_id)
    for whole in sorted(interview_overrides, key=lambda o: (o.overridden_at, o.id)):
        if whole.dimension in current:
            current[whole.dimension] = whole.new_score
            applied[whole.dimension] = AppliedOverride(whole, SCOPE_INTERVIEW, None)
    return InterviewScores(
        scoring, recordings, ai, current, applied, answer_overrides, interview_overrides
    )


def interview_scores(
    store: Store, interview: Interview, reports: list[Report] | None = None
) -> InterviewScores:
    """An interview's scores now: its newest report per recording, with every override."""
    chosen = (
        latest_per_recording(store.reports.for_interview(interview.id))
        if reports is None
        else reports
    )
    answer_overrides = [(r, o) for r in chosen for o in store.overrides.for_report(r.id)]
    return score_overrides(
        chosen, answer_overrides, store.interview_overrides.for_interview(interview.id)
    )


__all__ = [
    "SCOPE_ANSWER",
    "SCOPE_INTERVIEW",
    "AppliedOverride",
    "InterviewScores",
    "combined_scoring",
    "interview_scores",
    "latest_per_recording",
    "score_overrides",
    "sections_of",
]
