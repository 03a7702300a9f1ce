"""Taking a backup: both databases exported under their keys, the sealed key set, the spool files
as they are (already encrypted) and a signed manifest, written to a partial folder and renamed
only when complete; then the erasure ledger and the rotation.

Consistency: the main database is exported first, the vault second. The appliance writes a new
candidate's key before their row and shreds a key before it finishes the tombstone, so the
vault copy holds every key the main copy needs; an erasure that ran between the two exports
is in the erasure ledger, which `restore` re-applies. Spool files are copied last: one erased
meanwhile is missing from the backup, which the same re-applied erasure accounts for.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import appliance
from appliance.backup.files import (
    CONFIG,
    MANIFEST,
    PARTIAL_PREFIX,
    PREFIX,
    SIGNATURE,
    BackupError,
    FileEntry,
    Manifest,
    complete_backups,
    copy_hashed,
    fsync_dir,
    hash_file,
    private_dir,
    public_key_of,
    sign_manifest,
    write_private,
)
from appliance.backup.ledger import check_owner, sync_ledger
from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig, render_config
from appliance.store import Store
from appliance.store.migrate import current_version

logger = logging.getLogger(__name__)

LOCK = ".backup.lock"


@dataclass(frozen=True)
class Created:
    """A backup just written, and what the rotation deleted."""

    path: Path
    manifest: Manifest
    pruned: list[Path]
    seconds: float


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another backup is being written into {folder}") from None
        yield
    finally:
        os.close(fd)


def _stamp_name() -> str:
    # 2026-01-02T03:04:05.678901Z -> backup-20260102T030405.678901Z: sorts by time.
    return PREFIX + now_stamp().replace("-", "").replace(":", "")


def _spool_files(spool: Path) -> list[Path]:
    # Complete recordings and unfinished resumable uploads; never the lock files.
    if not spool.is_dir():
        return []
    return sorted(
        path
        for path in spool.iterdir()
        if path.name.endswith(".spool") and not path.name.startswith(".lock-") and path.is_file()
    )


def _write_contents(store: Store, config: ApplianceConfig, partial: Path) -> Manifest:
    paths = config.paths
    entries: list[FileEntry] = []

    def add(relative: str, size_and_hash: tuple[int, str]) -> None:
        entries.append(FileEntry(relative, *size_and_hash))

    # The settings in force (environment overrides included); they hold no secret.
    add(CONFIG, write_private(partial / CONFIG, render_config(config).encode()))
    for folder in ("keys", "db", "spool"):
        private_dir(partial / folder)
    schema = current_version(store.conn)
    taken = now_stamp()  # the moment of the copies: what the backup shows
    # Main first, vault second (see the module's docstring).
    for name, database, conn in (
        ("appliance.db", store.database, store.conn),
        ("vault.db", store.vault_database, store.vault_conn),
    ):
        target = partial / "db" / name
        database.export_copy(conn, target)
        add(f"db/{name}", hash_file(target))
    for source in (paths.sealed_db_key, paths.device_public_key):
        if source.exists():
            add(f"keys/{source.name}", copy_hashed(source, partial / "keys" / source.name))
    for source in _spool_files(paths.spool):
        try:
            add(f"spool/{source.name}", copy_hashed(source, partial / "spool" / source.name))
        except FileNotFoundError:
            # Erased, swept or committed under its final name since the listing: not needed.
            (partial / "spool" / source.name).unlink(missing_ok=True)
            logger.info("spool file %s went away during the backup", source.name)
    return Manifest(
        taken,
        appliance.__version__,
        schema,
        public_key_of(store.device_key).hex(),
        tuple(entries),
    )


def create_backup(
    store: Store,
    config: ApplianceConfig,
    folder: Path,
    *,
    keep: int | None = None,
    actor: str = "operator",
) -> Created:
    """Write a complete, signed backup into `folder`; with `keep`, delete all but the newest."""
    if not store.device_key:
        raise BackupError("the appliance has no device signing key yet: unlock it once first")
    if keep is not None and keep < 1:
        raise BackupError("--keep must be at least 1")
    started = time.monotonic()
    if not folder.exists():
        private_dir(folder)
    with _folder_lock(folder):
        check_owner(folder, store.device_key)
        for stale in folder.glob(f"{PARTIAL_PREFIX}*"):
            # We hold the folder's lock: a partial folder is what an interrupted backup left.
            shutil.rmtree(stale, ignore_errors=True)
            logger.warning("removed %s, left by an interrupted backup", stale.name)
        name = _stamp_name()
        while (folder / name).exists():
            name = f"{_stamp_name()}-{secrets.token_hex(2)}"
        partial = private_dir(folder / f"{PARTIAL_PREFIX}{name}")
        try:
            manifest = _write_contents(store, config, partial)
            raw = manifest.to_bytes()
            write_private(partial / MANIFEST, raw)
            write_private(partial / SIGNATURE, sign_manifest(store.device_key, raw).hex().encode())
            for sub in ("keys", "db", "spool", "."):
                fsync_dir(partial / sub)
            # The rename is what makes it a backup: an interruption before it leaves a partial.
            os.rename(partial, folder / name)
            fsync_dir(folder)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        sync_ledger(store, folder)
        pruned = prune(folder, keep) if keep is not None else []
    seconds = time.monotonic() - started
    with store.audited(actor, "backup.created") as entry:
        entry.details.update(
            backup=name,
            files=len(manifest.files),
            bytes=manifest.total_bytes,
            pruned=[path.name for path in pruned],
        )
    logger.info("backup %s written (%d files, %.1f s)", name, len(manifest.files), seconds)
    return Created(folder / name, manifest, pruned, seconds)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete backups in `folder`; return what went."""
    backups = complete_backups(folder)
    doomed = backups[:-keep] if len(backups) > keep else []
    for path in doomed:
        shutil.rmtree(path)
    if doomed:
        fsync_dir(folder)
    return doomed
