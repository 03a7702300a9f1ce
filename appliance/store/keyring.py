"""The appliance's key set (database key, vault key): generated once, kept only sealed on disk."""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.platform.errors import NotProvisionedError, PassphraseError, WrongKeyError
from appliance.platform.paths import DataPaths
from appliance.security.sealing import SEALER_KINDS, KeySealer, envelope_kind
from appliance.store.db import KEY_BYTES, Database

logger = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class Keyset:
    """The raw keys of one appliance; repr never shows them."""

    db: bytes
    vault: bytes
    # The device's Ed25519 signing key (32-byte seed): signs audit checkpoints and exports.
    # Empty in envelopes sealed before it existed; `unlock` adds one and reseals.
    device: bytes = b""

    @classmethod
    def generate(cls) -> Keyset:
        """Fresh random 256-bit keys."""
        return cls(
            db=secrets.token_bytes(KEY_BYTES),
            vault=secrets.token_bytes(KEY_BYTES),
            device=secrets.token_bytes(KEY_BYTES),
        )

    def with_new_db_key(self) -> Keyset:
        """The same vault and device keys with a fresh database key (for a database rekey)."""
        return Keyset(db=secrets.token_bytes(KEY_BYTES), vault=self.vault, device=self.device)

    def with_device_key(self) -> Keyset:
        """This key set with a new device signing key."""
        return Keyset(db=self.db, vault=self.vault, device=secrets.token_bytes(KEY_BYTES))

    def to_secret(self) -> bytes:
        """Serialise for sealing."""
        return json.dumps(
            {"db": self.db.hex(), "vault": self.vault.hex(), "device": self.device.hex()}
        ).encode()

    @classmethod
    def from_secret(cls, secret: bytes) -> Keyset:
        """Parse what `to_secret` produced."""
        try:
            data = json.loads(secret)
            keyset = cls(
                db=bytes.fromhex(data["db"]),
                vault=bytes.fromhex(data["vault"]),
                device=bytes.fromhex(data.get("device", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PassphraseError("the sealed key set is malformed") from exc
        if len(keyset.db) != KEY_BYTES or len(keyset.vault) != KEY_BYTES:
            raise PassphraseError("the sealed key set has keys of the wrong length")
        if keyset.device and len(keyset.device) != KEY_BYTES:
            raise PassphraseError("the sealed key set has a device key of the wrong length")
        return keyset

    def __repr__(self) -> str:
        return "Keyset(<sealed>)"


def write_envelope(path: Path, envelope: dict[str, Any]) -> None:
    """Write a sealed envelope atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(envelope, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_envelope(path: Path) -> dict[str, Any]:
    """Read a sealed envelope from disk."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotProvisionedError(
            f"no sealed key at {path}: provision the appliance first"
        ) from None
    except ValueError:
        raise PassphraseError(f"the sealed key file {path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise PassphraseError(f"the sealed key file {path} is not an envelope")
    return data


def unseal(path: Path, sealer: KeySealer) -> Keyset:
    """Open a sealed key set with the sealer its envelope names."""
    envelope = read_envelope(path)
    kind = envelope_kind(envelope)
    if not isinstance(sealer, SEALER_KINDS[kind]):
        raise PassphraseError(f"the key is sealed by `{kind}`, not `{sealer.kind}`")
    return Keyset.from_secret(sealer.unseal(envelope))


def unlock(paths: DataPaths, sealer: KeySealer) -> Keyset:
    """The key set that opens this appliance's database, finishing an interrupted rekey."""
    keyset = _unlock(paths, sealer)
    if not keyset.device:
        # Sealed before devices had signing keys: add one, sealed like the rest.
        keyset = keyset.with_device_key()
        write_envelope(paths.sealed_db_key, sealer.seal(keyset.to_secret()))
        logger.warning("added a device signing key to the sealed key set")
    write_device_public_key(paths, keyset)
    return keyset


def device_public_key(keyset: Keyset) -> bytes:
    """The raw 32-byte Ed25519 public key of the device."""
    private = Ed25519PrivateKey.from_private_bytes(keyset.device)
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def write_device_public_key(paths: DataPaths, keyset: Keyset) -> None:
    """Publish the device's public key (PEM) beside the sealed keys, for verifiers."""
    pem = (
        Ed25519PrivateKey.from_private_bytes(keyset.device)
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    if not paths.device_public_key.exists() or paths.device_public_key.read_bytes() != pem:
        paths.keys.mkdir(parents=True, exist_ok=True)
        paths.device_public_key.write_bytes(pem)


def _unlock(paths: DataPaths, sealer: KeySealer) -> Keyset:
    keyset = unseal(paths.sealed_db_key, sealer)
    if not paths.pending_db_key.exists():
        return keyset
    # A rekey wrote the pending key first; whichever key opens the database is the live one.
    try:
        Database.open(paths.database, keyset.db)
    except WrongKeyError:
        pending = unseal(paths.pending_db_key, sealer)
        Database.open(paths.database, pending.db)
        os.replace(paths.pending_db_key, paths.sealed_db_key)
        _fsync_dir(paths.keys)
        logger.warning("completed an interrupted database rekey")
        return pending
    paths.pending_db_key.unlink()
    logger.warning("discarded the key of a rekey that did not complete")
    return keyset
