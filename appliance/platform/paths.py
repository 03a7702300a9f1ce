"""Every path inside a data directory, defined in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG_NAME = "appliance.toml"


@dataclass(frozen=True)
class DataPaths:
    """The layout of one appliance data directory."""

    root: Path

    @property
    def config(self) -> Path:
        """The appliance's TOML configuration (holds no secrets)."""
        return self.root / CONFIG_NAME

    @property
    def keys(self) -> Path:
        """Folder of sealed key envelopes (never a key in clear)."""
        return self.root / "keys"

    @property
    def sealed_db_key(self) -> Path:
        """The database key, sealed by the configured sealer."""
        return self.keys / "db-key.sealed.json"

    @property
    def device_public_key(self) -> Path:
        """The device's Ed25519 public key (PEM): verifies signed checkpoints and exports."""
        return self.keys / "device.pub.pem"

    @property
    def tls_certificate(self) -> Path:
        """The web UI's TLS certificate (public, PEM)."""
        return self.keys / "tls-cert.pem"

    @property
    def tls_sealed_key(self) -> Path:
        """The web UI's TLS private key, sealed with a key derived from the device key."""
        return self.keys / "tls-key.sealed"

    @property
    def pending_db_key(self) -> Path:
        """A new sealed key written before a rekey, promoted once the database uses it."""
        return self.keys / "db-key.pending.json"

    @property
    def db_dir(self) -> Path:
        """Folder of the encrypted databases."""
        return self.root / "db"

    @property
    def database(self) -> Path:
        """The main encrypted database."""
        return self.db_dir / "appliance.db"

    @property
    def vault(self) -> Path:
        """The key vault: per-candidate data keys, kept out of pre-migration backups (erasure
        shreds); full backups hold it and their restore re-applies later erasures."""
        return self.db_dir / "vault.db"

    @property
    def packs(self) -> Path:
        """Installed model packs (`<name>/` folders with a verified manifest)."""
        return self.root / "packs"

    @property
    def backups(self) -> Path:
        """Encrypted backups taken before migrations and rekeys."""
        return self.root / "backups"

    @property
    def spool(self) -> Path:
        """Encrypted recordings."""
        return self.root / "spool"

    @property
    def tmp(self) -> Path:
        """Private scratch space for the worker, wiped after each job."""
        return self.root / "tmp"

    @property
    def run(self) -> Path:
        """Lock files of running processes."""
        return self.root / "run"

    @property
    def lock(self) -> Path:
        """Shared by serving processes, exclusive for maintenance (migrate, rekey)."""
        return self.run / "appliance.lock"

    def private_dirs(self) -> list[Path]:
        """Folders created with mode 0700 at provisioning."""
        return [self.root, self.keys, self.db_dir, self.backups, self.spool, self.tmp, self.run]
