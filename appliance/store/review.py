"""What people decide and write: decisions, score overrides, evaluations."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.clock import now_stamp
from appliance.store.base import Repository


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
class Evaluation:
    """An interviewer's or a technical expert's own evaluation of an interview."""

    id: int
    interview_id: int
    author_id: int
    kind: str
    rating: int
    summary: str
    created_at: str


class DecisionRepository(Repository):
    """Decisions; rows are only ever added."""

    def add(
        self, candidate_id: int, requisition_id: int, kind: str, reason: str, decided_by: int
    ) -> Decision:
        """Record a decision."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO decisions (candidate_id, requisition_id, kind, reason, decided_by,"
            " decided_at) VALUES (?, ?, ?, ?, ?, ?)",
            (candidate_id, requisition_id, kind, reason, decided_by, now),
        )
        return Decision(
            int(cursor.lastrowid), candidate_id, requisition_id, kind, reason, decided_by, now
        )

    def for_candidate(self, candidate_id: int) -> list[Decision]:
        """A candidate's decisions, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM decisions WHERE candidate_id = ? ORDER BY id", (candidate_id,)
        )
        return [
            Decision(
                r["id"],
                r["candidate_id"],
                r["requisition_id"],
                r["kind"],
                r["reason"],
                r["decided_by"],
                r["decided_at"],
            )
            for r in rows
        ]


class ScoreOverrideRepository(Repository):
    """Score overrides; rows are only ever added."""

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
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO score_overrides (report_id, dimension, previous_score, new_score,"
            " reason, overridden_by, overridden_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (report_id, dimension, previous_score, new_score, reason, overridden_by, now),
        )
        return ScoreOverride(
            int(cursor.lastrowid),
            report_id,
            dimension,
            previous_score,
            new_score,
            reason,
            overridden_by,
            now,
        )

    def for_report(self, report_id: int) -> list[ScoreOverride]:
        """A report's overrides, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM score_overrides WHERE report_id = ? ORDER BY id", (report_id,)
        )
        return [
            ScoreOverride(
                r["id"],
                r["report_id"],
                r["dimension"],
                r["previous_score"],
                r["new_score"],
                r["reason"],
                r["overridden_by"],
                r["overridden_at"],
            )
            for r in rows
        ]


class EvaluationRepository(Repository):
    """Evaluations written by interviewers and technical experts."""

    def add(
        self, interview_id: int, author_id: int, kind: str, rating: int, summary: str
    ) -> Evaluation:
        """Record an evaluation."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO evaluations (interview_id, author_id, kind, rating, summary, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (interview_id, author_id, kind, rating, summary, now),
        )
        return Evaluation(
            int(cursor.lastrowid), interview_id, author_id, kind, rating, summary, now
        )

    def for_interview(self, interview_id: int) -> list[Evaluation]:
        """An interview's evaluations, oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM evaluations WHERE interview_id = ? ORDER BY id", (interview_id,)
        )
        return [
            Evaluation(
                r["id"],
                r["interview_id"],
                r["author_id"],
                r["kind"],
                r["rating"],
                r["summary"],
                r["created_at"],
            )
            for r in rows
        ]
