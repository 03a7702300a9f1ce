"""Re-keying: a new operator passphrase, and rotation of the database key itself."""

from __future__ import annotations

import logging
import os

from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import DatabaseDamagedError
from appliance.platform.locks import exclusive_lock
from appliance.security.sealing import KeySealer
from appliance.store import Store
from appliance.store.db import Database, checkpoint, integrity_problems
from appliance.store.keyring import unlock, write_envelope

logger = logging.getLogger(__name__)


def _audit(
    config: ApplianceConfig,
    database: Database,
    vault: Database,
    action: str,
    details: dict[str, str],
) -> None:
    store = Store(database, vault)
    try:
        with store.transaction():
            store.audit.append("operator", action, details=details)
    finally:
        store.close()


def change_passphrase(config: ApplianceConfig, old: KeySealer, new: KeySealer) -> None:
    """Seal the same keys under a new passphrase (an atomic replace of the envelope)."""
    paths = config.paths
    with exclusive_lock(paths.lock):
        keyset = unlock(paths, old)
        write_envelope(paths.sealed_db_key, new.seal(keyset.to_secret()))
        database = Database.open(paths.database, keyset.db)
        vault = Database.open(paths.vault, keyset.vault)
        _audit(config, database, vault, "keys.passphrase_changed", {"sealer": new.kind})
    logger.info("the key set is now sealed under the new passphrase")


def rotate_database_key(config: ApplianceConfig, old: KeySealer, new: KeySealer) -> str:
    """Re-encrypt the main database under a fresh key; the old file is kept as a backup.

    Order matters for a crash at any point: the new copy is written and verified, the new
    key is sealed as *pending*, the old file is kept by a hard link, the new file replaces
    the old atomically, and only then does the pending key become current. On open, the
    keyring tries the pending key when the current one does not fit (see keyring.unlock).
    """
    paths = config.paths
    with exclusive_lock(paths.lock):
        keyset = unlock(paths, old)
        fresh = keyset.with_new_db_key()
        database = Database.open(paths.database, keyset.db)
        stamp = now_stamp().replace(":", "").replace("-", "")
        staged = paths.db_dir / "appliance.db.rekey"
        staged.unlink(missing_ok=True)
        conn = database.connect()
        try:
            checkpoint(conn)
            database.export_to(conn, staged, fresh.db)
        finally:
            conn.close()
        check = Database.open(staged, fresh.db).connect()
        try:
            problems = integrity_problems(check)
        finally:
            check.close()
        if problems:
            staged.unlink()
            raise DatabaseDamagedError(f"the re-encrypted copy failed its check: {problems[:3]}")
        write_envelope(paths.pending_db_key, new.seal(fresh.to_secret()))
        paths.backups.mkdir(mode=0o700, exist_ok=True)
        kept = paths.backups / f"pre-rekey-{stamp}.db"
        os.link(paths.database, kept)
        write_envelope(paths.backups / f"pre-rekey-{stamp}.key.json", new.seal(keyset.to_secret()))
        for leftover in (
            paths.database.with_name("appliance.db-wal"),
            paths.database.with_name("appliance.db-shm"),
        ):
            leftover.unlink(missing_ok=True)
        os.replace(staged, paths.database)
        os.replace(paths.pending_db_key, paths.sealed_db_key)
        new_database = Database.open(paths.database, fresh.db)
        vault = Database.open(paths.vault, fresh.vault)
        _audit(config, new_database, vault, "keys.database_key_rotated", {"backup": kept.name})
    logger.info("database key rotated; previous file kept as %s", kept.name)
    return kept.name
