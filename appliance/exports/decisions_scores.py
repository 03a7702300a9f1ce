"""The `decisions_scores` kind: per candidate pseudonym and requisition, the decisions, the AI
scores, the overrides (of single reports and of whole interviews) and the current scores;
free-text reasons stay out (only their kind)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from appliance.exports.bundle import BundleWriter, Table
from appliance.exports.context import ExportContext
from appliance.exports.rules import is_china_data
from appliance.hiring.review import ai_scores
from appliance.store.db import Row

REASON_KIND = "free_text"  # the only kind of reason the store records; its text is withheld

SUBJECT_COLUMNS = ("pseudonym", "requisition_id", "region", "department", "decisions", "reports")
DECISION_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "decision_id",
    "kind",
    "decided_by",
    "decided_by_role",
    "decided_at",
    "reason_kind",
)
SCORE_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "report_id",
    "report_created_at",
    "model_version",
    "dimension",
    "ai_score",
    "current_score",
    "overridden",
)
OVERRIDE_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "report_id",
    "override_id",
    "dimension",
    "previous_score",
    "new_score",
    "overridden_by",
    "overridden_by_role",
    "overridden_at",
    "reason_kind",
)

INTERVIEW_OVERRIDE_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "interview_id",
    "override_id",
    "dimension",
    "previous_score",
    "new_score",
    "overridden_by",
    "overridden_by_role",
    "overridden_at",
    "reason_kind",
)


@dataclass(frozen=True)
class _Tables:
    """The kind's tables: `subjects` nested (JSON lines), the others its flat CSV view."""

    subjects: Table
    decision_rows: Table
    scores: Table
    overrides: Table
    interview_overrides: Table


def write_decisions_scores(ctx: ExportContext, bundle: BundleWriter) -> None:
    """Per candidate pseudonym and requisition: decisions, AI scores, overrides, current scores.

    A (candidate, requisition) pair is in the bundle when a decision, a report or an override
    of it falls in the period; then its decisions of the period and its reports written or
    overridden in the period are exported, each report with every override so far.
    """
    export, repo = ctx.export, ctx.repo
    start, end = export.period_start, export.period_end
    # Everything is in the nested JSON lines of `subjects`; the flat tables are its CSV view.
    tables = _Tables(
        subjects=bundle.table("subjects", SUBJECT_COLUMNS, formats=("jsonl",)),
        decision_rows=bundle.table("decisions", DECISION_COLUMNS, formats=("csv",)),
        scores=bundle.table("scores", SCORE_COLUMNS, formats=("csv",)),
        overrides=bundle.table("overrides", OVERRIDE_COLUMNS, formats=("csv",)),
        # Overrides of a whole interview's score for a competency (all its answers together):
        # the interview's own score is the newest of them, whatever its reports say.
        interview_overrides=bundle.table(
            "interview_overrides", INTERVIEW_OVERRIDE_COLUMNS, formats=("csv",)
        ),
    )
    last_id = max(1, repo.last_candidate_id())  # progress: subjects come in candidate order
    for batch in repo.subject_batches(export.region, start, end, ctx.batch_size):
        done = batch[-1]["candidate_id"] / last_id
        admitted = [
            row
            for row in batch
            if ctx.admit(row["pseudonym"], is_china_data(row["region"], row["residence_region"]))
        ]
        if admitted:
            _write_subjects(ctx, tables, admitted)
        ctx.progress(done, "decisions_scores")
    bundle.notes["reasons"] = (
        "decision and override reasons are free text people wrote: they are withheld, "
        "reason_kind says what kind of reason was recorded"
    )


def _write_subjects(ctx: ExportContext, tables: _Tables, admitted: list[Row]) -> None:
    """One batch of admitted (candidate, requisition) pairs, with three queries for them all."""
    repo, start, end = ctx.repo, ctx.export.period_start, ctx.export.period_end
    ids = sorted({row["candidate_id"] for row in admitted})
    decided = _grouped(repo.decisions_of(ids, start, end), "candidate_id", "requisition_id")
    reported = _grouped(repo.reports_of(ids, start, end), "candidate_id", "requisition_id")
    report_ids = [report["id"] for rows in reported.values() for report in rows]
    overridden = _grouped(repo.overrides_of(report_ids), "report_id") if report_ids else {}
    whole = _grouped(repo.interview_overrides_of(ids, start, end), "candidate_id", "requisition_id")
    for row in admitted:
        pair = (row["candidate_id"], row["requisition_id"])
        base = {
            "pseudonym": row["pseudonym"],
            "requisition_id": row["requisition_id"],
            "region": row["region"],
        }
        decision_rows = [_decision_row(d) for d in decided.get(pair, [])]
        for decision in decision_rows:
            tables.decision_rows.add({**base, **decision})
        report_rows = []
        for report in reported.get(pair, []):
            changes = overridden.get((report["id"],), [])
            report_rows.append(_write_report(tables, base, report, changes))
        interview_rows = [
            {"interview_id": o["interview_id"], **_override_row(o)} for o in whole.get(pair, [])
        ]
        for change in interview_rows:
            tables.interview_overrides.add({**base, **change})
        tables.subjects.add(
            {
                **base,
                "department": row["department"],
                "decisions": decision_rows,
                "reports": report_rows,
                "interview_overrides": interview_rows,
            }
        )


def _write_report(
    tables: _Tables, base: dict[str, Any], report: dict[str, Any], changes: list[Any]
) -> dict[str, Any]:
    """A report's overrides and scores into the flat tables; returns its nested row."""
    ai = ai_scores(report["content"])
    current = _apply_overrides(ai, changes)
    changed = {o["dimension"] for o in changes}
    override_rows = [_override_row(o) for o in changes]
    for override in override_rows:
        tables.overrides.add({**base, "report_id": report["id"], **override})
    for dimension in sorted(current):
        tables.scores.add(
            {
                **base,
                "report_id": report["id"],
                "report_created_at": report["created_at"],
                "model_version": report["model_version"],
                "dimension": dimension,
                "ai_score": ai.get(dimension),
                "current_score": current[dimension],
                "overridden": dimension in changed,
            }
        )
    return {
        "report_id": report["id"],
        "interview_id": report["interview_id"],
        "created_at": report["created_at"],
        "model_version": report["model_version"],
        "status": report["status"],
        "ai_scores": ai,
        "current_scores": current,
        "overrides": override_rows,
    }


def _decision_row(d: Row) -> dict[str, Any]:
    return {
        "decision_id": d["id"],
        "kind": d["kind"],
        "decided_by": f"user:{d['decided_by']}",
        "decided_by_role": d["decided_by_role"],
        "decided_at": d["decided_at"],
        "reason_kind": REASON_KIND,
    }


def _override_row(o: Row) -> dict[str, Any]:
    return {
        "override_id": o["id"],
        "dimension": o["dimension"],
        "previous_score": o["previous_score"],
        "new_score": o["new_score"],
        "overridden_by": f"user:{o['overridden_by']}",
        "overridden_by_role": o["overridden_by_role"],
        "overridden_at": o["overridden_at"],
        "reason_kind": REASON_KIND,
    }


def _grouped(rows: Iterable[Any], *keys: str) -> dict[Any, list[Any]]:
    found: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        found[tuple(row[key] for key in keys)].append(row)
    return found


def _apply_overrides(scores: dict[str, float], overrides: Iterable[Any]) -> dict[str, float]:
    # The same rule as appliance.hiring.review.current_scores: the latest override per
    # dimension wins.
    current = dict(scores)
    for override in overrides:
        current[override["dimension"]] = float(override["new_score"])
    return current
