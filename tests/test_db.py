"""The encrypted store refuses what it must: plain SQLite, wrong keys, truncated files."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from appliance.platform.errors import DatabaseDamagedError, NotEncryptedError, WrongKeyError
from appliance.store.db import Database, checkpoint, integrity_problems
from appliance.store.migrate import available_migrations

from .conftest import Appliance


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_is_encrypted_and_pragmas_are_set(appliance: Appliance) -> None:
    database = Database.open(appliance.config.paths.database, appliance.keyset.db)
    conn = database.connect()
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 15000
        assert conn.execute("PRAGMA cipher_memory_security").fetchone()[0] == "1"
        assert conn.execute("PRAGMA cipher_version").fetchone()[0].startswith("4.")
        assert integrity_problems(conn) == []
    finally:
        conn.close()
    for path in (appliance.config.paths.database, appliance.config.paths.vault):
        assert path.read_bytes()[:16] != b"SQLite format 3\x00"
        assert (path.stat().st_mode & 0o777) == 0o600
    # stdlib sqlite cannot read it either
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(appliance.config.paths.database).execute("SELECT * FROM sqlite_master")


def test_wrong_key_is_refused_and_nothing_changes(appliance: Appliance) -> None:
    path = appliance.config.paths.database
    before = _digest(path)
    with pytest.raises(WrongKeyError, match="does not open"):
        Database.open(path, os.urandom(32))
    assert _digest(path) == before


def test_plain_sqlite_file_is_refused_never_used(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE t (x)")
    plain.commit()
    plain.close()
    before = _digest(path)
    with pytest.raises(NotEncryptedError, match="plain, unencrypted SQLite"):
        Database.open(path, os.urandom(32))
    assert _digest(path) == before


def test_truncated_database_is_refused(appliance: Appliance, tmp_path: Path) -> None:
    store = appliance.open_store()
    with store.transaction():
        for i in range(300):
            store.audit.append("test", "filler", details={"i": i, "pad": "x" * 200})
    checkpoint(store.conn)
    store.close()
    source = appliance.config.paths.database
    odd = tmp_path / "odd.db"
    shutil.copy(source, odd)
    with open(odd, "r+b") as handle:
        handle.truncate(source.stat().st_size - 100)
    with pytest.raises(DatabaseDamagedError, match="truncated"):
        Database.open(odd, appliance.keyset.db)
    paged = tmp_path / "paged.db"
    shutil.copy(source, paged)
    with open(paged, "r+b") as handle:
        handle.truncate(source.stat().st_size // 2 // 4096 * 4096)
    before = _digest(paged)
    with pytest.raises(DatabaseDamagedError):
        database = Database.open(paged, appliance.keyset.db)
        conn = database.connect()
        conn.execute("SELECT count(*) FROM audit_log").fetchone()
    assert _digest(paged) == before
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(DatabaseDamagedError, match="empty"):
        Database.open(empty, appliance.keyset.db)


def test_export_copy_is_encrypted_under_its_own_key(appliance: Appliance, tmp_path: Path) -> None:
    database = Database.open(appliance.config.paths.database, appliance.keyset.db)
    conn = database.connect()
    other_key = os.urandom(32)
    try:
        database.export_to(conn, tmp_path / "copy.db", other_key)
    finally:
        conn.close()
    with pytest.raises(WrongKeyError):
        Database.open(tmp_path / "copy.db", appliance.keyset.db)
    copy = Database.open(tmp_path / "copy.db", other_key).connect()
    assert copy.execute("SELECT username FROM users").fetchone()[0] == "admin"
    assert copy.execute("PRAGMA user_version").fetchone()[0] == len(available_migrations())
    copy.close()
