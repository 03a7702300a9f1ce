"""The notification outbox, its attempt log, and in-app notifications.

A message's payload (recipient address, subject, text, calendar attachment) is sealed with the
key of the candidate it is about: erasing the candidate makes every message about them
unreadable, and the sender dead-letters it instead of sending it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Visibility
from appliance.store.base import limit_clause
from appliance.store.db import Row
from appliance.store.fieldcrypt import open_json, seal_json
from appliance.store.sealed import SealedRepository

TABLE = "outbox"


@dataclass(frozen=True)
class OutboxMessage:
    """One message to send (payload opened; `{"erased": True}` once the candidate is erased)."""

    id: int
    message_key: str
    message_id: str
    channel: str
    purpose: str
    candidate_id: int
    interview_id: int | None
    user_id: int | None
    payload: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: str
    claimed_by: str | None
    last_error: str | None
    dead_reason: str | None
    created_at: str
    sent_at: str | None


@dataclass(frozen=True)
class Attempt:
    """One try at sending a message, and how far it got."""

    outbox_id: int
    attempt: int
    claimed_by: str
    phase: str
    started_at: str
    ended_at: str | None
    error: str | None


@dataclass(frozen=True)
class InAppNotification:
    """An in-app notification for one person."""

    id: int
    user_id: int
    content: dict[str, Any]
    created_at: str
    read_at: str | None


class OutboxRepository(SealedRepository):
    """Durable messages: enqueue, claim, record each phase, finish."""

    def enqueue(
        self,
        *,
        message_key: str,
        message_id: str,
        channel: str,
        purpose: str,
        candidate_id: int,
        interview_id: int | None,
        user_id: int | None,
        payload: dict[str, Any],
        max_attempts: int,
        not_before: str,
    ) -> int | None:
        """Add a message unless one with the same key exists; its id, or None if it existed."""
        key = self._candidate_key(candidate_id)
        sealed = seal_json(key, payload, table=TABLE, column="payload", row=message_key)
        cursor = self.conn.execute(
            "INSERT INTO outbox (message_key, message_id, channel, purpose, candidate_id,"
            " interview_id, user_id, payload, max_attempts, not_before, next_attempt_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (message_key) DO NOTHING",
            (
                message_key,
                message_id,
                channel,
                purpose,
                candidate_id,
                interview_id,
                user_id,
                sealed,
                max_attempts,
                not_before,
                not_before,
                now_stamp(),
            ),
        )
        return int(cursor.lastrowid) if cursor.rowcount else None

    def _messages(self, rows: list[Row]) -> list[OutboxMessage]:
        keys = self._keys(row["sealed_owner"] for row in rows)
        found = []
        for row in rows:
            payload = open_json(
                keys.get(row["sealed_owner"]),
                row["payload"],
                table=TABLE,
                column="payload",
                row=row["message_key"],
            )
            found.append(
                OutboxMessage(
                    row["id"],
                    row["message_key"],
                    row["message_id"],
                    row["channel"],
                    row["purpose"],
                    row["candidate_id"],
                    row["interview_id"],
                    row["user_id"],
                    payload,
                    row["state"],
                    row["attempts"],
                    row["max_attempts"],
                    row["next_attempt_at"],
                    row["claimed_by"],
                    row["last_error"],
                    row["dead_reason"],
                    row["created_at"],
                    row["sent_at"],
                )
            )
        return found

    _SELECT = (
        "SELECT o.*, c.pseudonym AS sealed_owner FROM outbox o"
        " JOIN candidates c ON c.id = o.candidate_id"
    )

    def get(self, outbox_id: int) -> OutboxMessage:
        """One message; NotFoundError if none."""
        rows = self.conn.execute(f"{self._SELECT} WHERE o.id = ?", (outbox_id,)).fetchall()
        if not rows:
            raise NotFoundError(f"no message {outbox_id}")
        return self._messages(rows)[0]

    def by_key(self, message_key: str) -> OutboxMessage | None:
        """The message enqueued under a key, or None."""
        rows = self.conn.execute(
            f"{self._SELECT} WHERE o.message_key = ?", (message_key,)
        ).fetchall()
        return self._messages(rows)[0] if rows else None

    def all(self, *, state: str | None = None) -> list[OutboxMessage]:
        """Every message (optionally in one state), oldest first."""
        sql, params = f"{self._SELECT}", []
        if state is not None:
            sql += " WHERE o.state = ?"
            params.append(state)
        return self._messages(self.conn.execute(sql + " ORDER BY o.id", params).fetchall())

    def visible(self, visibility: Visibility, *, states: tuple[str, ...]) -> list[OutboxMessage]:
        """Messages in some states about interviews inside the visibility, newest first."""
        clause, params = visibility.interview_clause("i", "r")
        marks = ", ".join("?" for _ in states)
        rows = self.conn.execute(
            f"{self._SELECT} JOIN interviews i ON i.id = o.interview_id"
            f" JOIN requisitions r ON r.id = i.requisition_id WHERE o.state IN ({marks})"
            f" AND {clause} ORDER BY o.id DESC LIMIT 500",
            (*states, *params),
        ).fetchall()
        return self._messages(rows)

    def due_ids(self, now: str, limit: int) -> list[int]:
        """Pending messages whose time has come, oldest first."""
        rows = self.conn.execute(
            "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
            f" ORDER BY next_attempt_at, id {limit_clause(limit)}",
            (now,),
        )
        return [int(row["id"]) for row in rows]

    def claim(self, outbox_id: int, claimant: str) -> int | None:
        """Take a pending message for one attempt (inside a write transaction); the attempt
        number, or None if someone else took it first."""
        cursor = self.conn.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_by = ?,"
            " claimed_at = ? WHERE id = ? AND state = 'pending'",
            (claimant, now_stamp(), outbox_id),
        )
        if not cursor.rowcount:
            return None
        attempt = int(
            self.conn.execute("SELECT attempts FROM outbox WHERE id = ?", (outbox_id,)).fetchone()[
                0
            ]
        )
        self.conn.execute(
            "INSERT INTO outbox_attempts (outbox_id, attempt, claimed_by, phase, started_at)"
            " VALUES (?, ?, ?, 'claimed', ?)",
            (outbox_id, attempt, claimant, now_stamp()),
        )
        return attempt

    def set_phase(self, outbox_id: int, attempt: int, phase: str, error: str | None = None) -> None:
        """Record how far an attempt got."""
        ended = now_stamp() if phase in ("accepted", "failed") else None
        self.conn.execute(
            "UPDATE outbox_attempts SET phase = ?, error = coalesce(?, error),"
            " ended_at = coalesce(?, ended_at) WHERE outbox_id = ? AND attempt = ?",
            (phase, error, ended, outbox_id, attempt),
        )

    def attempts(self, outbox_id: int) -> list[Attempt]:
        """Every attempt of a message, in order."""
        rows = self.conn.execute(
            "SELECT * FROM outbox_attempts WHERE outbox_id = ? ORDER BY attempt", (outbox_id,)
        )
        return [
            Attempt(
                r["outbox_id"],
                r["attempt"],
                r["claimed_by"],
                r["phase"],
                r["started_at"],
                r["ended_at"],
                r["error"],
            )
            for r in rows
        ]

    def handed_over(self, message_id: str) -> bool:
        """Whether any attempt of this Message-ID reached the point of handing it over."""
        row = self.conn.execute(
            "SELECT 1 FROM outbox_attempts a JOIN outbox o ON o.id = a.outbox_id"
            " WHERE o.message_id = ? AND a.phase IN ('handing_over', 'accepted') LIMIT 1",
            (message_id,),
        ).fetchone()
        return row is not None

    def mark_sent(self, outbox_id: int) -> None:
        """The message was accepted by the relay, gateway or inbox."""
        self.conn.execute(
            "UPDATE outbox SET state = 'sent', sent_at = ?, claimed_by = NULL, last_error = NULL"
            " WHERE id = ?",
            (now_stamp(), outbox_id),
        )

    def retry_later(self, outbox_id: int, next_attempt_at: str, error: str) -> None:
        """Back to pending, to be tried again at `next_attempt_at`."""
        self.conn.execute(
            "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ?,"
            " claimed_by = NULL WHERE id = ?",
            (next_attempt_at, error, outbox_id),
        )

    def mark_dead(self, outbox_id: int, reason: str, error: str | None = None) -> None:
        """Give up: the message waits in the dead-letter view for a person."""
        self.conn.execute(
            "UPDATE outbox SET state = 'dead', dead_reason = ?, last_error = coalesce(?,"
            " last_error), claimed_by = NULL WHERE id = ?",
            (reason, error, outbox_id),
        )

    def release(self, outbox_id: int, *, extra_attempts: int) -> bool:
        """A person sends a dead message again (same Message-ID): an unresolved hand-over is
        settled by their decision; whether the message was dead."""
        cursor = self.conn.execute(
            "UPDATE outbox SET state = 'pending', dead_reason = NULL, next_attempt_at = ?,"
            " max_attempts = attempts + ? WHERE id = ? AND state = 'dead'",
            (now_stamp(), extra_attempts, outbox_id),
        )
        if not cursor.rowcount:
            return False
        self.conn.execute(
            "UPDATE outbox_attempts SET phase = 'failed', ended_at = ?,"
            " error = 'released by a person' WHERE outbox_id = ? AND phase = 'handing_over'",
            (now_stamp(), outbox_id),
        )
        return True

    def cancel_pending(self, key_prefix: str) -> int:
        """Cancel pending messages whose key starts with a prefix (e.g. stale reminders)."""
        escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        cursor = self.conn.execute(
            "UPDATE outbox SET state = 'cancelled' WHERE state = 'pending'"
            " AND message_key LIKE ? ESCAPE '\\'",
            (escaped + "%",),
        )
        return int(cursor.rowcount)

    def stuck(self) -> list[tuple[int, str, str]]:
        """(id, claimant, claimed_at) of messages left in 'sending'."""
        rows = self.conn.execute(
            "SELECT id, claimed_by, claimed_at FROM outbox WHERE state = 'sending'"
        )
        return [(int(r["id"]), str(r["claimed_by"]), str(r["claimed_at"])) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many messages are in each state."""
        rows = self.conn.execute("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        return {str(row["state"]): int(row["n"]) for row in rows}


class InAppRepository(SealedRepository):
    """In-app notifications: written in the same transaction that marks their message sent."""

    def add(
        self,
        user_id: int,
        outbox_id: int,
        candidate_id: int,
        message_key: str,
        content: dict[str, Any],
    ) -> None:
        """Deliver an in-app notification, sealed with the candidate's key."""
        key = self._candidate_key(candidate_id)
        sealed = seal_json(key, content, table="notifications", column="content", row=message_key)
        self.conn.execute(
            "INSERT INTO notifications (user_id, outbox_id, candidate_id, content, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, outbox_id, candidate_id, sealed, now_stamp()),
        )

    def for_user(self, user_id: int, limit: int = 100) -> list[InAppNotification]:
        """A person's notifications, newest first."""
        rows = self.conn.execute(
            "SELECT n.*, o.message_key AS message_key, c.pseudonym AS sealed_owner"
            " FROM notifications n JOIN outbox o ON o.id = n.outbox_id"
            " JOIN candidates c ON c.id = n.candidate_id WHERE n.user_id = ?"
            f" ORDER BY n.id DESC {limit_clause(limit)}",
            (user_id,),
        ).fetchall()
        keys = self._keys(row["sealed_owner"] for row in rows)
        return [
            InAppNotification(
                row["id"],
                row["user_id"],
                open_json(
                    keys.get(row["sealed_owner"]),
                    row["content"],
                    table="notifications",
                    column="content",
                    row=row["message_key"],
                ),
                row["created_at"],
                row["read_at"],
            )
            for row in rows
        ]

    def mark_read(self, user_id: int, notification_id: int) -> bool:
        """Mark one of a person's notifications read; whether it was theirs."""
        cursor = self.conn.execute(
            "UPDATE notifications SET read_at = coalesce(read_at, ?) WHERE id = ? AND user_id = ?",
            (now_stamp(), notification_id, user_id),
        )
        return bool(cursor.rowcount)

    def mark_all_read(self, user_id: int) -> int:
        """Mark every notification of a person read; how many were unread."""
        cursor = self.conn.execute(
            "UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL",
            (now_stamp(), user_id),
        )
        return int(cursor.rowcount)

    def unread_count(self, user_id: int) -> int:
        """How many unread notifications a person has."""
        row = self.conn.execute(
            "SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL", (user_id,)
        ).fetchone()
        return int(row[0])
