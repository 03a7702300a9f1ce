"""The box's root of trust for updates: the vendor's public keys and how many must sign.

TUF's idea of a root role, kept to what an offline box needs: a file of Ed25519 public keys,
each named by its key id (the SHA-256 of the raw public key, worked out here, never taken
from the file), and a threshold. A bundle counts only valid signatures by distinct trusted
keys: a key that signs twice counts once, an unknown key or a bad signature counts nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from firmware.errors import UpdateRefusedError, UpdateStateError

ROOT_FORMAT = "interview-appliance/update-root"
ROOT_VERSION = 1
MAX_KEYS = 32
MAX_SIGNATURES = 64


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A key's id: the SHA-256 (hex) of its raw public bytes."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """A vendor's Ed25519 private key from an unencrypted PEM file."""
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise UpdateStateError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (or the public half of a private PEM)."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise UpdateStateError(f"{path} is not an Ed25519 public key")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """PEM (PKCS#8, unencrypted) of a private key: the vendor keeps it offline."""
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def public_pem(key: Ed25519PublicKey) -> bytes:
    """PEM (SubjectPublicKeyInfo) of a public key."""
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class TrustRoot:
    """Trusted vendor keys by key id, and the number of distinct ones that must sign."""

    threshold: int
    keys: dict[str, Ed25519PublicKey]
    names: dict[str, str]

    @classmethod
    def build(cls, keys: Iterable[tuple[str, Ed25519PublicKey]], threshold: int) -> TrustRoot:
        """A root from (name, public key) pairs; refuses duplicates and impossible thresholds."""
        found: dict[str, Ed25519PublicKey] = {}
        names: dict[str, str] = {}
        for name, key in keys:
            kid = key_id(key)
            if kid in found:
                raise UpdateStateError(f"the key {name} is listed twice in the trusted keys")
            found[kid], names[kid] = key, name
        if not found or len(found) > MAX_KEYS:
            raise UpdateStateError(f"the trusted keys must list 1 to {MAX_KEYS} keys")
        if not 1 <= threshold <= len(found):
            raise UpdateStateError(
                f"the threshold must be between 1 and the number of keys ({len(found)})"
            )
        return cls(threshold, found, names)

    def to_bytes(self) -> bytes:
        """The trusted-keys file."""
        data = {
            "format": ROOT_FORMAT,
            "version": ROOT_VERSION,
            "threshold": self.threshold,
            "keys": [
                {"keyid": kid, "name": self.names[kid], "public": raw_public(key).hex()}
                for kid, key in sorted(self.keys.items())
            ],
        }
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> TrustRoot:
        """Parse a trusted-keys file; UpdateStateError when it is not one."""
        try:
            data: Any = json.loads(raw)
            if data.get("format") != ROOT_FORMAT or data.get("version") != ROOT_VERSION:
                raise UpdateStateError(f"{where} is not a trusted-keys file (version 1)")
            pairs = []
            for entry in data["keys"]:
                key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(entry["public"])))
                if "keyid" in entry and entry["keyid"] != key_id(key):
                    raise UpdateStateError(f"{where}: a key id does not match its key")
                pairs.append((str(entry.get("name", "")), key))
            threshold = data["threshold"]
            if not isinstance(threshold, int) or isinstance(threshold, bool):
                raise UpdateStateError(f"{where}: the threshold is not a whole number")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UpdateStateError(f"{where} is not a valid trusted-keys file ({exc})") from None
        return cls.build(pairs, threshold)

    @classmethod
    def load(cls, path: Path) -> TrustRoot:
        """Read the trusted-keys file at `path`."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise UpdateStateError(f"no trusted-keys file at {path}") from None
        return cls.from_bytes(raw, str(path))

    def signers(self, message: bytes, signatures: list[dict[str, str]]) -> set[str]:
        """The ids of the distinct trusted keys whose signature over `message` is valid."""
        valid: set[str] = set()
        for entry in signatures[:MAX_SIGNATURES]:
            key = self.keys.get(entry.get("keyid", ""))
            if key is None:
                continue
            try:
                key.verify(bytes.fromhex(entry.get("sig", "")), message)
            except (InvalidSignature, ValueError):
                continue
            valid.add(key_id(key))
        return valid

    def require_threshold(self, message: bytes, signatures: list[dict[str, str]]) -> set[str]:
        """The valid signers; UpdateRefusedError when fewer than the threshold."""
        if len(signatures) > MAX_SIGNATURES:
            raise UpdateRefusedError(f"the bundle has more than {MAX_SIGNATURES} signatures")
        valid = self.signers(message, signatures)
        if len(valid) < self.threshold:
            unknown = sum(1 for entry in signatures if entry.get("keyid") not in self.keys)
            raise UpdateRefusedError(
                f"the bundle is signed by {len(valid)} distinct trusted key(s); "
                f"{self.threshold} are needed ({len(signatures)} signature(s), {unknown} by "
                "keys this box does not trust)"
            )
        return valid
