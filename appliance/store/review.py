"""What people decide and write: decisions, score overrides, evaluations.

Reasons and summaries are sealed with the key of the candidate they are about.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.db import Row
from appliance.store.fieldcrypt import FieldKey, open_json, open_text
from appliance.store.sealed import KEY_BATCH, OWNER_OF, PENDING, SealedRepository, savepoint


@dataclass(frozen=True)
class Decision:
    """A person's decision or recommendation on a candidate, with the reason."""

    id: int
    candidate_id: int
    requisition_id: int
    kind: str
    reason: str
    decided_by: int
    decided_at: str


@dataclass(frozen=True)
class ScoreOverride:
    """A human change to an AI score, with the reason."""

    id: int
    report_id: int
    dimension: str
    previous_score: float | None
    new_score: float
    reason: str
    overridden_by: int
    overridden_at: str


@dataclass(frozen=True)
class InterviewOverride:
    """A human change to an interview's score for one competency (all its answers together)."""

    id: int
    interview_id: int
    dimension: str
    previous_score: float | None
    new_score: float
    reason: str
    overridden_by: int
    overridden_at: str


@dataclass(frozen=True)
class Evaluation:
    """An interviewer's or a technical expert's own evaluation of an interview: an overall
    rating, notes, and (a scorecard) a rating per competency of the job's model."""

    id: int
    interview_id: int
    author_id: int
    kind: str
    rating: int
    summary: str
    created_at: str
    ratings: dict[str, int] = field(default_factory=dict)


def _decision(row: Row, key: FieldKey | None) -> Decision:
    return Decision(
        row["id"],
        row["candidate_id"],
        row["requisition_id"],
        row["kind"],
        _text(key, row, "decisions", "reason"),
        row["decided_by"],
        row["decided_at"],
    )


def _override(row: Row, key: FieldKey | None) -> ScoreOverride:
    return ScoreOverride(
        row["id"],
        row["report_id"],
        row["dimension"],
        row["previous_score"],
        row["new_score"],
        _text(key, row, "score_overrides", "reason"),
        row["overridden_by"],
        row["overridden_at"],
    )


def _interview_override(row: Row, key: FieldKey | None) -> InterviewOverride:
    return InterviewOverride(
        row["id"],
        row["interview_id"],
        row["dimension"],
        row["previous_score"],
        row["new_score"],
        _text(key, row, "interview_overrides", "reason"),
        row["overridden_by"],
        row["overridden_at"],
    )


def _ratings(key: FieldKey | None, row: Row) -> dict[str, int]:
    """A scorecard's ratings; empty for evaluations made before scorecards, or once erased."""
    if row["ratings"] is None:
        return {}
    opened = open_json(key, row["ratings"], table="evaluations", column="ratings", row=row["id"])
    if not isinstance(opened, dict):
        return {}
    return {str(k): int(v) for k, v in opened.items() if isinstance(v, int)}


def _evaluation(row: Row, key: FieldKey | None) -> Evaluation:
    return Evaluation(
        row["id"],
        row["interview_id"],
        row["author_id"],
        row["kind"],
        row["rating"],
        _text(key, row, "evaluations", "summary"),
        row["created_at"],
        _ratings(key, row),
    )


def _text(key: FieldKey | None, row: Row, table: str, column: str) -> str:
    return open_text(key, row[column], table=table, column=column, row=row["id"]) or ""


