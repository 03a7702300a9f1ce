"""The erasure ledger: which candidates were erased, kept in the backup folder beside the backups.

A backup holds the key vault, so a candidate erased after it was taken is readable again in a
restore of it. The ledger lists every erasure the appliance made, once the key is shredded
(pseudonym, time, request id: never a name or a reason), signed by the device key so that a
line planted in the folder cannot erase anyone; `restore` re-applies the erasures it lists.
It is rewritten from the live tombstones (never deleted) at every backup and, with
`backup.folder` set, every minute by the worker, and it only grows: an entry once written stays.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.backup.files import BackupError, fsync_dir, public_key_of, sign, signature_valid
from appliance.platform.clock import now_stamp
from appliance.platform.errors import NotFoundError
from appliance.store import Store
from appliance.store.erasures import ErasureRepository

logger = logging.getLogger(__name__)

LEDGER = "erasure-ledger.json"
FORMAT = "interview-appliance/erasure-ledger"
VERSION = 1
_CONTEXT = b"interview-appliance/erasure-ledger\n"


class ForeignLedgerError(BackupError):
    """The ledger in a backup folder is another appliance's."""


@dataclass(frozen=True)
class LedgerEntry:
    """One erasure: whose (pseudonym), when it began, on which data request."""

    pseudonym: str
    erased_at: str
    request: int | None


@dataclass(frozen=True)
class Ledger:
    """The erasures of one appliance (its device key) as last written."""

    device_key: str
    written_at: str
    entries: tuple[LedgerEntry, ...]


def _body(ledger: Ledger) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "device_key": ledger.device_key,
        "written_at": ledger.written_at,
        "erasures": [
            {"pseudonym": e.pseudonym, "erased_at": e.erased_at, "request": e.request}
            for e in ledger.entries
        ],
    }


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def read_ledger(path: Path, device_key: bytes) -> Ledger:
    """Read a ledger and check it is this device's and signed by it; BackupError otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        signature = base64.b64decode(data.pop("signature"), validate=True)
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise BackupError(f"{path} is not an erasure ledger (version {VERSION})")
        ledger = Ledger(
            str(data["device_key"]),
            str(data["written_at"]),
            tuple(
                LedgerEntry(
                    str(e["pseudonym"]),
                    str(e["erased_at"]),
                    None if e["request"] is None else int(e["request"]),
                )
                for e in data["erasures"]
            ),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"the erasure ledger {path} is malformed ({exc})") from None
    if ledger.device_key != device_key.hex():
        raise ForeignLedgerError(
            f"the erasure ledger {path} belongs to another appliance (another device key)"
        )
    if not signature_valid(device_key, _CONTEXT, _canonical(data), signature):
        raise BackupError(
            f"the erasure ledger {path} is not signed by this appliance's device key (altered?)"
        )
    return ledger


def check_owner(folder: Path, device_seed: bytes) -> None:
    """Refuse a backup folder whose ledger belongs to another appliance (one folder each)."""
    path = folder / LEDGER
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        owner = data.get("device_key") if isinstance(data, dict) else None
    except ValueError:
        owner = None
    if owner is not None and owner != public_key_of(device_seed).hex():
        raise ForeignLedgerError(
            f"{folder} holds the backups of another appliance: give each appliance its own folder"
        )


def _shredded(store: Store, pseudonym: str) -> bool:
    # An erasure begun but not finished counts once the key is gone (it can only be finished);
    # before that a legal hold may still stop it.
    try:
        store.vault.key_for(pseudonym)
    except NotFoundError:
        return True
    return False


def sync_ledger(store: Store, folder: Path) -> bool:
    """Bring the folder's ledger up to the live tombstones; True when it was rewritten."""
    device_key = public_key_of(store.device_key)
    path = folder / LEDGER
    known: dict[str, LedgerEntry] = {}
    if path.exists():
        try:
            known = {e.pseudonym: e for e in read_ledger(path, device_key).entries}
        except ForeignLedgerError:
            raise
        except BackupError as exc:
            # The live tombstones are the truth; an altered file is replaced by them.
            logger.warning("%s; rewriting it from the tombstones", exc)
            known = {}
            path.unlink()
    live = {
        t.pseudonym: LedgerEntry(t.pseudonym, t.started_at, t.request_id)
        for t in ErasureRepository(store).tombstones()
        if t.completed_at is not None or _shredded(store, t.pseudonym)
    }
    if path.exists() and live.keys() <= known.keys():
        return False
    merged = {**known, **{p: e for p, e in live.items() if p not in known}}
    entries = tuple(sorted(merged.values(), key=lambda e: (e.erased_at, e.pseudonym)))
    body = _body(Ledger(device_key.hex(), now_stamp(), entries))
    signature = sign(store.device_key, _CONTEXT, _canonical(body))
    document = {**body, "signature": base64.b64encode(signature).decode("ascii")}
    partial = folder / f".{LEDGER}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    fsync_dir(folder)
    return True
