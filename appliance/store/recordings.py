"""Recordings: references to encrypted spool files and their wrapped data keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.clock import now_stamp
from appliance.db import Row
from appliance.errors import NotFoundError
from appliance.store.base import Repository, dumps, loads


@dataclass(frozen=True)
class Recording:
    """An encrypted recording in the spool."""

    id: int
    interview_id: int
    candidate_id: int
    spool_name: str
    display_name: str
    content_type: str
    size_bytes: int
    sha256: str
    wrapped_data_key: bytes
    media_info: dict[str, Any] | None
    created_at: str


def _recording(row: Row) -> Recording:
    return Recording(
        row["id"],
        row["interview_id"],
        row["candidate_id"],
        row["spool_name"],
        row["display_name"],
        row["content_type"],
        row["size_bytes"],
        row["sha256"],
        bytes(row["wrapped_data_key"]),
        loads(row["media_info"]),
        row["created_at"],
    )


class RecordingRepository(Repository):
    """Rows describing spool files."""

    def create(
        self,
        interview_id: int,
        candidate_id: int,
        spool_name: str,
        display_name: str,
        content_type: str,
        size_bytes: int,
        sha256: str,
        wrapped_data_key: bytes,
    ) -> Recording:
        """Record a spool file that has been written and synced."""
        cursor = self.conn.execute(
            "INSERT INTO recordings (interview_id, candidate_id, spool_name, display_name,"
            " content_type, size_bytes, sha256, wrapped_data_key, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                interview_id,
                candidate_id,
                spool_name,
                display_name,
                content_type,
                size_bytes,
                sha256,
                wrapped_data_key,
                now_stamp(),
            ),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, recording_id: int) -> Recording:
        """One recording by id."""
        row = self.conn.execute("SELECT * FROM recordings WHERE id = ?", (recording_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no recording {recording_id}")
        return _recording(row)

    def set_media_info(self, recording_id: int, info: dict[str, Any]) -> None:
        """Store what probing found."""
        self.conn.execute(
            "UPDATE recordings SET media_info = ? WHERE id = ?", (dumps(info), recording_id)
        )

    def spool_names(self) -> set[str]:
        """Every spool file the store refers to."""
        return {row[0] for row in self.conn.execute("SELECT spool_name FROM recordings")}

    def for_interview(self, interview_id: int) -> list[Recording]:
        """An interview's recordings."""
        rows = self.conn.execute(
            "SELECT * FROM recordings WHERE interview_id = ? ORDER BY id", (interview_id,)
        )
        return [_recording(row) for row in rows]
