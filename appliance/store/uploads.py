"""Resumable uploads in progress: how far each has come, and where its bytes go.

The display name (the file's name) is sealed with the candidate's key, bound to the upload id.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.db import Row
from appliance.store.fieldcrypt import FieldKey, open_text, seal_text
from appliance.store.sealed import OWNER_OF, SealedRepository

_SELECT = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['upload_sessions']}"


@dataclass(frozen=True)
class UploadSession:
    """A recording being uploaded in pieces."""

    id: str
    interview_id: int
    user_id: int | None
    display_name: str
    content_type: str
    total_bytes: int
    received_bytes: int
    spool_name: str
    wrapped_data_key: bytes
    created_at: str
    updated_at: str
    completed_at: str | None
    recording_id: int | None


def _session(row: Row, key: FieldKey | None) -> UploadSession:
    display_name = open_text(
        key, row["display_name"], table="upload_sessions", column="display_name", row=row["id"]
    )
    return UploadSession(
        row["id"],
        row["interview_id"],
        row["user_id"],
        display_name or "",
        row["content_type"],
        row["total_bytes"],
        row["received_bytes"],
        row["spool_name"],
        bytes(row["wrapped_data_key"]),
        row["created_at"],
        row["updated_at"],
        row["completed_at"],
        row["recording_id"],
    )


class UploadRepository(SealedRepository):
    """Rows of resumable uploads."""

    def _opened(self, rows: list[Row]) -> list[UploadSession]:
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_session(row, keys.get(row["sealed_owner"])) for row in rows]

    def create(
        self,
        upload_id: str,
        interview_id: int,
        user_id: int | None,
        display_name: str,
        content_type: str,
        total_bytes: int,
        spool_name: str,
        wrapped_data_key: bytes,
    ) -> UploadSession:
        """Record a new upload."""
        owner = self.conn.execute(
            "SELECT c.pseudonym FROM interviews i JOIN candidates c ON c.id = i.candidate_id"
            " WHERE i.id = ?",
            (interview_id,),
        ).fetchone()
        if owner is None:
            raise NotFoundError(f"no interview {interview_id}")
        key = self._require_key(owner["pseudonym"])
        sealed_name = seal_text(
            key, display_name, table="upload_sessions", column="display_name", row=upload_id
        )
        now = now_stamp()
        self.conn.execute(
            "INSERT INTO upload_sessions (id, interview_id, user_id, display_name, content_type,"
            " total_bytes, spool_name, wrapped_data_key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                upload_id,
                interview_id,
                user_id,
                sealed_name,
                content_type,
                total_bytes,
                spool_name,
                wrapped_data_key,
                now,
                now,
            ),
        )
        return self.get(upload_id)

    def get(self, upload_id: str) -> UploadSession:
        """One upload by id."""
        rows = self.conn.execute(f"{_SELECT} WHERE t.id = ?", (upload_id,)).fetchall()
        if not rows:
            raise NotFoundError("no such upload")
        return self._opened(rows)[0]

    def advance(self, upload_id: str, received_bytes: int) -> None:
        """Record how many bytes are safely in the spool."""
        self.conn.execute(
            "UPDATE upload_sessions SET received_bytes = ?, updated_at = ? WHERE id = ?",
            (received_bytes, now_stamp(), upload_id),
        )

    def complete(self, upload_id: str, recording_id: int) -> None:
        """Mark an upload finished and link its recording."""
        self.conn.execute(
            "UPDATE upload_sessions SET completed_at = ?, recording_id = ?, updated_at = ?"
            " WHERE id = ?",
            (now_stamp(), recording_id, now_stamp(), upload_id),
        )

    def open_spool_names(self) -> set[str]:
        """Spool names of uploads still in progress (their partial files must stay)."""
        rows = self.conn.execute(
            "SELECT spool_name FROM upload_sessions WHERE completed_at IS NULL"
        )
        return {row[0] for row in rows}

    def stale(self, before: str) -> list[UploadSession]:
        """Unfinished uploads untouched since `before`."""
        rows = self.conn.execute(
            f"{_SELECT} WHERE t.completed_at IS NULL AND t.updated_at < ?", (before,)
        ).fetchall()
        return self._opened(rows)

    def delete(self, upload_id: str) -> None:
        """Forget an abandoned upload."""
        self.conn.execute("DELETE FROM upload_sessions WHERE id = ?", (upload_id,))
