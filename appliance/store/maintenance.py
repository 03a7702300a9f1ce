"""Keeping the encrypted databases small: WAL checkpoints, incremental vacuum, and the figures
an operator sees on the status page (database, WAL and spool sizes, space waiting for reuse).

Pieces of uploads pass through the database and are deleted (with `secure_delete`): without
this the file kept every page it ever used and the WAL only shrank at erasure or migration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.store.db import Connection

# Freed pages given back to the file system per chore run and database (4 KiB pages: 64 MiB):
# small steps, so the write lock is held for moments, not minutes.
VACUUM_PAGES_PER_RUN = 16_384
INCREMENTAL = 2  # PRAGMA auto_vacuum value


def _scalar(conn: Connection, pragma: str) -> int:
    row = conn.execute(f"PRAGMA {pragma}").fetchone()
    return int(row[0]) if row else 0


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def database_figures(conn: Connection, path: Path) -> dict[str, Any]:
    """File, WAL and reusable sizes of one database (bytes), and its vacuum mode."""
    page = _scalar(conn, "page_size")
    return {
        "file_bytes": _size(path),
        "wal_bytes": _size(path.with_name(path.name + "-wal")),
        "free_bytes": _scalar(conn, "freelist_count") * page,
        "incremental_vacuum": _scalar(conn, "auto_vacuum") == INCREMENTAL,
    }


def folder_bytes(folder: Path) -> int:
    """Bytes of the files in a folder tree."""
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def tidy(conn: Connection) -> dict[str, int]:
    """Checkpoint and truncate the WAL; give freed pages back where the database allows it."""
    freed = 0
    if _scalar(conn, "auto_vacuum") == INCREMENTAL:
        before = _scalar(conn, "freelist_count")
        conn.execute(f"PRAGMA incremental_vacuum({VACUUM_PAGES_PER_RUN})").fetchall()
        freed = before - _scalar(conn, "freelist_count")
    busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return {"pages_freed": freed, "checkpoint_blocked": int(busy)}


def compact(conn: Connection) -> None:
    """Switch a database to incremental vacuum and rewrite it without free pages (VACUUM takes
    the write lock for its whole run: an operator's maintenance step, `appliance compact`)."""
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
