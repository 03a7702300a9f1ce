"""Live-assist sessions: the streamed audio pieces and the running view (sealed per candidate)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import limit_clause
from appliance.store.db import Row
from appliance.store.fieldcrypt import open_json, seal_json
from appliance.store.room import open_bytes, seal_bytes
from appliance.store.sealed import SealedRepository

_SELECT = (
    "SELECT t.*, c.pseudonym AS sealed_owner FROM live_sessions t"
    " JOIN interviews i ON i.id = t.interview_id JOIN candidates c ON c.id = i.candidate_id"
)


@dataclass(frozen=True)
class LiveSession:
    """One live-assist session of an interviewer."""

    id: int
    interview_id: int
    user_id: int
    language: str
    sample_rate: int
    state: str
    next_seq: int
    received_bytes: int
    processed_seq: int
    view: dict[str, Any]
    job_id: int | None
    recording_id: int | None
    error: str | None
    created_at: str
    updated_at: str
    ended_at: str | None


@dataclass(frozen=True)
class LiveChunk:
    """One piece of streamed audio and when it arrived (monotonic wall clock, seconds)."""

    seq: int
    received_at: float
    pcm: bytes


class LiveRepository(SealedRepository):
    """Rows of live sessions and their audio."""

    def _opened(self, row: Row) -> LiveSession:
        key = self._key(row["sealed_owner"])
        view = open_json(key, row["view"], table="live_sessions", column="view", row=row["id"])
        return LiveSession(
            row["id"],
            row["interview_id"],
            row["user_id"],
            row["language"],
            row["sample_rate"],
            row["state"],
            row["next_seq"],
            row["received_bytes"],
            row["processed_seq"],
            view if isinstance(view, dict) else {},
            row["job_id"],
            row["recording_id"],
            row["error"],
            row["created_at"],
            row["updated_at"],
            row["ended_at"],
        )

    def create(self, interview_id: int, user_id: int, language: str, sample_rate: int) -> int:
        """Open a session; returns its id."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO live_sessions (interview_id, user_id, language, sample_rate,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (interview_id, user_id, language, sample_rate, now, now),
        )
        return int(cursor.lastrowid)

    def get(self, live_id: int) -> LiveSession:
        """One session by id."""
        row = self.conn.execute(f"{_SELECT} WHERE t.id = ?", (live_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no live session {live_id}")
        return self._opened(row)

    def for_interview(self, interview_id: int) -> list[LiveSession]:
        """An interview's live sessions, oldest first."""
        rows = self.conn.execute(
            f"{_SELECT} WHERE t.interview_id = ? ORDER BY t.id", (interview_id,)
        ).fetchall()
        return [self._opened(row) for row in rows]

    def pseudonym(self, live_id: int) -> str:
        """The candidate of a session (whose key seals its audio)."""
        row = self.conn.execute(f"{_SELECT} WHERE t.id = ?", (live_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no live session {live_id}")
        return str(row["sealed_owner"])

    def add_chunk(self, live_id: int, seq: int, pcm: bytes, key: bytes) -> None:
        """Keep one piece of audio, sealed, and move the session's counters on."""
        self.conn.execute(
            "INSERT INTO live_chunks (live_id, seq, received_at, data) VALUES (?, ?, ?, ?)",
            (live_id, seq, time.time(), seal_bytes(key, pcm, f"live_chunks/{live_id}/{seq}")),
        )
        self.conn.execute(
            "UPDATE live_sessions SET next_seq = ?, received_bytes = received_bytes + ?,"
            " updated_at = ? WHERE id = ?",
            (seq + 1, len(pcm), now_stamp(), live_id),
        )

    def chunks_from(self, live_id: int, seq: int, key: bytes) -> list[LiveChunk]:
        """The pieces from `seq` on, opened, in order."""
        rows = self.conn.execute(
            "SELECT seq, received_at, data FROM live_chunks WHERE live_id = ? AND seq >= ?"
            " ORDER BY seq",
            (live_id, seq),
        )
        return [
            LiveChunk(
                row["seq"],
                float(row["received_at"]),
                open_bytes(key, bytes(row["data"]), f"live_chunks/{live_id}/{row['seq']}"),
            )
            for row in rows
        ]

    def drop_chunks(self, live_id: int) -> None:
        """Forget the pieces once the whole recording is in the spool."""
        self.conn.execute("DELETE FROM live_chunks WHERE live_id = ?", (live_id,))

    def set_view(self, live_id: int, view: dict[str, Any], processed_seq: int) -> None:
        """Store the running transcript, coverage and alerts (sealed)."""
        key = self._require_key(self.pseudonym(live_id))
        self.conn.execute(
            "UPDATE live_sessions SET view = ?, processed_seq = ?, updated_at = ? WHERE id = ?",
            (
                seal_json(key, view, table="live_sessions", column="view", row=live_id),
                processed_seq,
                now_stamp(),
                live_id,
            ),
        )

    def update(self, live_id: int, **fields: Any) -> None:
        """Change a session's state, job, recording or error."""
        allowed = {"state", "job_id", "recording_id", "error", "ended_at"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not a live-session field: {', '.join(sorted(unknown))}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(
            f"UPDATE live_sessions SET {assignments}, updated_at = ? WHERE id = ?",
            (*fields.values(), now_stamp(), live_id),
        )

    def interviews_for(
        self, visibility: Visibility, *, limit: int = 200
    ) -> list[tuple[int, str, str]]:
        """(interview id, pseudonym, requisition title) an assistant may open, newest first.

        Pseudonyms, not names: the list page shows no personal data it does not need.
        """
        clause, params = visibility.interview_clause("i", "r")
        rows = self.conn.execute(
            "SELECT i.id, c.pseudonym, r.title FROM interviews i"
            " JOIN requisitions r ON r.id = i.requisition_id"
            " JOIN candidates c ON c.id = i.candidate_id"
            f" WHERE i.status NOT IN ('cancelled') AND {clause} ORDER BY i.id DESC"
            f" {limit_clause(limit)}",
            params,
        )
        return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]
