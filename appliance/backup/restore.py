"""Restoring a backup into a fresh data directory, never over an appliance.

The backup is verified first (files, signature, passphrase, both databases), then copied into
a hidden staging folder beside the target and checked again there; erasures the ledger lists
that the backup predates are re-applied with the real erasure code (the backup still holds
those candidates' keys); only then is the staging folder renamed to the data directory. An
interrupted restore leaves a hidden folder, never a data directory that looks complete.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from appliance.backup.files import (
    CONFIG,
    BackupError,
    Manifest,
    copy_hashed,
    fsync_dir,
    private_dir,
    public_key_of,
)
from appliance.backup.ledger import LEDGER, Ledger, LedgerEntry, read_ledger
from appliance.backup.verify import refuse, verify_backup
from appliance.media.spool import Spool
from appliance.platform.errors import AlreadyProvisionedError, NotFoundError
from appliance.platform.paths import DataPaths
from appliance.privacy.erasure import LegalHoldError, erase_on_restore
from appliance.security.sealing import KeySealer
from appliance.store import Store
from appliance.store.data_requests import DataRequestRepository
from appliance.store.db import Database, checkpoint, integrity_problems
from appliance.store.erasures import ErasureRepository
from appliance.store.keyring import Keyset, write_device_public_key
from appliance.store.migrate import apply, available_migrations, current_version

logger = logging.getLogger(__name__)

ACTOR = "backup-restore"


@dataclass
class Restored:
    """What a restore did, and what it leaves to the operator."""

    data_dir: Path
    manifest: Manifest
    ledger: Ledger | None
    ledger_path: Path
    reapplied: list[str] = field(default_factory=list)  # pseudonyms erased again
    held: list[str] = field(default_factory=list)  # pseudonyms a hold in the backup kept
    migrated_to: int | None = None


def _check_target(data_dir: Path) -> None:
    if not data_dir.exists():
        return
    paths = DataPaths(data_dir)
    if paths.config.exists() or paths.sealed_db_key.exists() or paths.database.exists():
        raise AlreadyProvisionedError(
            f"{data_dir} holds an appliance: a backup is restored into a new, empty folder only"
        )
    if not data_dir.is_dir() or any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not an empty folder: restore into a new one")


def _copy_checked(backup: Path, manifest: Manifest, staging: Path) -> None:
    for folder in DataPaths(staging).private_dirs():
        private_dir(folder)
    problems = []
    for entry in manifest.files:
        target = staging / entry.path
        size, digest = copy_hashed(backup / entry.path, target)
        # Checked again on the copy: the backup may have changed since it was verified.
        if (size, digest) != (entry.size, entry.sha256):
            problems.append(f"{entry.path} changed while it was restored")
    if problems:
        raise refuse(backup, problems)


def _point_config(staging: Path, data_dir: Path) -> None:
    # The backup's settings (the checked copy), pointed at the new data directory: the first
    # line is the data_dir that render_config wrote. JSON string escapes are valid TOML.
    target = DataPaths(staging).config
    lines = target.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0].startswith("data_dir = "):
        raise BackupError(f"the backup's {CONFIG} does not start with its data_dir")
    lines[0] = f"data_dir = {json.dumps(data_dir.as_posix())}"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(target, 0o600)


def _bring_schema_up(paths: DataPaths, keyset: Keyset) -> int | None:
    database = Database.open(paths.database, keyset.db)
    conn = database.connect()
    try:
        version, latest = current_version(conn), len(available_migrations())
        if version > latest:
            raise BackupError(
                f"the backup's schema (version {version}) is newer than this code ({latest}): "
                "restore it with the appliance version that made it"
            )
        if version == latest:
            return None
        # As `migrate` does, with its own encrypted copy first (kept in the new backups/).
        apply(database, conn, keyset.db, paths.backups, 10)
        return current_version(conn)
    finally:
        conn.close()


def _ledger(path: Path, keyset: Keyset, explicit: bool) -> Ledger | None:
    if not path.exists():
        if explicit:
            raise BackupError(f"no erasure ledger at {path}")
        return None
    return read_ledger(path, public_key_of(keyset.device))


def _reapply(store: Store, spool: Spool, entry: LedgerEntry, backup: str, result: Restored) -> None:
    erasures = ErasureRepository(store)
    candidate_id = erasures.candidate_with(entry.pseudonym)
    if candidate_id is None:
        return  # created after the backup: nothing of them is in it
    done = erasures.for_candidate(candidate_id)
    if done is not None and done.completed_at is not None:
        return  # erased before the backup was taken
    request_id = entry.request
    if request_id is not None:
        try:
            if DataRequestRepository(store).get(request_id).candidate_id != candidate_id:
                request_id = None
        except NotFoundError:
            request_id = None  # the request was made after the backup
    reason = (
        f"erased on {entry.erased_at[:10]}, after backup {backup} was taken; "
        "re-applied when it was restored"
    )
    try:
        erase_on_restore(store, spool, candidate_id, reason, request_id=request_id)
    except LegalHoldError:
        result.held.append(entry.pseudonym)
        return
    result.reapplied.append(entry.pseudonym)


def _finish_in(staging: Path, keyset: Keyset, backup: Path, result: Restored) -> None:
    paths = DataPaths(staging)
    write_device_public_key(paths, keyset)
    result.migrated_to = _bring_schema_up(paths, keyset)
    store = Store(
        Database.open(paths.database, keyset.db),
        Database.open(paths.vault, keyset.vault),
        device_key=keyset.device,
    )
    try:
        problems = [f"database: {p}" for p in integrity_problems(store.conn)]
        problems += [f"vault: {p}" for p in integrity_problems(store.vault_conn)]
        if problems:
            raise refuse(backup, problems)
        spool = Spool(paths.spool)
        for entry in result.ledger.entries if result.ledger else ():
            _reapply(store, spool, entry, backup.name, result)
        with store.audited(ACTOR, "backup.restored") as audit:
            audit.details.update(
                backup=backup.name,
                taken_at=result.manifest.created_at,
                reapplied=len(result.reapplied),
                held=len(result.held),
                ledger_written_at=result.ledger.written_at if result.ledger else None,
            )
        # Nothing may stay in a WAL beside the files that move with the rename.
        checkpoint(store.conn)
        checkpoint(store.vault_conn)
    finally:
        store.close()


def restore_backup(
    backup: Path, data_dir: Path, sealer: KeySealer, *, ledger: Path | None = None
) -> Restored:
    """Restore `backup` into the new data directory `data_dir` (empty or not yet there)."""
    data_dir = data_dir.expanduser().absolute()
    _check_target(data_dir)
    verified = verify_backup(backup, sealer)
    ledger_path = ledger or backup.parent / LEDGER
    result = Restored(
        data_dir,
        verified.manifest,
        _ledger(ledger_path, verified.keyset, ledger is not None),
        ledger_path,
    )
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = data_dir.parent / f".{data_dir.name}.restoring-{secrets.token_hex(4)}"
    private_dir(staging)
    try:
        _copy_checked(backup, verified.manifest, staging)
        _point_config(staging, data_dir)
        _finish_in(staging, verified.keyset, backup, result)
        _check_target(data_dir)  # still free: nothing appeared there meanwhile
        if data_dir.exists():
            data_dir.rmdir()
        os.rename(staging, data_dir)
        fsync_dir(data_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result
