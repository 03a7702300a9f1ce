"""Checking a backup: every file against the signed manifest, and both databases opened with
the operator passphrase, read-only (the backup is never written to)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from appliance.backup.files import (
    MANIFEST,
    PARTIAL_PREFIX,
    SIGNATURE,
    BackupError,
    Manifest,
    hash_file,
    manifest_signed,
    public_key_of,
)
from appliance.platform.errors import DatabaseDamagedError, PassphraseError, WrongKeyError
from appliance.platform.paths import DataPaths
from appliance.security.sealing import KeySealer
from appliance.store.db import read_only_check
from appliance.store.keyring import Keyset, unseal

logger = logging.getLogger(__name__)

MAX_LISTED = 5  # problems named in the error line; the rest are counted


@dataclass(frozen=True, repr=False)
class Verified:
    """A backup whose files, signature and databases check out, and the keys that open it."""

    path: Path
    manifest: Manifest
    keyset: Keyset


def read_manifest(backup: Path) -> tuple[Manifest, bytes]:
    """A backup's manifest and its exact bytes (what the signature covers)."""
    if not backup.is_dir():
        raise BackupError(f"{backup} is not a backup folder")
    if backup.name.startswith(PARTIAL_PREFIX):
        raise BackupError(f"{backup} is what an interrupted backup left, not a backup")
    try:
        raw = (backup / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise BackupError(
            f"{backup} has no {MANIFEST}: not a backup, or one that was interrupted"
        ) from None
    return Manifest.from_bytes(raw, backup / MANIFEST), raw


def file_problems(backup: Path, manifest: Manifest) -> list[str]:
    """Files missing, of another size or hash, or not in the manifest (empty: all intact)."""
    problems = []
    listed = {entry.path for entry in manifest.files}
    for entry in manifest.files:
        path = backup / entry.path
        try:
            size, digest = hash_file(path)
        except FileNotFoundError:
            problems.append(f"{entry.path} is missing")
            continue
        if size != entry.size:
            problems.append(f"{entry.path} has {size} bytes, the manifest says {entry.size}")
        elif digest != entry.sha256:
            problems.append(f"{entry.path} was altered (its SHA-256 differs from the manifest)")
    for path in sorted(backup.rglob("*")):
        relative = path.relative_to(backup).as_posix()
        if path.is_file() and relative not in listed and relative not in (MANIFEST, SIGNATURE):
            problems.append(f"{relative} is not in the manifest")
    return problems


def refuse(backup: Path, problems: list[str]) -> BackupError:
    """The one error that names what is wrong with a backup."""
    shown = "; ".join(problems[:MAX_LISTED])
    more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    return BackupError(f"the backup {backup.name} does not verify: {shown}{more}")


def unseal_backup(backup: Path, manifest: Manifest, raw: bytes, sealer: KeySealer) -> Keyset:
    """The backup's key set (PassphraseError on a wrong passphrase), checked against the
    manifest's signature: the manifest was written by the appliance whose keys these are."""
    try:
        keyset = unseal(DataPaths(backup).sealed_db_key, sealer)
    except PassphraseError as exc:
        raise PassphraseError(
            f"the backup {backup.name} does not open: {exc}; a backup opens with the operator "
            "passphrase in force when it was taken"
        ) from None
    try:
        signature = bytes.fromhex((backup / SIGNATURE).read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        raise refuse(backup, [f"{SIGNATURE} is missing or malformed"]) from None
    device = public_key_of(keyset.device) if keyset.device else b""
    if device.hex() != manifest.device_key or not manifest_signed(device, raw, signature):
        raise refuse(backup, ["the manifest is not signed by the device key in the backup"])
    return keyset


def database_problems(backup: Path, manifest: Manifest, keyset: Keyset) -> list[str]:
    """Open both databases read-only with their keys and run the integrity checks."""
    paths = DataPaths(backup)
    problems = []
    for label, path, key in (
        ("database", paths.database, keyset.db),
        ("vault", paths.vault, keyset.vault),
    ):
        try:
            version, found = read_only_check(path, key)
        except (WrongKeyError, DatabaseDamagedError) as exc:
            problems.append(f"{label}: {exc}")
            continue
        problems += [f"{label}: {problem}" for problem in found]
        if label == "database" and version != manifest.schema_version:
            problems.append(
                f"database: schema version {version}, the manifest says {manifest.schema_version}"
            )
    return problems


def verify_backup(backup: Path, sealer: KeySealer) -> Verified:
    """Check a backup completely; BackupError naming what is wrong, PassphraseError when the
    passphrase does not open it."""
    manifest, raw = read_manifest(backup)
    problems = file_problems(backup, manifest)
    if problems:
        raise refuse(backup, problems)
    keyset = unseal_backup(backup, manifest, raw, sealer)
    problems = database_problems(backup, manifest, keyset)
    if problems:
        raise refuse(backup, problems)
    return Verified(backup, manifest, keyset)
