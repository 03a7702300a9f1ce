"""Readable and JSON forms of a dry run and of an import's verification report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from appliance.imports.planning import ImportPlan
from appliance.imports.schema import ENTITIES


@dataclass(frozen=True)
class ImportReport:
    """The verification report of a completed import."""

    batch_id: int
    data: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether counts, hashes and the round trip all matched."""
        return bool(self.data.get("ok"))

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False)

    def summary(self) -> str:
        """A readable summary of the report."""
        return summary_text(self.data)


def summary_text(report: dict[str, Any]) -> str:
    """A readable summary of a verification report (counts, hashes, round trip, mismatches)."""
    lines = [
        f"import batch {report.get('batch')} ({report.get('format')}, source SHA-256 "
        f"{str(report.get('source_sha256', ''))[:16]}…): "
        + ("verified" if report.get("ok") else "NOT verified")
    ]
    counts = report.get("counts") or {}
    if counts:
        lines.append(
            f"  {'entity':<13}{'source':>8}{'skipped':>9}{'expected':>10}{'imported':>10}"
            f"{'re-read':>9}"
        )
        for entity in (e for e in ENTITIES if e in counts):
            row = counts[entity]
            lines.append(
                f"  {entity:<13}{row['source']:>8}{row['skipped']:>9}{row['expected']:>10}"
                f"{row['imported']:>10}{row['stored']:>9}  {'ok' if row['match'] else 'MISMATCH'}"
            )
    records = report.get("records") or []
    if records or counts:
        lines.append(
            f"  per-record SHA-256: {report.get('records_matching', 0)} of {len(records)} match"
        )
    round_trip = report.get("round_trip") or {}
    if round_trip:
        differences = round_trip.get("differences") or []
        lines.append(
            "  round trip (re-export as import-v1): "
            + ("identical" if round_trip.get("match") else f"{len(differences)} difference(s)")
        )
    if report.get("error"):
        lines.append(f"  error: {report['error']}")
    for mismatch in report.get("mismatches") or []:
        lines.append(f"  mismatch: {mismatch}")
    return "\n".join(lines)


def plan_text(plan: ImportPlan) -> str:
    """A readable summary of a dry run."""
    lines = [
        f"dry run, batch {plan.batch_id} ({plan.source_format}, {plan.source_bytes} bytes, "
        f"SHA-256 {plan.source_sha256[:16]}…): "
        + ("ready to import" if plan.ok else f"{len(plan.problems)} problem(s)")
    ]
    for entity, row in plan.counts.items():
        lines.append(
            f"  {entity:<13} in file {row['source']:>6}   to create {row['create']:>6}   "
            f"skipped {row['skipped']:>6}"
        )
    for duplicate in plan.duplicates:
        lines.append(
            f"  duplicate {duplicate.entity} at {duplicate.location}: same "
            f"{'external id' if duplicate.reason == 'external_id' else 'e-mail address'} as "
            f"{duplicate.entity} {duplicate.existing_id}; skipped"
        )
    lines.extend(f"  problem {problem}" for problem in plan.problems)
    return "\n".join(lines)
