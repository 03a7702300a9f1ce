"""Candidate room links and the appliance's signing secrets (inside the encrypted store)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from appliance.platform.clock import now_stamp
from appliance.store.base import Repository
from appliance.store.db import Row, transaction


@dataclass(frozen=True)
class CandidateLink:
    """A link issued for one interview."""

    id: int
    interview_id: int
    nonce: str
    expires_at: str
    created_by: int
    created_at: str
    revoked_at: str | None
    last_used_at: str | None
    opens_at: str | None = None  # issued over capacity: the room opens at this time


def _link(row: Row) -> CandidateLink:
    return CandidateLink(
        row["id"],
        row["interview_id"],
        row["nonce"],
        row["expires_at"],
        row["created_by"],
        row["created_at"],
        row["revoked_at"],
        row["last_used_at"],
        row["opens_at"],
    )


class LinkRepository(Repository):
    """Issued links, and the secret they are signed with."""

    def secret(self, name: str) -> bytes:
        """A named 256-bit secret, created on first use (never leaves the encrypted store)."""
        row = self.conn.execute("SELECT value FROM app_secrets WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return bytes(row["value"])
        with transaction(self.conn):
            self.conn.execute(
                "INSERT OR IGNORE INTO app_secrets (name, value, created_at) VALUES (?, ?, ?)",
                (name, secrets.token_bytes(32), now_stamp()),
            )
        row = self.conn.execute("SELECT value FROM app_secrets WHERE name = ?", (name,)).fetchone()
        return bytes(row["value"])

    def create(
        self,
        interview_id: int,
        nonce: str,
        expires_at: str,
        created_by: int,
        opens_at: str | None = None,
    ) -> CandidateLink:
        """Record an issued link (opening at `opens_at`, or at once)."""
        cursor = self.conn.execute(
            "INSERT INTO candidate_links (interview_id, nonce, expires_at, created_by, created_at,"
            " opens_at) VALUES (?, ?, ?, ?, ?, ?)",
            (interview_id, nonce, expires_at, created_by, now_stamp(), opens_at),
        )
        return self.get(int(cursor.lastrowid))

    def get(self, link_id: int) -> CandidateLink:
        """One link by id."""
        row = self.conn.execute("SELECT * FROM candidate_links WHERE id = ?", (link_id,)).fetchone()
        return _link(row)

    def by_nonce(self, nonce: str) -> CandidateLink | None:
        """The link a token names."""
        row = self.conn.execute(
            "SELECT * FROM candidate_links WHERE nonce = ?", (nonce,)
        ).fetchone()
        return _link(row) if row else None

    def for_interview(self, interview_id: int) -> list[CandidateLink]:
        """An interview's links, newest first."""
        rows = self.conn.execute(
            "SELECT * FROM candidate_links WHERE interview_id = ? ORDER BY id DESC", (interview_id,)
        )
        return [_link(row) for row in rows]

    def revoke(self, link_id: int) -> None:
        """Make a link unusable."""
        self.conn.execute(
            "UPDATE candidate_links SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
            (now_stamp(), link_id),
        )

    def touch(self, link_id: int) -> None:
        """Note the link was used now."""
        self.conn.execute(
            "UPDATE candidate_links SET last_used_at = ? WHERE id = ?", (now_stamp(), link_id)
        )
