"""The encrypted store's connection layer: the only module that imports sqlcipher3.

Every connection is SQLCipher 4 keyed with a raw 256-bit key; a plain SQLite file, a
wrong key or a damaged file is refused with its own error and is never opened unencrypted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlcipher3

from appliance.platform.errors import (
    DatabaseDamagedError,
    NotEncryptedError,
    NotProvisionedError,
    WrongKeyError,
)
from appliance.store.writer_gate import WriterGate, gate_for

logger = logging.getLogger(__name__)

KEY_BYTES = 32
PAGE_SIZE = 4096  # SQLCipher 4 default; a file whose size is not a multiple of it is truncated
PLAIN_SQLITE_HEADER = b"SQLite format 3\x00"

Connection = Any  # sqlcipher3 ships no type information
Row = sqlcipher3.Row
IntegrityError = sqlcipher3.IntegrityError
OperationalError = sqlcipher3.OperationalError
DatabaseError = sqlcipher3.DatabaseError


def _key_pragma(key: bytes) -> str:
    if len(key) != KEY_BYTES:
        raise ValueError("the database key must be 32 bytes")
    # A raw key in x'..' form skips SQLCipher's PBKDF2: the key is already random.
    return f"PRAGMA key = \"x'{key.hex()}'\""


def inspect_file(path: Path) -> None:
    """Refuse a file that is plain SQLite or visibly truncated, before any key is tried."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise NotProvisionedError(f"no database at {path}: provision the appliance first") from exc
    if size == 0:
        raise DatabaseDamagedError(f"the database file {path} is empty (0 bytes)")
    with open(path, "rb") as handle:
        header = handle.read(len(PLAIN_SQLITE_HEADER))
    if header == PLAIN_SQLITE_HEADER:
        raise NotEncryptedError(
            f"{path} is a plain, unencrypted SQLite file; the appliance only opens "
            "SQLCipher databases and will not use or convert it"
        )
    if size % PAGE_SIZE:
        raise DatabaseDamagedError(
            f"the database file {path} is truncated ({size} bytes is not a whole number of "
            f"{PAGE_SIZE}-byte pages); restore it from a backup"
        )


def _classify(exc: Exception, path: Path) -> Exception:
    message = str(exc)
    if "file is not a database" in message:
        return WrongKeyError(
            f"the key does not open {path} (wrong key, or the file's first page is damaged)"
        )
    if "malformed" in message or "disk image" in message:
        return DatabaseDamagedError(
            f"the database {path} is damaged or truncated ({message}); restore it from a backup"
        )
    return exc


class GatedConnection(sqlcipher3.Connection):  # type: ignore[misc]
    """A connection that knows its file's writers' gate (see `writer_gate`)."""

    writer_gate: WriterGate | None = None


