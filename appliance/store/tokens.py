"""API tokens of service accounts: only their SHA-256 is stored."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.platform.clock import now_stamp
from appliance.store.base import Repository


@dataclass(frozen=True)
class ApiToken:
    """A token's record (never the token itself)."""

    id: int
    user_id: int
    name: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class ApiTokenRepository(Repository):
    """Create, find and revoke API tokens by hash."""

    def create(self, user_id: int, name: str, token_hash: str, expires_at: str | None) -> ApiToken:
        """Record a new token's hash."""
        now = now_stamp()
        cursor = self.conn.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (user_id, name, token_hash, now, expires_at),
        )
        return ApiToken(int(cursor.lastrowid), user_id, name, now, expires_at, None, None)

    def by_hash(self, token_hash: str) -> ApiToken | None:
        """A token's record by its hash."""
        row = self.conn.execute(
            "SELECT * FROM api_tokens WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        if row is None:
            return None
        return ApiToken(
            row["id"],
            row["user_id"],
            row["name"],
            row["created_at"],
            row["expires_at"],
            row["last_used_at"],
            row["revoked_at"],
        )

    def touch(self, token_id: int) -> None:
        """Note the token was used now."""
        self.conn.execute(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now_stamp(), token_id)
        )

    def revoke(self, token_id: int) -> None:
        """Revoke a token for good."""
        self.conn.execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
            (now_stamp(), token_id),
        )

    def for_user(self, user_id: int) -> list[ApiToken]:
        """A user's tokens."""
        rows = self.conn.execute(
            "SELECT * FROM api_tokens WHERE user_id = ? ORDER BY id", (user_id,)
        )
        return [
            ApiToken(
                r["id"],
                r["user_id"],
                r["name"],
                r["created_at"],
                r["expires_at"],
                r["last_used_at"],
                r["revoked_at"],
            )
            for r in rows
        ]
