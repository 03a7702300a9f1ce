"""Data-subject requests and their deadlines (appliance/privacy/erasure.py holds the rules)."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import dumps, limit_clause, loads
from appliance.store.candidate_scope import candidate_scope
from appliance.store.db import Row
from appliance.store.fieldcrypt import FieldKey, open_text
from appliance.store.sealed import OWNER_OF, PENDING, SealedRepository, savepoint

REQUEST_KINDS = ("access", "portability", "erasure", "explanation", "objection")
REQUEST_STATUSES = ("open", "done", "refused")


@dataclass(frozen=True)
class DataRequest:
    """A candidate's request: access, portability, erasure, explanation or objection."""

    id: int
    candidate_id: int
    pseudonym: str
    kind: str
    regions: list[str]
    received_at: str
    due_at: str
    status: str
    note: str | None
    created_by: int | None
    created_at: str
    closed_at: str | None
    closed_by: int | None

    def overdue(self, now: str) -> bool:
        """Still open after its deadline."""
        return self.status == "open" and self.due_at < now


def _request(row: Row, key: FieldKey | None) -> DataRequest:
    return DataRequest(
        row["id"],
        row["candidate_id"],
        row["sealed_owner"],
        row["kind"],
        loads(row["regions"]),
        row["received_at"],
        row["due_at"],
        row["status"],
        open_text(key, row["note"], table="data_requests", column="note", row=row["id"]),
        row["created_by"],
        row["created_at"],
        row["closed_at"],
        row["closed_by"],
    )


_REQUESTS = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['data_requests']}"


class DataRequestRepository(SealedRepository):
    """Data-subject requests and their deadlines; the note is sealed with the candidate's key."""

    def _opened(self, rows: list[Row]) -> list[DataRequest]:
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_request(row, keys.get(row["sealed_owner"])) for row in rows]

    def create(
        self,
        candidate_id: int,
        kind: str,
        *,
        regions: list[str],
        received_at: str,
        due_at: str,
        note: str | None,
        created_by: int | None,
    ) -> DataRequest:
        """Record a request as received."""
        owner = self.conn.execute(
            "SELECT pseudonym FROM candidates WHERE id = ?", (candidate_id,)
        ).fetchone()
        if owner is None:
            raise NotFoundError(f"no candidate {candidate_id}")
        key = self._key(owner["pseudonym"])
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO data_requests (candidate_id, kind, regions, received_at, due_at,"
                " note, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    candidate_id,
                    kind,
                    dumps(regions),
                    received_at,
                    due_at,
                    None if note is None else PENDING,
                    created_by,
                    now_stamp(),
                ),
            )
            request_id = int(cursor.lastrowid)
            if note is not None and key is not None:
                self._seal_row("data_requests", request_id, key, {"note": note})
            elif note is not None:  # an erased candidate: nothing about them is kept in clear
                self.conn.execute(
                    "UPDATE data_requests SET note = NULL WHERE id = ?", (request_id,)
                )
        return self.get(request_id)

    def get(self, request_id: int) -> DataRequest:
        """One request by id."""
        rows = self.conn.execute(f"{_REQUESTS} WHERE t.id = ?", (request_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no data request {request_id}")
        return self._opened(rows)[0]

    def get_visible(self, request_id: int, visibility: Visibility) -> DataRequest:
        """One request about a candidate the visibility reaches, else NotFoundError."""
        scope, params = candidate_scope(visibility, "t.candidate_id")
        rows = self.conn.execute(
            f"{_REQUESTS} WHERE t.id = ? AND {scope}", (request_id, *params)
        ).fetchall()
        if not rows:
            raise NotFoundError(f"no data request {request_id}")
        return self._opened(rows)[0]

    def visible(
        self,
        visibility: Visibility,
        *,
        status: str | None = None,
        candidate_id: int | None = None,
        limit: int = 200,
    ) -> list[DataRequest]:
        """Requests the visibility reaches: open ones first, soonest deadline first."""
        scope, params = candidate_scope(visibility, "t.candidate_id")
        if status:
            scope += " AND t.status = ?"
            params.append(status)
        if candidate_id is not None:
            scope += " AND t.candidate_id = ?"
            params.append(candidate_id)
        rows = self.conn.execute(
            f"{_REQUESTS} WHERE {scope} ORDER BY t.status <> 'open', t.due_at, t.id"
            f" {limit_clause(limit)}",
            params,
        ).fetchall()
        return self._opened(rows)

    def overdue(self, now: str) -> list[DataRequest]:
        """Every open request past its deadline (for the worker and the dashboard)."""
        rows = self.conn.execute(
            f"{_REQUESTS} WHERE t.status = 'open' AND t.due_at < ? ORDER BY t.due_at", (now,)
        ).fetchall()
        return self._opened(rows)

    def close(self, request_id: int, status: str, closed_by: int | None) -> None:
        """Mark a request done or refused."""
        self.conn.execute(
            "UPDATE data_requests SET status = ?, closed_at = ?, closed_by = ?"
            " WHERE id = ? AND status = 'open'",
            (status, now_stamp(), closed_by, request_id),
        )