class _ReviewRepository(SealedRepository):
    """Rows sealed with the key of the candidate they are about."""

    def _owner(self, sql: str, row_id: int, what: str) -> bytes:
        row = self.conn.execute(sql, (row_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no {what} {row_id}")
        return self._require_key(row[0])

    def _select(self, table: str, where: str, value: int) -> tuple[list[Row], dict[str, FieldKey]]:
        rows = self.conn.execute(
            f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF[table]}"
            f" WHERE {where} ORDER BY t.id",
            (value,),
        ).fetchall()
        return rows, self._ciphers(row["sealed_owner"] for row in rows)


class DecisionRepository(_ReviewRepository):
    """Decisions; rows are only ever added (an erasure replaces the reason's text)."""

    def add(
        self, candidate_id: int, requisition_id: int, kind: str, reason: str, decided_by: int
    ) -> Decision:
        """Record a decision."""
        key = self._owner(
            "SELECT pseudonym FROM candidates WHERE id = ?", candidate_id, "candidate"
        )
        now = now_stamp()
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO decisions (candidate_id, requisition_id, kind, reason, decided_by,"
                " decided_at) VALUES (?, ?, ?, ?, ?, ?)",
                (candidate_id, requisition_id, kind, PENDING, decided_by, now),
            )
            decision_id = int(cursor.lastrowid)
            self._seal_row("decisions", decision_id, key, {"reason": reason})
        return Decision(decision_id, candidate_id, requisition_id, kind, reason, decided_by, now)

    def for_candidate(self, candidate_id: int) -> list[Decision]:
        """A candidate's decisions, oldest first."""
        rows, keys = self._select("decisions", "t.candidate_id = ?", candidate_id)
        return [_decision(row, keys.get(row["sealed_owner"])) for row in rows]

    def newest_of_kinds(
        self, candidate_ids: Collection[int], kinds: Collection[str]
    ) -> dict[tuple[int, int], str]:
        """When the newest decision of one of `kinds` was made on each (candidate, job) of
        these candidates: one query per 500 candidates, no reason opened (the dashboard; the
        newest is found here, as a GROUP BY costs more under memory security)."""
        ids, wanted = sorted(set(candidate_ids)), set(kinds)
        found: dict[tuple[int, int], str] = {}
        for start in range(0, len(ids), KEY_BATCH):
            chunk = ids[start : start + KEY_BATCH]
            rows = self.conn.execute(
                "SELECT candidate_id, requisition_id, kind, decided_at FROM decisions"
                f" WHERE candidate_id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for row in rows:
                if row["kind"] in wanted:
                    job = (int(row["candidate_id"]), int(row["requisition_id"]))
                    found[job] = max(found.get(job, ""), str(row["decided_at"]))
        return found


class _OverrideRepository(_ReviewRepository):
    """The insert both kinds of override share: the row, then its reason sealed to its id."""

    def _insert(
        self,
        table: str,
        target: tuple[str, int],
        key: bytes,
        change: tuple[str, float | None, float, str, int],
    ) -> tuple[int, str]:
        """Insert `change` (dimension, previous, new, reason, by) for `target` (column, id);
        returns the new row's id and its time."""
        column, target_id = target
        dimension, previous_score, new_score, reason, overridden_by = change
        now = now_stamp()
        with savepoint(self.conn):
            cursor = self.conn.execute(
                f"INSERT INTO {table} ({column}, dimension, previous_score, new_score, reason,"
                " overridden_by, overridden_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (target_id, dimension, previous_score, new_score, PENDING, overridden_by, now),
            )
            override_id = int(cursor.lastrowid)
            self._seal_row(table, override_id, key, {"reason": reason})
        return override_id, now


class ScoreOverrideRepository(_OverrideRepository):
    """Score overrides; rows are only ever added (an erasure replaces the reason's text)."""

    def add(
        self,
        report_id: int,
        dimension: str,
        previous_score: float | None,
        new_score: float,
        reason: str,
        overridden_by: int,
    ) -> ScoreOverride:
        """Record an override."""
        key = self._owner(
            f"SELECT c.pseudonym FROM {OWNER_OF['reports']} WHERE t.id = ?", report_id, "report"
        )
        change = (dimension, previous_score, new_score, reason, overridden_by)
        override_id, now = self._insert("score_overrides", ("report_id", report_id), key, change)
        return ScoreOverride(override_id, report_id, *change, now)

    def for_report(self, report_id: int) -> list[ScoreOverride]:
        """A report's overrides, oldest first."""
        rows, keys = self._select("score_overrides", "t.report_id = ?", report_id)
        return [_override(row, keys.get(row["sealed_owner"])) for row in rows]


class InterviewOverrideRepository(_OverrideRepository):
    """Overrides of an interview's scores; rows are only ever added (an erasure replaces the
    reason's text)."""

    def add(
        self,
        interview_id: int,
        dimension: str,
        previous_score: float | None,
        new_score: float,
        reason: str,
        overridden_by: int,
    ) -> InterviewOverride:
        """Record an override of the interview's score for one competency."""
        key = self._owner(
            "SELECT c.pseudonym FROM interviews i JOIN candidates c ON c.id = i.candidate_id"
            " WHERE i.id = ?",
            interview_id,
            "interview",
        )
        change = (dimension, previous_score, new_score, reason, overridden_by)
        override_id, now = self._insert(
            "interview_overrides", ("interview_id", interview_id), key, change
        )
        return InterviewOverride(override_id, interview_id, *change, now)

    def for_interview(self, interview_id: int) -> list[InterviewOverride]:
        """An interview's overrides, oldest first."""
        rows, keys = self._select("interview_overrides", "t.interview_id = ?", interview_id)
        return [_interview_override(row, keys.get(row["sealed_owner"])) for row in rows]


class EvaluationRepository(_ReviewRepository):
    """Evaluations written by interviewers and technical experts."""

    def add(
        self,
        interview_id: int,
        author_id: int,
        kind: str,
        rating: int,
        summary: str,
        ratings: Mapping[str, int] | None = None,
    ) -> Evaluation:
        """Record an evaluation (with its scorecard's ratings per competency, if any)."""
        key = self._owner(
            "SELECT c.pseudonym FROM interviews i JOIN candidates c ON c.id = i.candidate_id"
            " WHERE i.id = ?",
            interview_id,
            "interview",
        )
        now = now_stamp()
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO evaluations (interview_id, author_id, kind, rating, summary,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (interview_id, author_id, kind, rating, PENDING, now),
            )
            evaluation_id = int(cursor.lastrowid)
            self._seal_row("evaluations", evaluation_id, key, {"summary": summary})
            if ratings:
                self._seal_row(
                    "evaluations",
                    evaluation_id,
                    key,
                    {"ratings": dict(ratings)},
                    json_columns=("ratings",),
                )
        return Evaluation(
            evaluation_id,
            interview_id,
            author_id,
            kind,
            rating,
            summary,
            now,
            dict(ratings or {}),
        )

    def for_interview(self, interview_id: int) -> list[Evaluation]:
        """An interview's evaluations, oldest first."""
        rows, keys = self._select("evaluations", "t.interview_id = ?", interview_id)
        return [_evaluation(row, keys.get(row["sealed_owner"])) for row in rows]
