"""Sign-in sessions held on the server: a session is alive while its row is and not ended.

The cookie carries the session's secret; only its SHA-256 is stored. Nothing is written per
request (idle and absolute limits are checked from the signed cookie's times), so a busy page
adds no write to the database's single lock.
"""

from __future__ import annotations

import hashlib
import secrets

from appliance.platform.clock import now_stamp
from appliance.store.base import Repository


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class WebSessionRepository(Repository):
    """Sessions of staff accounts in the web UI."""

    def start(self, user_id: int, *, forget_before: str) -> str:
        """A new session of `user_id`; returns its secret (for the cookie). Sessions started
        before `forget_before` (past any session's absolute lifetime) are deleted on the way."""
        token = secrets.token_urlsafe(32)
        with self._store.transaction():
            self.conn.execute("DELETE FROM web_sessions WHERE started_at < ?", (forget_before,))
            self.conn.execute(
                "INSERT INTO web_sessions (token_hash, user_id, started_at) VALUES (?, ?, ?)",
                (_hash(token), user_id, now_stamp()),
            )
        return token

    def alive(self, token: str, user_id: int) -> bool:
        """Whether the session with this secret belongs to `user_id` and has not ended."""
        row = self.conn.execute(
            "SELECT 1 FROM web_sessions WHERE token_hash = ? AND user_id = ? AND ended_at IS NULL",
            (_hash(token), user_id),
        ).fetchone()
        return row is not None

    def end(self, token: str) -> None:
        """End one session (signing out)."""
        with self._store.transaction():
            self.conn.execute(
                "UPDATE web_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL",
                (now_stamp(), _hash(token)),
            )

    def end_all(self, user_id: int, *, keep: str | None = None) -> int:
        """End every session of an account (but `keep`'s); returns how many were alive.
        Call inside the caller's transaction."""
        cursor = self.conn.execute(
            "UPDATE web_sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL"
            " AND token_hash <> ?",
            (now_stamp(), user_id, _hash(keep) if keep else ""),
        )
        return int(cursor.rowcount)

    def count_alive(self, user_id: int, *, since: str) -> int:
        """How many sessions of an account started after `since` have not ended (an idle
        one among them may still have lapsed)."""
        row = self.conn.execute(
            "SELECT count(*) FROM web_sessions WHERE user_id = ? AND ended_at IS NULL"
            " AND started_at >= ?",
            (user_id, since),
        ).fetchone()
        return int(row[0])


__all__ = ["WebSessionRepository"]