class Database:
    """One SQLCipher database file and the key that opens it."""

    def __init__(
        self, path: Path, key: bytes, *, busy_timeout_ms: int = 15_000, memory_security: bool = True
    ) -> None:
        self.path = path
        self._key_pragma = _key_pragma(key)
        self._key = key  # kept for `export_copy`: a backup is written under the same key
        self.busy_timeout_ms = busy_timeout_ms
        self.memory_security = memory_security

    @classmethod
    def create(
        cls, path: Path, key: bytes, *, busy_timeout_ms: int = 15_000, memory_security: bool = True
    ) -> Database:
        """Create a new, empty encrypted database file (refuses to overwrite one)."""
        if path.exists():
            raise FileExistsError(f"{path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        database = cls(path, key, busy_timeout_ms=busy_timeout_ms, memory_security=memory_security)
        conn = database._raw_connect()
        try:
            # Writing the schema version forces SQLCipher to write an encrypted first page now.
            conn.execute("PRAGMA user_version = 0")
            conn.execute("CREATE TABLE IF NOT EXISTS _created (at TEXT)")
            conn.execute("DROP TABLE _created")
        finally:
            conn.close()
        os.chmod(path, 0o600)
        return database

    @classmethod
    def open(
        cls, path: Path, key: bytes, *, busy_timeout_ms: int = 15_000, memory_security: bool = True
    ) -> Database:
        """Open an existing encrypted database, checking the file and the key."""
        inspect_file(path)
        database = cls(path, key, busy_timeout_ms=busy_timeout_ms, memory_security=memory_security)
        database.connect().close()
        return database

    def _raw_connect(self) -> Connection:
        conn = sqlcipher3.connect(
            str(self.path),
            isolation_level=None,  # explicit BEGIN/COMMIT only
            timeout=self.busy_timeout_ms / 1000,
            check_same_thread=True,
            factory=GatedConnection,
        )
        conn.writer_gate = gate_for(self.path, self.busy_timeout_ms / 1000)
        try:
            # SQLCipher's own stderr log would repeat every failed page check; we report instead.
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(self._key_pragma)
            if self.memory_security:
                # Locks and wipes SQLite's memory. Process-wide: once on, every later
                # connection pays for it too (it dominates the cost of write-heavy batches).
                conn.execute("PRAGMA cipher_memory_security = ON")
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if not tables:
                # A new database gives freed pages back bit by bit (store.maintenance); the
                # mode can only be chosen before the first table (later: `appliance compact`).
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            version = conn.execute("PRAGMA cipher_version").fetchone()
            if not version or not str(version[0]).startswith("4."):
                raise DatabaseDamagedError("SQLCipher 4 is required; this build reports otherwise")
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise DatabaseDamagedError(f"could not switch {self.path} to WAL (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlcipher3.DatabaseError as exc:
            conn.close()
            raise _classify(exc, self.path) from None
        except BaseException:
            conn.close()
            raise
        conn.row_factory = sqlcipher3.Row
        return conn

    def connect(self) -> Connection:
        """A new connection with the appliance's pragmas applied."""
        inspect_file(self.path)
        return self._raw_connect()

    def export_to(self, conn: Connection, target: Path, key: bytes) -> None:
        """Write a consistent encrypted copy of the database to `target` under `key`."""
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        conn.execute(f"ATTACH DATABASE ? AS export_target KEY \"x'{key.hex()}'\"", (str(target),))
        try:
            # One transaction: one snapshot of the source, and one sync of the copy instead of
            # one per table (twenty times faster on a small database).
            with transaction(conn, immediate=False):
                conn.execute("SELECT sqlcipher_export('export_target')")
                version = conn.execute("PRAGMA main.user_version").fetchone()[0]
                conn.execute(f"PRAGMA export_target.user_version = {int(version)}")
        finally:
            conn.execute("DETACH DATABASE export_target")
        os.chmod(target, 0o600)

    def export_copy(self, conn: Connection, target: Path) -> None:
        """Write a consistent encrypted copy of the database to `target` under its own key."""
        self.export_to(conn, target, self._key)


@contextmanager
def transaction(conn: Connection, *, immediate: bool = True) -> Iterator[Connection]:
    """Run a block in one transaction; `immediate` takes the write lock at the start."""
    gate = getattr(conn, "writer_gate", None) if immediate else None
    with gate.passed() if gate is not None else nullcontext():
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def integrity_problems(conn: Connection) -> list[str]:
    """Problems found by SQLCipher's page HMAC check and SQLite's integrity check (empty: sound)."""
    problems = [str(row[0]) for row in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
    result = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
    if result != ["ok"]:
        problems.extend(result)
    return problems


def read_only_check(path: Path, key: bytes) -> tuple[int, list[str]]:
    """Open a database file read-only and unchanged (a backup's copy): its schema version and
    integrity problems. Immutable mode takes no lock and writes no journal beside it."""
    inspect_file(path)
    conn = sqlcipher3.connect(
        f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None
    )
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(_key_pragma(key))
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        return version, integrity_problems(conn)
    except sqlcipher3.DatabaseError as exc:
        raise _classify(exc, path) from None
    finally:
        conn.close()


def checkpoint(conn: Connection) -> None:
    """Fold the WAL into the database file and truncate it."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
