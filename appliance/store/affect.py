"""Affect observations (stored apart from reports, sealed) and the per-requisition setting
that decides whether they may feed a score (append-only, each change justified)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository
from appliance.store.db import Row
from appliance.store.fieldcrypt import open_json
from appliance.store.sealed import PENDING, SealedRepository, savepoint

if TYPE_CHECKING:
    from appliance.store import Store

TABLE = "affect_observations"


@dataclass(frozen=True)
class AffectObservation:
    """What the expression classifier produced for one analysis job of one recording."""

    id: int
    candidate_id: int
    recording_id: int
    report_id: int | None
    job_id: int
    model: str
    frames: int
    content: dict[str, Any]  # opened; {"erased": True}-like stub once the key is shredded
    created_at: str


@dataclass(frozen=True)
class AffectScoringSetting:
    """One recorded change of whether affect may feed a requisition's scores."""

    id: int
    requisition_id: int
    enabled: bool
    justification: str
    changed_by: int
    changed_at: str


class AffectObservationRepository(SealedRepository):
    """Affect output per recording, sealed with the candidate's key."""

    def add(
        self,
        *,
        recording_id: int,
        report_id: int | None,
        job_id: int,
        model: str,
        frames: int,
        content: dict[str, Any],
    ) -> int:
        """Store one job's observations (inside the caller's transaction, with the report)."""
        owner = self.conn.execute(
            "SELECT c.id, c.pseudonym FROM recordings r JOIN candidates c ON c.id = r.candidate_id"
            " WHERE r.id = ?",
            (recording_id,),
        ).fetchone()
        if owner is None:
            raise NotFoundError(f"no recording {recording_id}")
        key = self._require_key(owner["pseudonym"])
        with savepoint(self.conn, "affect_row"):
            cursor = self.conn.execute(
                f"INSERT INTO {TABLE} (candidate_id, recording_id, report_id, job_id, model,"
                " frames, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (owner["id"], recording_id, report_id, job_id, model, frames, PENDING, now_stamp()),
            )
            row_id = int(cursor.lastrowid or 0)
            self._seal_row(TABLE, row_id, key, {"content": content}, json_columns={"content"})
        return row_id

    def for_recording(self, recording_id: int) -> list[AffectObservation]:
        """A recording's observations, oldest first."""
        rows = self.conn.execute(
            f"SELECT t.*, c.pseudonym FROM {TABLE} t JOIN candidates c ON c.id = t.candidate_id"
            " WHERE t.recording_id = ? ORDER BY t.id",
            (recording_id,),
        ).fetchall()
        keys = self._ciphers(row["pseudonym"] for row in rows)
        return [self._opened(row, keys.get(row["pseudonym"])) for row in rows]

    def count(self) -> int:
        """How many observation rows exist (all recordings)."""
        return int(self.conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])

    @staticmethod
    def _opened(row: Row, key: Any) -> AffectObservation:
        content = open_json(key, row["content"], table=TABLE, column="content", row=row["id"])
        return AffectObservation(
            id=row["id"],
            candidate_id=row["candidate_id"],
            recording_id=row["recording_id"],
            report_id=row["report_id"],
            job_id=row["job_id"],
            model=row["model"],
            frames=row["frames"],
            content=content,
            created_at=row["created_at"],
        )


class AffectScoringRepository(Repository):
    """The append-only history of the per-requisition "affect may feed scores" setting."""

    def record(
        self, requisition_id: int, *, enabled: bool, justification: str, changed_by: int
    ) -> AffectScoringSetting:
        """Append one change (inside the caller's transaction)."""
        cursor = self.conn.execute(
            "INSERT INTO affect_scoring_settings (requisition_id, enabled, justification,"
            " changed_by, changed_at) VALUES (?, ?, ?, ?, ?)",
            (requisition_id, int(enabled), justification, changed_by, now_stamp()),
        )
        return self._get(int(cursor.lastrowid or 0))

    def current(self, requisition_id: int) -> AffectScoringSetting | None:
        """The change in force (the latest), or None: never enabled."""
        row = self.conn.execute(
            "SELECT * FROM affect_scoring_settings WHERE requisition_id = ? ORDER BY id DESC"
            " LIMIT 1",
            (requisition_id,),
        ).fetchone()
        return _setting(row) if row is not None else None

    def history(self, requisition_id: int) -> list[AffectScoringSetting]:
        """Every change of a requisition's setting, newest first."""
        rows = self.conn.execute(
            "SELECT * FROM affect_scoring_settings WHERE requisition_id = ? ORDER BY id DESC",
            (requisition_id,),
        ).fetchall()
        return [_setting(row) for row in rows]

    def _get(self, setting_id: int) -> AffectScoringSetting:
        row = self.conn.execute(
            "SELECT * FROM affect_scoring_settings WHERE id = ?", (setting_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no affect scoring setting {setting_id}")
        return _setting(row)


def _setting(row: Row) -> AffectScoringSetting:
    return AffectScoringSetting(
        id=row["id"],
        requisition_id=row["requisition_id"],
        enabled=bool(row["enabled"]),
        justification=row["justification"],
        changed_by=row["changed_by"],
        changed_at=row["changed_at"],
    )


@dataclass
class Affect:
    """The affect repositories of a store."""

    observations: AffectObservationRepository
    scoring: AffectScoringRepository


def affect_of(store: Store) -> Affect:
    """The store's affect repositories (built on the fly until Store has the attribute)."""
    found = getattr(store, "affect", None)
    if isinstance(found, Affect):
        return found
    return Affect(AffectObservationRepository(store), AffectScoringRepository(store))
