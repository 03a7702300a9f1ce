"""Legal holds on a candidate's data (appliance/privacy/erasure.py holds the rules)."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import Repository
from appliance.store.candidate_scope import candidate_scope
from appliance.store.db import Row


@dataclass(frozen=True)
class LegalHold:
    """A hold keeping all of a candidate's data (litigation, an authority's order)."""

    id: int
    candidate_id: int
    pseudonym: str
    reason: str
    placed_by: int
    placed_at: str
    released_at: str | None
    released_by: int | None

    @property
    def active(self) -> bool:
        """Not yet released."""
        return self.released_at is None


def _hold(row: Row) -> LegalHold:
    return LegalHold(
        row["id"],
        row["candidate_id"],
        row["pseudonym"],
        row["reason"],
        row["placed_by"],
        row["placed_at"],
        row["released_at"],
        row["released_by"],
    )


_HOLDS = "SELECT h.*, c.pseudonym FROM legal_holds h JOIN candidates c ON c.id = h.candidate_id"


class LegalHoldRepository(Repository):
    """Legal holds; a released hold stays as a record."""

    def place(self, candidate_id: int, reason: str, placed_by: int) -> LegalHold:
        """Put a candidate's data on hold."""
        cursor = self.conn.execute(
            "INSERT INTO legal_holds (candidate_id, reason, placed_by, placed_at)"
            " VALUES (?, ?, ?, ?)",
            (candidate_id, reason, placed_by, now_stamp()),
        )
        return self.get(int(cursor.lastrowid))

    def release(self, hold_id: int, released_by: int) -> None:
        """End a hold."""
        self.conn.execute(
            "UPDATE legal_holds SET released_at = ?, released_by = ?"
            " WHERE id = ? AND released_at IS NULL",
            (now_stamp(), released_by, hold_id),
        )

    def get(self, hold_id: int) -> LegalHold:
        """One hold by id."""
        row = self.conn.execute(f"{_HOLDS} WHERE h.id = ?", (hold_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no legal hold {hold_id}")
        return _hold(row)

    def get_visible(self, hold_id: int, visibility: Visibility) -> LegalHold:
        """One hold on a candidate the visibility reaches, else NotFoundError."""
        scope, params = candidate_scope(visibility, "h.candidate_id")
        row = self.conn.execute(
            f"{_HOLDS} WHERE h.id = ? AND {scope}", (hold_id, *params)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no legal hold {hold_id}")
        return _hold(row)

    def active_for(self, candidate_id: int) -> list[LegalHold]:
        """The holds on a candidate not yet released, oldest first."""
        rows = self.conn.execute(
            f"{_HOLDS} WHERE h.candidate_id = ? AND h.released_at IS NULL ORDER BY h.id",
            (candidate_id,),
        )
        return [_hold(row) for row in rows]

    def visible(
        self, visibility: Visibility, *, active_only: bool = True, candidate_id: int | None = None
    ) -> list[LegalHold]:
        """Holds on candidates the visibility reaches, newest first."""
        scope, params = candidate_scope(visibility, "h.candidate_id")
        if active_only:
            scope += " AND h.released_at IS NULL"
        if candidate_id is not None:
            scope += " AND h.candidate_id = ?"
            params.append(candidate_id)
        rows = self.conn.execute(f"{_HOLDS} WHERE {scope} ORDER BY h.id DESC", params)
        return [_hold(row) for row in rows]

    def held_candidates(self) -> dict[int, str]:
        """Every candidate under an active hold: id -> pseudonym."""
        rows = self.conn.execute(
            "SELECT DISTINCT h.candidate_id, c.pseudonym FROM legal_holds h"
            " JOIN candidates c ON c.id = h.candidate_id WHERE h.released_at IS NULL"
        )
        return {int(row[0]): str(row[1]) for row in rows}
