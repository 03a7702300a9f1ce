"""A store as an older release left it, for testing one migration over existing rows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.store import migrate
from appliance.store.db import Connection, Database
from appliance.store.migrate import Migration, apply, available_migrations

NOW = "2026-01-05T10:00:00.000000Z"


@dataclass
class OldStore:
    """A store at the schema version before `next`, with one interview in it."""

    database: Database
    conn: Connection
    key: bytes
    shipped: list[Migration]
    backups: Path

    def migrate_to(self, version: int, monkeypatch: pytest.MonkeyPatch) -> list[Migration]:
        """Apply the shipped migrations up to `version`; the ones applied."""
        monkeypatch.setattr(migrate, "available_migrations", lambda: self.shipped[:version])
        applied, _backup = apply(self.database, self.conn, self.key, self.backups, keep=2)
        return applied


def store_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: int) -> OldStore:
    """A new store migrated to `version - 1`, holding a requisition, a candidate and their
    interview (ids 1), so that migration `version` runs over existing rows."""
    shipped = available_migrations()
    key = os.urandom(32)
    database = Database.create(tmp_path / "old.db", key, memory_security=False)
    old = OldStore(database, database.connect(), key, shipped, tmp_path / "backups")
    old.migrate_to(version - 1, monkeypatch)
    old.conn.execute(
        "INSERT INTO requisitions (title, department, location, region, created_at, updated_at)"
        " VALUES ('Backend', 'Eng', 'Berlin', 'EU', ?, ?)",
        (NOW, NOW),
    )
    old.conn.execute(
        "INSERT INTO candidates (pseudonym, full_name, created_at, updated_at)"
        " VALUES ('c-1', 'sealed', ?, ?)",
        (NOW, NOW),
    )
    old.conn.execute(
        "INSERT INTO interviews (candidate_id, requisition_id, kind, created_at, updated_at)"
        " VALUES (1, 1, 'upload', ?, ?)",
        (NOW, NOW),
    )
    return old
