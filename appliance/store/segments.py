"""How a recording splits into answers: the planned questions it is matched against, and the
boundaries people corrected by hand (sealed: they carry question texts that may be personal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository
from appliance.store.fieldcrypt import open_json
from appliance.store.sealed import OWNER_OF, PENDING_JSON, SealedRepository, savepoint


@dataclass(frozen=True)
class PlannedQuestion:
    """A behavioural question of a competency model, with its row id and dimension."""

    id: int
    dimension_key: str
    dimension_name: str
    language: str
    text: str
    position: int


@dataclass(frozen=True)
class SegmentCorrection:
    """A person's answer boundaries for one recording."""

    id: int
    recording_id: int
    spans: list[dict[str, Any]]
    corrected_by: int | None
    corrected_at: str


class InterviewPlanRepository(Repository):
    """Reads the planned questions of a job's competency model (ids included)."""

    def planned_questions(self, model_id: int) -> list[PlannedQuestion]:
        """Every question of a model version, in dimension then question order."""
        rows = self.conn.execute(
            "SELECT q.id, d.key, d.name, q.language, q.text, q.position"
            " FROM competency_questions q JOIN competency_dimensions d ON d.id = q.dimension_id"
            " WHERE d.model_id = ? ORDER BY d.position, q.position, q.id",
            (model_id,),
        ).fetchall()
        return [PlannedQuestion(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def question(self, question_id: int) -> PlannedQuestion:
        """One planned question by id."""
        row = self.conn.execute(
            "SELECT q.id, d.key, d.name, q.language, q.text, q.position"
            " FROM competency_questions q JOIN competency_dimensions d ON d.id = q.dimension_id"
            " WHERE q.id = ?",
            (question_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no planned question {question_id}")
        return PlannedQuestion(row[0], row[1], row[2], row[3], row[4], row[5])


class SegmentCorrectionRepository(SealedRepository):
    """Corrections are only added; the newest one of a recording is in force."""

    def add(
        self, recording_id: int, spans: list[dict[str, Any]], corrected_by: int | None
    ) -> SegmentCorrection:
        """Store a person's boundaries for a recording."""
        owner = self.conn.execute(
            "SELECT c.pseudonym FROM recordings t JOIN candidates c ON c.id = t.candidate_id"
            " WHERE t.id = ?",
            (recording_id,),
        ).fetchone()
        if owner is None:
            raise NotFoundError(f"no recording {recording_id}")
        key = self._require_key(owner["pseudonym"])
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO segment_corrections (recording_id, spans, corrected_by, corrected_at)"
                " VALUES (?, ?, ?, ?)",
                (recording_id, PENDING_JSON, corrected_by, now_stamp()),
            )
            correction_id = int(cursor.lastrowid)
            self._seal_row(
                "segment_corrections",
                correction_id,
                key,
                {"spans": spans},
                json_columns={"spans"},
            )
        found = self.history(recording_id)
        return next(c for c in found if c.id == correction_id)

    def history(self, recording_id: int) -> list[SegmentCorrection]:
        """Every correction of a recording, newest first."""
        rows = self.conn.execute(
            f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['segment_corrections']}"
            " WHERE t.recording_id = ? ORDER BY t.id DESC",
            (recording_id,),
        ).fetchall()
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        found = []
        for row in rows:
            spans = open_json(
                keys.get(row["sealed_owner"]),
                row["spans"],
                table="segment_corrections",
                column="spans",
                row=row["id"],
            )
            found.append(
                SegmentCorrection(
                    row["id"],
                    row["recording_id"],
                    spans if isinstance(spans, list) else [],
                    row["corrected_by"],
                    row["corrected_at"],
                )
            )
        return found

    def latest(self, recording_id: int) -> SegmentCorrection | None:
        """The correction in force for a recording, if a person made one."""
        found = self.history(recording_id)
        return found[0] if found else None
