"""The append-only audit log: each entry carries the hash of the one before it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.store.base import Repository, dumps, limit_clause, loads

GENESIS = "0" * 64
ROWS_A_STATEMENT = 500  # 3 500 parameters, far under SQLite's limit


@dataclass(frozen=True)
class AuditEntry:
    """One audit event. `subject` holds pseudonymous ids only, never names."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass
class PendingEntry:
    """The subject and details of an audit entry still to be written (see `Store.audited`)."""

    subject: str | None
    details: dict[str, Any] = field(default_factory=dict)


def entry_hash(
    prev_hash: str, at: str, actor: str, action: str, subject: str | None, details_json: str
) -> str:
    """The chained SHA-256 of an entry's content and its predecessor's hash."""
    material = dumps([prev_hash, at, actor, action, subject, details_json])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewEntry:
    """An audit entry to append: who did what to which pseudonymous subject."""

    actor: str
    action: str
    subject: str | None
    details: dict[str, Any] = field(default_factory=dict)


class AuditRepository(Repository):
    """Append and read audit entries."""

    def append(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Add an entry; call inside the transaction of the change it records."""
        details_json = dumps(details or {})
        prev_hash = self._last_hash()
        at = now_stamp()
        digest = entry_hash(prev_hash, at, actor, action, subject, details_json)
        cursor = self.conn.execute(
            "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (at, actor, action, subject, details_json, prev_hash, digest),
        )
        return AuditEntry(
            int(cursor.lastrowid), at, actor, action, subject, details or {}, prev_hash, digest
        )

    def append_many(self, entries: list[NewEntry]) -> None:
        """Add entries in order, chained as `append` would one by one (inside a transaction)."""
        if not entries:
            return
        prev_hash = self._last_hash()
        at = now_stamp()
        rows = []
        for entry in entries:
            actor, action, subject = entry.actor, entry.action, entry.subject
            details_json = dumps(entry.details)
            digest = entry_hash(prev_hash, at, actor, action, subject, details_json)
            rows.append((at, actor, action, subject, details_json, prev_hash, digest))
            prev_hash = digest
        # Few statements: each one gives up and takes back the interpreter lock (other threads
        # render pages meanwhile), and the write lock is held all that time.
        for start in range(0, len(rows), ROWS_A_STATEMENT):
            part = rows[start : start + ROWS_A_STATEMENT]
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(part))
            self.conn.execute(
                "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash) "
                f"VALUES {values}",
                [value for row in part for value in row],
            )

    def _last_hash(self) -> str:
        row = self.conn.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return str(row["hash"]) if row else GENESIS

    def entries(self, *, action: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """Entries in order, optionally of one action."""
        sql = "SELECT * FROM audit_log"
        params: tuple[Any, ...] = ()
        if action:
            sql += " WHERE action = ?"
            params = (action,)
        rows = self.conn.execute(f"{sql} ORDER BY seq {limit_clause(limit)}", params).fetchall()
        return [
            AuditEntry(
                row["seq"],
                row["at"],
                row["actor"],
                row["action"],
                row["subject"],
                loads(row["details"]),
                row["prev_hash"],
                row["hash"],
            )
            for row in rows
        ]

    def first_broken_link(self) -> int | None:
        """The seq of the first entry whose hash or link does not verify (None: chain intact)."""
        prev_hash = GENESIS
        for row in self.conn.execute("SELECT * FROM audit_log ORDER BY seq"):
            expected = entry_hash(
                prev_hash, row["at"], row["actor"], row["action"], row["subject"], row["details"]
            )
            if row["prev_hash"] != prev_hash or row["hash"] != expected:
                return int(row["seq"])
            prev_hash = row["hash"]
        return None
