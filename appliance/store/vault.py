"""The key vault: one data key per candidate, in its own encrypted database.

The vault is never copied into the pre-migration database backups, so destroying a candidate's
key here makes every copy of their encrypted recordings and sealed fields unreadable
(crypto-shredding). A full backup (`backup create`) must hold the vault to be restorable: a
restore re-applies the erasures made after it from the erasure ledger (appliance/backup/).
"""

from __future__ import annotations

import secrets

from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store.base import Repository
from appliance.store.db import KEY_BYTES, Connection, transaction

VAULT_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS candidate_keys ("
    " pseudonym TEXT PRIMARY KEY,"
    " data_key BLOB NOT NULL CHECK (length(data_key) = 32),"
    " created_at TEXT NOT NULL)"
)


def init_vault(conn: Connection) -> None:
    """Create the vault's table."""
    conn.execute(VAULT_SCHEMA)


class VaultRepository(Repository):
    """Per-candidate data keys."""

    @property
    def vconn(self) -> Connection:
        """This thread's vault connection."""
        return self._store.vault_conn

    def create_key(self, pseudonym: str) -> bytes:
        """Generate and keep a new data key for a candidate."""
        key = secrets.token_bytes(KEY_BYTES)
        with transaction(self.vconn):
            self.vconn.execute(
                "INSERT INTO candidate_keys (pseudonym, data_key, created_at) VALUES (?, ?, ?)",
                (pseudonym, key, now_stamp()),
            )
        return key

    def key_for(self, pseudonym: str) -> bytes:
        """A candidate's data key; NotFoundError once shredded."""
        row = self.vconn.execute(
            "SELECT data_key FROM candidate_keys WHERE pseudonym = ?", (pseudonym,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no data key for candidate {pseudonym} (erased?)")
        return bytes(row["data_key"])

    def shred(self, pseudonym: str) -> bool:
        """Destroy a candidate's data key (secure_delete zeroes the freed page)."""
        with transaction(self.vconn):
            cursor = self.vconn.execute(
                "DELETE FROM candidate_keys WHERE pseudonym = ?", (pseudonym,)
            )
        return bool(cursor.rowcount)
