"""The interview room's rows: settings, sessions, the frozen plan, takes and their pieces, answers.

Media pieces and follow-up questions (which may quote an answer) are sealed with the
candidate's key, so erasing the candidate (shredding the key) makes them unreadable too. A
take's pieces live in the encrypted spool; the take's row follows how far it has come.
`room_chunks` only holds pieces of takes begun before that (schema 17).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import dumps, limit_clause, loads
from appliance.store.db import OperationalError, Row
from appliance.store.fieldcrypt import (
    NONCE_BYTES,
    SealedFieldError,
    cipher,
    is_sealed,
    open_text,
    seal,
)
from appliance.store.sealed import SealedRepository

_OWNER_OF_SESSION = (
    "JOIN interviews i ON i.id = s.interview_id JOIN candidates c ON c.id = i.candidate_id"
)


def seal_bytes(key: bytes, data: bytes, context: str) -> bytes:
    """AES-256-GCM of a media piece with the candidate's key, bound to where it belongs."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + cipher(key).encrypt(nonce, data, context.encode("utf-8"))


def open_bytes(key: bytes, blob: bytes, context: str) -> bytes:
    """Inverse of `seal_bytes`; SealedFieldError if altered, moved or the key is wrong."""
    try:
        return cipher(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode("utf-8"))
    except (InvalidTag, ValueError):
        raise SealedFieldError(f"media piece {context} does not open") from None


@dataclass(frozen=True)
class RoomSession:
    """A candidate's progress through their interview room."""

    id: int
    interview_id: int
    link_id: int
    language: str
    stage: str
    ai_choice: str | None
    ai_choice_at: str | None
    settings: dict[str, Any]
    created_at: str
    updated_at: str
    closed_at: str | None


@dataclass(frozen=True)
class RoomQuestion:
    """One question of a room's plan (planned or a follow-up)."""

    id: int
    session_id: int
    position: int
    kind: str
    question_id: int | None
    dimension_key: str | None
    text: str
    based_on: int | None


@dataclass(frozen=True)
class Take:
    """One recording attempt at a question."""

    id: int
    room_question_id: int
    number: int
    client_key: str
    content_type: str
    state: str
    next_seq: int
    received_bytes: int
    recording_id: int | None
    duration_s: float | None
    spool_name: str | None = None  # the pieces file in the spool
    wrapped_data_key: bytes | None = None
    finished_at: str | None = None  # the browser announced the last piece
    expected_pieces: int | None = None
    expected_bytes: int | None = None
    job_id: int | None = None  # the job assembling the finished take
    error: str | None = None  # why the finished take could not become a recording

    @property
    def safe(self) -> bool:
        """Stored as a checked recording: the answer can no longer be lost."""
        return self.recording_id is not None and self.state in ("complete", "used")


@dataclass(frozen=True)
class InterviewAnswer:
    """The answer kept for a question: the contract read by segmentation and scoring."""

    id: int
    interview_id: int
    recording_id: int
    room_question_id: int
    question_id: int | None
    question_text: str
    dimension_key: str | None
    position: int


def _session(row: Row) -> RoomSession:
    return RoomSession(
        row["id"],
        row["interview_id"],
        row["link_id"],
        row["language"],
        row["stage"],
        row["ai_choice"],
        row["ai_choice_at"],
        loads(row["settings"]),
        row["created_at"],
        row["updated_at"],
        row["closed_at"],
    )


def _take(row: Row) -> Take:
    return Take(
        row["id"],
        row["room_question_id"],
        row["number"],
        row["client_key"],
        row["content_type"],
        row["state"],
        row["next_seq"],
        row["received_bytes"],
        row["recording_id"],
        row["duration_s"],
        row["spool_name"],
        None if row["wrapped_data_key"] is None else bytes(row["wrapped_data_key"]),
        row["finished_at"],
        row["expected_pieces"],
        row["expected_bytes"],
        row["job_id"],
        row["error"],
    )


# What a take's row may be changed to (update_take).
_TAKE_FIELDS = frozenset(
    {
        "state",
        "next_seq",
        "received_bytes",
        "recording_id",
        "duration_s",
        "spool_name",
        "wrapped_data_key",
        "finished_at",
        "expected_pieces",
        "expected_bytes",
        "job_id",
        "error",
    }
)


