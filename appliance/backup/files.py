"""A backup's files and its manifest: hashed copies with private modes, the signed manifest."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.platform.errors import ApplianceError

FORMAT = "interview-appliance/backup"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CONFIG = "appliance.toml"
PREFIX = "backup-"
PARTIAL_PREFIX = ".partial-"
BLOCK = 1 << 20
# Signatures of the device key are bound to what they sign (it also signs audit checkpoints).
_MANIFEST_CONTEXT = b"interview-appliance/backup-manifest\n"
# The only places a file of a backup may be restored to (a manifest is not trusted to name any).
_FOLDERS = ("keys", "db", "spool")


class BackupError(ApplianceError):
    """A backup cannot be made, does not verify, or cannot be restored."""

    exit_code = 48


@dataclass(frozen=True)
class FileEntry:
    """One file of a backup: its path inside the backup, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What a backup holds and where it came from."""

    created_at: str
    appliance_version: str
    schema_version: int
    device_key: str  # the device's Ed25519 public key (hex): it signed this manifest
    files: tuple[FileEntry, ...]

    def to_bytes(self) -> bytes:
        """The manifest as written to disk (and signed)."""
        data: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": self.created_at,
            "appliance_version": self.appliance_version,
            "schema_version": self.schema_version,
            "device_key": self.device_key,
            "files": [{"path": f.path, "bytes": f.size, "sha256": f.sha256} for f in self.files],
        }
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes, where: Path) -> Manifest:
        """Parse a manifest; BackupError when it is not one."""
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT or data.get("version") != VERSION:
                raise BackupError(f"{where} is not a backup manifest (version {VERSION})")
            files = tuple(
                FileEntry(safe_path(str(f["path"])), int(f["bytes"]), str(f["sha256"]))
                for f in data["files"]
            )
            return cls(
                str(data["created_at"]),
                str(data["appliance_version"]),
                int(data["schema_version"]),
                str(data["device_key"]),
                files,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"the manifest {where} is malformed ({exc})") from None

    @property
    def total_bytes(self) -> int:
        """The size of every file together."""
        return sum(f.size for f in self.files)


def safe_path(text: str) -> str:
    """A manifest path that stays inside the backup (no `..`, no absolute path, known folders)."""
    path = PurePosixPath(text)
    parts = path.parts
    nested = len(parts) == 2 and parts[0] in _FOLDERS
    if (
        path.is_absolute()
        or any(p in ("", ".", "..") for p in parts)
        or not (nested or text == CONFIG)
    ):
        raise ValueError(f"{text!r} is not a path a backup may hold")
    return text


def private_dir(path: Path) -> Path:
    """Create a folder with mode 0700 (whatever the umask)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (new names, renames) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_hashed(source: Path, target: Path) -> tuple[int, str]:
    """Copy a file byte for byte into a new 0600 file, synced; return its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(source, "rb") as reader, os.fdopen(fd, "wb") as writer:
        while block := reader.read(BLOCK):
            digest.update(block)
            writer.write(block)
            size += len(block)
        writer.flush()
        os.fsync(writer.fileno())
    return size, digest.hexdigest()


def hash_file(path: Path) -> tuple[int, str]:
    """A file's size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as reader:
        while block := reader.read(BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def write_private(path: Path, data: bytes) -> tuple[int, str]:
    """Write a new 0600 file, synced; return its size and SHA-256."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return len(data), hashlib.sha256(data).hexdigest()


def public_key_of(device_seed: bytes) -> bytes:
    """The raw Ed25519 public key of a device signing seed."""
    private = Ed25519PrivateKey.from_private_bytes(device_seed)
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign(device_seed: bytes, context: bytes, data: bytes) -> bytes:
    """An Ed25519 signature of the device over `context` + `data`."""
    return Ed25519PrivateKey.from_private_bytes(device_seed).sign(context + data)


def signature_valid(public_key: bytes, context: bytes, data: bytes, signature: bytes) -> bool:
    """Whether `signature` is the device's over `context` + `data`."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, context + data)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_manifest(device_seed: bytes, raw: bytes) -> bytes:
    """The device's signature of a manifest's bytes."""
    return sign(device_seed, _MANIFEST_CONTEXT, raw)


def manifest_signed(public_key: bytes, raw: bytes, signature: bytes) -> bool:
    """Whether a manifest's signature is the device's."""
    return signature_valid(public_key, _MANIFEST_CONTEXT, raw, signature)


def complete_backups(folder: Path) -> list[Path]:
    """The complete backups in a folder (renamed from partial, with a manifest), oldest first."""
    if not folder.is_dir():
        return []
    found = [
        path
        for path in folder.iterdir()
        if path.name.startswith(PREFIX) and path.is_dir() and (path / MANIFEST).is_file()
    ]
    return sorted(found, key=lambda path: path.name)
