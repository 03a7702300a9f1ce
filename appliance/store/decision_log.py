"""The AI decision log: what the AI produced per report, pseudonymous and scores only, and its
purges (appliance/privacy/retention.py decides when entries may go)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.store.base import Repository, dumps, limit_clause, loads
from appliance.store.db import Row


def ai_scores(content: dict[str, Any]) -> dict[str, float]:
    """The AI's score per competency in a report's content (no text: quotes stay out).

    Reads the scorer's `sections.scoring.dimensions` and, for reports drafted before it,
    the older `scores` mapping.
    """
    scores = content.get("scores") if isinstance(content, dict) else None
    found: dict[str, float] = {}
    for key, value in (scores or {}).items() if isinstance(scores, dict) else ():
        score = value.get("score") if isinstance(value, dict) else None
        if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
            found[str(key)] = float(score)
    sections = content.get("sections") if isinstance(content, dict) else None
    scoring = sections.get("scoring") if isinstance(sections, dict) else None
    dimensions = scoring.get("dimensions") if isinstance(scoring, dict) else None
    for dim in dimensions if isinstance(dimensions, list) else ():
        score = dim.get("score") if isinstance(dim, dict) else None
        if (
            dim.get("key")
            and isinstance(score, int | float)
            and not isinstance(score, bool)
            and math.isfinite(score)
        ):
            found[str(dim["key"])] = float(score)
    return found


@dataclass(frozen=True)
class DecisionLogEntry:
    """What the AI produced for one report: pseudonymous, scores only."""

    id: int
    pseudonym: str
    interview_id: int | None
    report_id: int | None
    job_id: int | None
    model_version: str | None
    scores: dict[str, float]
    regions: list[str]
    created_at: str


def _log_entry(row: Row) -> DecisionLogEntry:
    return DecisionLogEntry(
        row["id"],
        row["pseudonym"],
        row["interview_id"],
        row["report_id"],
        row["job_id"],
        row["model_version"],
        loads(row["scores"]),
        loads(row["regions"]),
        row["created_at"],
    )


class DecisionLogRepository(Repository):
    """The AI decision log and its purges."""

    def record(
        self,
        pseudonym: str,
        *,
        interview_id: int | None,
        report_id: int | None,
        job_id: int | None,
        model_version: str | None,
        scores: dict[str, float],
        regions: list[str],
    ) -> None:
        """Log an AI output (inside the transaction that stores it)."""
        self.conn.execute(
            "INSERT INTO ai_decision_log (pseudonym, interview_id, report_id, job_id,"
            " model_version, scores, regions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pseudonym,
                interview_id,
                report_id,
                job_id,
                model_version,
                dumps(scores),
                dumps(regions),
                now_stamp(),
            ),
        )

    def for_pseudonym(self, pseudonym: str) -> list[DecisionLogEntry]:
        """A candidate's log entries, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM ai_decision_log WHERE pseudonym = ? ORDER BY id", (pseudonym,)
        )
        return [_log_entry(row) for row in rows]

    def created_before(self, before: str) -> list[DecisionLogEntry]:
        """Entries written before a time (retention decides which of them may go)."""
        rows = self.conn.execute(
            "SELECT * FROM ai_decision_log WHERE created_at < ? ORDER BY id", (before,)
        )
        return [_log_entry(row) for row in rows]

    def delete(self, entry_ids: list[int]) -> int:
        """Remove entries; returns how many."""
        removed = 0
        for entry_id in entry_ids:
            removed += int(
                self.conn.execute("DELETE FROM ai_decision_log WHERE id = ?", (entry_id,)).rowcount
            )
        return removed

    def record_purge(
        self,
        pseudonym: str | None,
        entries: int,
        *,
        reason: str,
        override: bool,
        purged_by: int | None,
    ) -> None:
        """Keep a record of a purge (retention's, or an override's with its person)."""
        self.conn.execute(
            "INSERT INTO decision_log_purges (pseudonym, entries, override, reason, purged_by,"
            " purged_at) VALUES (?, ?, ?, ?, ?, ?)",
            (pseudonym, entries, int(override), reason, purged_by, now_stamp()),
        )

    def purges(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The latest purges, newest first."""
        rows = self.conn.execute(
            f"SELECT * FROM decision_log_purges ORDER BY id DESC {limit_clause(limit)}"
        )
        return [{key: row[key] for key in row.keys()} for row in rows]  # noqa: SIM118
