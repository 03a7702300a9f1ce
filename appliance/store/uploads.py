"""Resumable uploads in progress: how far each has come, and where its bytes go."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.clock import now_stamp
from appliance.db import Row
from appliance.errors import NotFoundError
from appliance.store.base import Repository


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


def _session(row: Row) -> UploadSession:
    return UploadSession(
        row["id"],
        row["interview_id"],
        row["user_id"],
        row["display_name"],
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


class UploadRepository(Repository):
    """Rows of resumable uploads."""

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
        now = now_stamp()
        self.conn.execute(
            "INSERT INTO upload_sessions (id, interview_id, user_id, display_name, content_type,"
            " total_bytes, spool_name, wrapped_data_key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                upload_id,
                interview_id,
                user_id,
                display_name,
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
        row = self.conn.execute(
            "SELECT * FROM upload_sessions WHERE id = ?", (upload_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("no such upload")
        return _session(row)

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
            "SELECT * FROM upload_sessions WHERE completed_at IS NULL AND updated_at < ?",
            (before,),
        )
        return [_session(row) for row in rows]

    def delete(self, upload_id: str) -> None:
        """Forget an abandoned upload."""
        self.conn.execute("DELETE FROM upload_sessions WHERE id = ?", (upload_id,))
