"""Recordings: references to encrypted spool files and their wrapped data keys.

The display name (the uploaded file's name, often the candidate's) is sealed with the
candidate's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import dumps, loads
from appliance.store.db import Row
from appliance.store.fieldcrypt import FieldKey, open_text
from appliance.store.sealed import OWNER_OF, PENDING, SealedRepository, savepoint

_SELECT = f"SELECT t.*, c.pseudonym AS sealed_owner FROM {OWNER_OF['recordings']}"


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


def _recording(row: Row, key: FieldKey | None) -> Recording:
    display_name = open_text(
        key, row["display_name"], table="recordings", column="display_name", row=row["id"]
    )
    return Recording(
        row["id"],
        row["interview_id"],
        row["candidate_id"],
        row["spool_name"],
        display_name or "",
        row["content_type"],
        row["size_bytes"],
        row["sha256"],
        bytes(row["wrapped_data_key"]),
        loads(row["media_info"]),
        row["created_at"],
    )


class RecordingRepository(SealedRepository):
    """Rows describing spool files."""

    def _opened(self, rows: list[Row]) -> list[Recording]:
        keys = self._ciphers(row["sealed_owner"] for row in rows)
        return [_recording(row, keys.get(row["sealed_owner"])) for row in rows]

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
        key = self._candidate_key(candidate_id)
        with savepoint(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO recordings (interview_id, candidate_id, spool_name, display_name,"
                " content_type, size_bytes, sha256, wrapped_data_key, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    interview_id,
                    candidate_id,
                    spool_name,
                    PENDING,
                    content_type,
                    size_bytes,
                    sha256,
                    wrapped_data_key,
                    now_stamp(),
                ),
            )
            recording_id = int(cursor.lastrowid)
            self._seal_row("recordings", recording_id, key, {"display_name": display_name})
        return self.get(recording_id)

    def get(self, recording_id: int) -> Recording:
        """One recording by id."""
        rows = self.conn.execute(f"{_SELECT} WHERE t.id = ?", (recording_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no recording {recording_id}")
        return self._opened(rows)[0]

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
            f"{_SELECT} WHERE t.interview_id = ? ORDER BY t.id", (interview_id,)
        ).fetchall()
        return self._opened(rows)