class RoomRepository(SealedRepository):
    """Room settings, sessions, plans, takes and their pieces."""

    # --- settings per requisition -----------------------------------------------------------
    def settings_for(self, requisition_id: int) -> dict[str, Any] | None:
        """A requisition's room settings, or None for the defaults."""
        row = self.conn.execute(
            "SELECT settings FROM room_settings WHERE requisition_id = ?", (requisition_id,)
        ).fetchone()
        return loads(row["settings"]) if row else None

    def put_settings(self, requisition_id: int, settings: dict[str, Any], user_id: int) -> None:
        """Save a requisition's room settings."""
        self.conn.execute(
            "INSERT INTO room_settings (requisition_id, settings, updated_by, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (requisition_id) DO UPDATE SET"
            " settings = excluded.settings, updated_by = excluded.updated_by,"
            " updated_at = excluded.updated_at",
            (requisition_id, dumps(settings), user_id, now_stamp()),
        )

    # --- sessions ---------------------------------------------------------------------------
    def create_session(
        self,
        interview_id: int,
        link_id: int,
        language: str,
        settings: dict[str, Any],
    ) -> RoomSession:
        """Open the room of an interview."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO room_sessions (interview_id, link_id, language, settings,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (interview_id, link_id, language, dumps(settings), now, now),
        )
        return self.session(int(cursor.lastrowid))

    def session(self, session_id: int) -> RoomSession:
        """One room by id."""
        row = self.conn.execute(
            "SELECT * FROM room_sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no room {session_id}")
        return _session(row)

    def session_for(self, interview_id: int) -> RoomSession | None:
        """The room of an interview, if it was opened."""
        row = self.conn.execute(
            "SELECT * FROM room_sessions WHERE interview_id = ?", (interview_id,)
        ).fetchone()
        return _session(row) if row else None

    def update_session(self, session_id: int, **fields: Any) -> RoomSession:
        """Change a room's stage, AI choice, language or closing time."""
        allowed = {"stage", "ai_choice", "ai_choice_at", "closed_at", "language"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not a room field: {', '.join(sorted(unknown))}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(
            f"UPDATE room_sessions SET {assignments}, updated_at = ? WHERE id = ?",
            (*fields.values(), now_stamp(), session_id),
        )
        return self.session(session_id)

    # --- the plan ---------------------------------------------------------------------------
    def _pseudonym_of_session(self, session_id: int) -> str:
        row = self.conn.execute(
            f"SELECT c.pseudonym FROM room_sessions s {_OWNER_OF_SESSION} WHERE s.id = ?",
            (session_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no room {session_id}")
        return str(row["pseudonym"])

    def add_question(
        self,
        session_id: int,
        position: int,
        kind: str,
        text: str,
        *,
        question_id: int | None = None,
        dimension_key: str | None = None,
        based_on: int | None = None,
    ) -> RoomQuestion:
        """Add a question at `position` (a follow-up's or personal question's text is sealed)."""
        cursor = self.conn.execute(
            "INSERT INTO room_questions (session_id, position, kind, question_id, dimension_key,"
            " text, based_on, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, position, kind, question_id, dimension_key, "-", based_on, now_stamp()),
        )
        row_id = int(cursor.lastrowid)
        stored = text
        if kind != "planned":
            # Follow-ups quote the answer; personal questions come from the resume.
            key = self._require_key(self._pseudonym_of_session(session_id))
            stored = seal(key, text, table="room_questions", column="text", row=row_id)
        self.conn.execute("UPDATE room_questions SET text = ? WHERE id = ?", (stored, row_id))
        return self.question(row_id)

    def shift_questions(self, session_id: int, from_position: int) -> None:
        """Make room at `from_position` by moving later questions one place down."""
        # Two steps, so the UNIQUE (session, position) constraint never sees a clash.
        self.conn.execute(
            "UPDATE room_questions SET position = -position - 1"
            " WHERE session_id = ? AND position >= ?",
            (session_id, from_position),
        )
        self.conn.execute(
            "UPDATE room_questions SET position = -position WHERE session_id = ? AND position < 0",
            (session_id,),
        )

    def _question(self, row: Row, key: bytes | None) -> RoomQuestion:
        text = row["text"]
        if is_sealed(text):
            text = open_text(key, text, table="room_questions", column="text", row=row["id"])
        return RoomQuestion(
            row["id"],
            row["session_id"],
            row["position"],
            row["kind"],
            row["question_id"],
            row["dimension_key"],
            text or "",
            row["based_on"],
        )

    def question(self, room_question_id: int) -> RoomQuestion:
        """One question by id."""
        row = self.conn.execute(
            "SELECT * FROM room_questions WHERE id = ?", (room_question_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no question {room_question_id}")
        key = self._key(self._pseudonym_of_session(row["session_id"]))
        return self._question(row, key)

    def questions(self, session_id: int) -> list[RoomQuestion]:
        """A room's questions in order."""
        rows = self.conn.execute(
            "SELECT * FROM room_questions WHERE session_id = ? ORDER BY position", (session_id,)
        ).fetchall()
        if not rows:
            return []
        key = self._key(self._pseudonym_of_session(session_id))
        return [self._question(row, key) for row in rows]

    # --- takes ------------------------------------------------------------------------------
    def create_take(
        self, room_question_id: int, number: int, client_key: str, content_type: str
    ) -> Take:
        """Start a recording attempt."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO room_takes (room_question_id, number, client_key, content_type,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (room_question_id, number, client_key, content_type, now, now),
        )
        return self.take(int(cursor.lastrowid))

    def take(self, take_id: int) -> Take:
        """One take by id."""
        row = self.conn.execute("SELECT * FROM room_takes WHERE id = ?", (take_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no take {take_id}")
        return _take(row)

    def take_by_key(self, client_key: str) -> Take | None:
        """The take a browser names by its key."""
        row = self.conn.execute(
            "SELECT * FROM room_takes WHERE client_key = ?", (client_key,)
        ).fetchone()
        return _take(row) if row else None

    def takes(self, room_question_id: int) -> list[Take]:
        """Every take at one question, in order."""
        rows = self.conn.execute(
            "SELECT * FROM room_takes WHERE room_question_id = ? ORDER BY number",
            (room_question_id,),
        )
        return [_take(row) for row in rows]

    def update_take(self, take_id: int, **fields: Any) -> Take:
        """Change a take's state, counters, recording, duration, pieces file or assembly."""
        unknown = set(fields) - _TAKE_FIELDS
        if unknown:
            raise ValueError(f"not a take field: {', '.join(sorted(unknown))}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(
            f"UPDATE room_takes SET {assignments}, updated_at = ? WHERE id = ?",
            (*fields.values(), now_stamp(), take_id),
        )
        return self.take(take_id)

    def stale_takes(self, before: str) -> list[Take]:
        """Takes still recording that nobody continued since `before` (a finished take waiting
        for its assembly is not stale: the candidate is done, the appliance is not)."""
        rows = self.conn.execute(
            "SELECT * FROM room_takes WHERE state = 'recording' AND updated_at < ?"
            " AND (finished_at IS NULL OR error IS NOT NULL)",
            (before,),
        )
        return [_take(row) for row in rows]

    def attach_pieces_file(self, take_id: int, spool_name: str, wrapped_data_key: bytes) -> bool:
        """Give a take its pieces file; False when another request gave it one first."""
        cursor = self.conn.execute(
            "UPDATE room_takes SET spool_name = ?, wrapped_data_key = ?, updated_at = ?"
            " WHERE id = ? AND spool_name IS NULL",
            (spool_name, wrapped_data_key, now_stamp(), take_id),
        )
        return bool(cursor.rowcount == 1)

    def record_progress(self, progress: dict[int, tuple[int, int]], *, wait: bool) -> bool:
        """Write how far takes have come ({take: (pieces, bytes)}) in one short transaction.

        Never moves a take back, nor one that is finished. With `wait` false the write lock is
        tried once and False returned at once when someone holds it: the pieces files are the
        truth, so a request never sleeps on the lock for this.
        """
        if not progress:
            return True
        conn = self.conn
        busy_ms = self._store.database.busy_timeout_ms
        if not wait:
            conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except OperationalError as exc:
            if wait or ("locked" not in str(exc) and "busy" not in str(exc)):
                raise
            return False
        finally:
            if not wait:
                conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        try:
            now = now_stamp()
            conn.executemany(
                "UPDATE room_takes SET next_seq = ?, received_bytes = ?, updated_at = ?"
                " WHERE id = ? AND next_seq < ? AND state = 'recording' AND finished_at IS NULL",
                [
                    (pieces, size, now, take_id, pieces)
                    for take_id, (pieces, size) in sorted(progress.items())
                ],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return True

    def mark_finished(self, take_id: int, pieces: int, size_bytes: int, job_id: int | None) -> Take:
        """Record that every piece is in, and the job that assembles the take."""
        self.conn.execute(
            "UPDATE room_takes SET next_seq = ?, received_bytes = ?, expected_pieces = ?,"
            " expected_bytes = ?, finished_at = coalesce(finished_at, ?), job_id = ?,"
            " updated_at = ? WHERE id = ?",
            (pieces, size_bytes, pieces, size_bytes, now_stamp(), job_id, now_stamp(), take_id),
        )
        return self.take(take_id)

    def awaiting_assembly(self) -> list[Take]:
        """Finished takes not yet stored as recordings (nor refused)."""
        rows = self.conn.execute(
            "SELECT * FROM room_takes WHERE state = 'recording' AND finished_at IS NOT NULL"
            " AND error IS NULL ORDER BY id"
        )
        return [_take(row) for row in rows]

    def pieces_files_in_use(self) -> set[str]:
        """Pieces files of takes still recording or waiting for their assembly."""
        rows = self.conn.execute(
            "SELECT spool_name FROM room_takes WHERE state = 'recording' AND spool_name IS NOT NULL"
        )
        return {str(row[0]) for row in rows}

    def add_chunk(self, take_id: int, seq: int, data: bytes, key: bytes) -> None:
        """Keep one piece of a take, sealed."""
        self.conn.execute(
            "INSERT INTO room_chunks (take_id, seq, size_bytes, data) VALUES (?, ?, ?, ?)",
            (take_id, seq, len(data), seal_bytes(key, data, f"room_chunks/{take_id}/{seq}")),
        )

    def chunks(self, take_id: int, key: bytes) -> list[bytes]:
        """A take's pieces in order, opened."""
        rows = self.conn.execute(
            "SELECT seq, data FROM room_chunks WHERE take_id = ? ORDER BY seq", (take_id,)
        )
        return [
            open_bytes(key, bytes(row["data"]), f"room_chunks/{take_id}/{row['seq']}")
            for row in rows
        ]

    def chunk_stats(self, take_id: int) -> tuple[int, int]:
        """(number of pieces, their total size)."""
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(size_bytes), 0) FROM room_chunks WHERE take_id = ?",
            (take_id,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def drop_chunks(self, take_id: int) -> None:
        """Forget a take's pieces (assembled into the spool, or discarded)."""
        self.conn.execute("DELETE FROM room_chunks WHERE take_id = ?", (take_id,))

    def analysis_jobs(self, recording_id: int) -> list[int]:
        """Ids of the analysis jobs of a recording, whatever their state."""
        rows = self.conn.execute(
            "SELECT id FROM jobs WHERE kind = 'analyse' AND subject_type = 'recording'"
            " AND subject_id = ? ORDER BY id",
            (recording_id,),
        )
        return [int(row[0]) for row in rows]

    def delete_unanalysed_recording(self, recording_id: int) -> None:
        """Remove the row of a discarded take's recording (no job, no report refers to it)."""
        self.conn.execute(
            "DELETE FROM recordings WHERE id = ? AND NOT EXISTS (SELECT 1 FROM jobs"
            " WHERE subject_type = 'recording' AND subject_id = ?) AND NOT EXISTS"
            " (SELECT 1 FROM reports WHERE recording_id = ?)",
            (recording_id, recording_id, recording_id),
        )


class InterviewAnswerRepository(SealedRepository):
    """Which recording answers which question of the plan."""

    _SELECT = (
        "SELECT a.*, q.question_id, q.dimension_key, q.text, q.session_id, c.pseudonym"
        " FROM interview_answers a JOIN room_questions q ON q.id = a.room_question_id"
        " JOIN interviews i ON i.id = a.interview_id JOIN candidates c ON c.id = i.candidate_id"
    )

    def create(
        self,
        interview_id: int,
        room_question_id: int,
        recording_id: int,
        take_id: int,
        position: int,
    ) -> None:
        """Keep a take as the answer to its question."""
        self.conn.execute(
            "INSERT INTO interview_answers (interview_id, room_question_id, recording_id,"
            " take_id, position, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (interview_id, room_question_id, recording_id, take_id, position, now_stamp()),
        )

    def _answers(self, rows: list[Row]) -> list[InterviewAnswer]:
        keys = self._keys(row["pseudonym"] for row in rows)
        found = []
        for row in rows:
            text = row["text"]
            if is_sealed(text):
                text = open_text(
                    keys.get(row["pseudonym"]),
                    text,
                    table="room_questions",
                    column="text",
                    row=row["room_question_id"],
                )
            found.append(
                InterviewAnswer(
                    row["id"],
                    row["interview_id"],
                    row["recording_id"],
                    row["room_question_id"],
                    row["question_id"],
                    text or "",
                    row["dimension_key"],
                    row["position"],
                )
            )
        return found

    def for_recording(self, recording_id: int) -> InterviewAnswer | None:
        """The room answer a recording holds, or None (an upload or a live interview)."""
        rows = self.conn.execute(f"{self._SELECT} WHERE a.recording_id = ?", (recording_id,))
        found = self._answers(rows.fetchall())
        return found[0] if found else None

    def for_interview(self, interview_id: int) -> list[InterviewAnswer]:
        """An interview's answers in the order they were asked."""
        rows = self.conn.execute(
            f"{self._SELECT} WHERE a.interview_id = ? ORDER BY a.position", (interview_id,)
        )
        return self._answers(rows.fetchall())


@dataclass(frozen=True)
class Notification:
    """A message for one person in the UI."""

    id: int
    user_id: int
    kind: str
    interview_id: int | None
    details: dict[str, Any]
    created_at: str
    read_at: str | None


class NotificationRepository(SealedRepository):
    """In-app notifications (no candidate text: ids and counts only)."""

    def add(
        self, user_id: int, kind: str, interview_id: int | None, details: dict[str, Any]
    ) -> int:
        """Notify one person."""
        cursor = self.conn.execute(
            "INSERT INTO hr_notifications (user_id, kind, interview_id, details, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, kind, interview_id, dumps(details), now_stamp()),
        )
        return int(cursor.lastrowid)

    def for_user(self, user_id: int, *, limit: int = 100) -> list[Notification]:
        """A person's notifications, newest first."""
        rows = self.conn.execute(
            "SELECT * FROM hr_notifications WHERE user_id = ? ORDER BY id DESC "
            + limit_clause(limit),
            (user_id,),
        )
        return [
            Notification(
                row["id"],
                row["user_id"],
                row["kind"],
                row["interview_id"],
                loads(row["details"]),
                row["created_at"],
                row["read_at"],
            )
            for row in rows
        ]

    def unread_count(self, user_id: int) -> int:
        """How many of a person's notifications are unread."""
        row = self.conn.execute(
            "SELECT count(*) FROM hr_notifications WHERE user_id = ? AND read_at IS NULL",
            (user_id,),
        ).fetchone()
        return int(row[0])

    def mark_all_read(self, user_id: int) -> int:
        """Mark every notification of a person read; how many were unread."""
        cursor = self.conn.execute(
            "UPDATE hr_notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL",
            (now_stamp(), user_id),
        )
        return int(cursor.rowcount)

    def mark_read(self, user_id: int, notification_id: int) -> bool:
        """Mark one of a person's notifications read; False if it is not theirs."""
        cursor = self.conn.execute(
            "UPDATE hr_notifications SET read_at = coalesce(read_at, ?)"
            " WHERE id = ? AND user_id = ?",
            (now_stamp(), notification_id, user_id),
        )
        return bool(cursor.rowcount > 0)
