"""Numbered schema migrations, applied only by the explicit `migrate` command, backup first."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from appliance.platform.clock import now_stamp
from appliance.platform.errors import MigrationRequiredError
from appliance.store.db import Connection, Database, checkpoint, transaction

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL script."""

    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """Every migration shipped with the code, in order."""
    found = []
    for entry in resources.files("appliance.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration numbers must run 1..N without gaps, found {versions}")
    return found


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 for an empty one)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def pending(conn: Connection) -> list[Migration]:
    """Migrations not yet applied."""
    version = current_version(conn)
    return [migration for migration in available_migrations() if migration.version > version]


def require_current(conn: Connection) -> None:
    """Refuse to run against a schema older (or newer) than the code."""
    version, latest = current_version(conn), len(available_migrations())
    if version < latest:
        raise MigrationRequiredError(
            f"the database schema is at version {version}, the code needs {latest}: "
            "run `python -m appliance migrate` (a backup is taken first)"
        )
    if version > latest:
        raise MigrationRequiredError(
            f"the database schema (version {version}) is newer than this code ({latest})"
        )


def backup(database: Database, conn: Connection, key: bytes, folder: Path, label: str) -> Path:
    """An encrypted copy of the database in `folder`, named by time and schema version."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now_stamp().replace(":", "").replace("-", "")
    target = folder / f"appliance-{stamp}-v{current_version(conn)}-{label}.db"
    checkpoint(conn)
    database.export_to(conn, target, key)
    return target


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; return what was deleted."""
    backups = sorted(folder.glob("appliance-*.db"))
    doomed = backups[:-keep] if len(backups) > keep else []
    for path in doomed:
        path.unlink()
    return doomed


def apply(
    database: Database, conn: Connection, key: bytes, backups: Path, keep: int
) -> tuple[list[Migration], Path | None]:
    """Apply pending migrations, each in its own transaction, after a backup of a non-empty DB."""
    todo = pending(conn)
    if not todo:
        return [], None
    taken = None
    if current_version(conn) > 0:
        taken = backup(database, conn, key, backups, "pre-migrate")
        logger.info("backup taken before migrating: %s", taken.name)
    for migration in todo:
        with transaction(conn):
            # executescript would commit on its own; run statements one by one in our transaction.
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")
        logger.info("applied migration %04d_%s", migration.version, migration.name)
    if taken is not None:
        prune_backups(backups, keep)
    return todo, taken


def _statements(sql: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies (BEGIN … END;) whole."""
    statements: list[str] = []
    current: list[str] = []
    depth = 0
    for line in sql.splitlines():
        stripped = line.split("--", 1)[0].strip()
        if not stripped and not current:
            continue
        current.append(line)
        upper = stripped.upper()
        if upper.startswith("CREATE TRIGGER"):
            depth = 1
        if depth and upper.endswith("END;"):
            depth = 0
        if not depth and stripped.endswith(";"):
            statements.append("\n".join(current))
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current))
    return statements
