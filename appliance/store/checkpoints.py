"""Signed checkpoints of the audit log, and the log's rows exactly as stored (for verifiers)."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.store.base import Repository
from appliance.store.db import Row


@dataclass(frozen=True)
class ChainEntry:
    """One audit-log row as stored: `details` is the exact JSON text the hash covers."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str | None
    details: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the log held `entry_count` entries up to `seq`, ending in `hash`."""

    id: int
    seq: int
    hash: str
    entry_count: int
    created_at: str
    signature: str  # Ed25519, hex
    key_fingerprint: str  # SHA-256 of the raw public key, hex


@dataclass(frozen=True)
class LogHead:
    """The newest entry of the log and how many entries it holds."""

    seq: int
    hash: str
    entry_count: int


def _entry(row: Row) -> ChainEntry:
    return ChainEntry(
        int(row["seq"]),
        row["at"],
        row["actor"],
        row["action"],
        row["subject"],
        row["details"],
        row["prev_hash"],
        row["hash"],
    )


def _checkpoint(row: Row) -> Checkpoint:
    return Checkpoint(
        int(row["id"]),
        int(row["seq"]),
        row["hash"],
        int(row["entry_count"]),
        row["created_at"],
        row["signature"],
        row["key_fingerprint"],
    )


class CheckpointRepository(Repository):
    """Append and read checkpoints; read the raw chain they cover."""

    def add(
        self,
        *,
        seq: int,
        hash: str,
        entry_count: int,
        created_at: str,
        signature: str,
        key_fingerprint: str,
    ) -> Checkpoint:
        """Record a signed checkpoint; call inside a transaction."""
        cursor = self.conn.execute(
            "INSERT INTO audit_checkpoints "
            "(seq, hash, entry_count, created_at, signature, key_fingerprint) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (seq, hash, entry_count, created_at, signature, key_fingerprint),
        )
        return Checkpoint(
            int(cursor.lastrowid), seq, hash, entry_count, created_at, signature, key_fingerprint
        )

    def all(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        rows = self.conn.execute("SELECT * FROM audit_checkpoints ORDER BY seq, id").fetchall()
        return [_checkpoint(row) for row in rows]

    def latest(self) -> Checkpoint | None:
        """The checkpoint covering the most entries, if any."""
        row = self.conn.execute(
            "SELECT * FROM audit_checkpoints ORDER BY seq DESC, id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _checkpoint(row)

    def head(self) -> LogHead | None:
        """The newest audit entry and the number of entries (None: the log is empty)."""
        row = self.conn.execute(
            "SELECT seq, hash, (SELECT count(*) FROM audit_log) AS n "
            "FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else LogHead(int(row["seq"]), row["hash"], int(row["n"]))

    def entries_after(self, seq: int) -> int:
        """How many audit entries have a seq above `seq`."""
        row = self.conn.execute("SELECT count(*) FROM audit_log WHERE seq > ?", (seq,)).fetchone()
        return int(row[0])

    def chain(self) -> list[ChainEntry]:
        """Every audit entry exactly as stored, in seq order."""
        rows = self.conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        return [_entry(row) for row in rows]
