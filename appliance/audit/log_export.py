"""The audit log's offline export (rule ALL-3): JSONL an auditor verifies on another machine.

An export (`export_log`, JSONL) starts with a header holding the device's public key and a
signed seal over the export's extent (entries, checkpoints, last seq and hash): cutting the
tail of an export together with its last checkpoints is caught too. The seal's message is
"appliance-audit-export/v1\\n" followed by the seal object as compact sorted JSON.
The entries and checkpoints themselves are verified as `appliance.audit.chain` describes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.audit.chain import (
    MESSAGE_PREFIX,
    AuditChainError,
    PublicKeyLike,
    VerifyResult,
    checkpoint_now,
    key_fingerprint,
    load_public_key,
    public_key_pem,
    signing_key,
    store_public_key,
    verify_chain,
)
from appliance.platform.clock import now_stamp
from appliance.platform.errors import ApplianceError
from appliance.store import Store
from appliance.store.base import dumps
from appliance.store.checkpoints import CheckpointRepository

EXPORT_FORMAT = "appliance-audit-export/v1"


def render_export(store: Store, *, actor: str = "operator", record: bool = True) -> str:
    """The export as JSONL text: a header (with the public key), every entry, every checkpoint.

    With `record`, the export is first written to the log ("audit.exported") and a fresh
    checkpoint signs everything up to it, so the whole export is covered by a signature.
    Entries hold pseudonymous ids only, never personal data.
    """
    key = store_public_key(store)
    repo = CheckpointRepository(store)
    with store.transaction():
        if record:
            store.audit.append(actor, "audit.exported", details={"format": EXPORT_FORMAT})
            checkpoint_now(store, repo)
        entries, checkpoints = repo.chain(), repo.all()
    fingerprint = key_fingerprint(key)
    seal = {
        "exported_at": now_stamp(),
        "entries": len(entries),
        "checkpoints": len(checkpoints),
        "last_seq": entries[-1].seq if entries else None,
        "last_hash": entries[-1].hash if entries else None,
        "key_fingerprint": fingerprint,
    }
    header = {
        "type": "header",
        "format": EXPORT_FORMAT,
        "key_fingerprint": fingerprint,
        "public_key_pem": public_key_pem(key),
        "checkpoint_message": MESSAGE_PREFIX.strip() + " + newline + compact JSON (sorted keys)"
        " of created_at, entry_count, hash, key_fingerprint, seq",
        "seal": seal,
        "seal_signature": signing_key(store).sign(_seal_message(seal)).hex(),
    }
    lines = [dumps(header)]
    lines += [dumps({"type": "entry", **vars(entry)}) for entry in entries]
    lines += [dumps({"type": "checkpoint", **vars(checkpoint)}) for checkpoint in checkpoints]
    return "\n".join(lines) + "\n"


def _seal_message(seal: Mapping[str, Any]) -> bytes:
    return (EXPORT_FORMAT + "\n" + dumps(dict(seal))).encode("utf-8")


def _seal_problem(
    header: Mapping[str, Any],
    entries: list[dict[str, Any]],
    checkpoints: list[dict[str, Any]],
    key: Ed25519PublicKey,
    chain: VerifyResult,
) -> VerifyResult | None:
    """Whether the export's signed seal matches what the file holds (None: it does)."""

    def problem(message: str, kind: str, seq: int | None = None) -> VerifyResult:
        return replace(chain, ok=False, message=message, kind=kind, seq=seq)

    seal, signature = header.get("seal"), header.get("seal_signature")
    try:
        if not isinstance(seal, dict) or not isinstance(signature, str):
            raise InvalidSignature
        key.verify(bytes.fromhex(signature), _seal_message(seal))
        sealed_entries, sealed_checkpoints = int(seal["entries"]), int(seal["checkpoints"])
        last_seq = None if seal["last_seq"] is None else int(seal["last_seq"])
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return problem("the export's seal is missing or has an invalid signature", "bad_signature")
    if len(entries) > sealed_entries:
        extra = int(entries[sealed_entries]["seq"])
        return problem(f"entry {extra} is not covered by the export's seal", "altered", seq=extra)
    last = entries[-1] if entries else None
    if len(entries) < sealed_entries or (last and last.get("hash") != seal["last_hash"]):
        where = f"after entry {last['seq']}" if last else "to nothing (it is empty)"
        return problem(
            f"the export was truncated {where}; its seal covers {last_seq}",
            "truncated",
            seq=(int(last["seq"]) + 1) if last else 1,
        )
    if len(checkpoints) != sealed_checkpoints:
        return problem(
            f"the export holds {len(checkpoints)} checkpoints; its seal covers "
            f"{sealed_checkpoints}",
            "removed",
        )
    return None


def export_log(store: Store, path: Path, *, actor: str = "operator", record: bool = True) -> Path:
    """Write the export (see `render_export`) to `path`, mode 0600, atomically."""
    text = render_export(store, actor=actor, record=record)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return path


@dataclass(frozen=True)
class ParsedExport:
    """An export read back: its header, entries (file order) and checkpoints."""

    header: dict[str, Any]
    entries: list[dict[str, Any]]
    checkpoints: list[dict[str, Any]]


def parse_export(text: str) -> ParsedExport:
    """Read export JSONL; a line that is not JSON or has no known type is an error."""
    header: dict[str, Any] | None = None
    entries: list[dict[str, Any]] = []
    checkpoints: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AuditChainError(f"line {number} of the export is not JSON") from None
        kind = record.get("type") if isinstance(record, dict) else None
        if kind == "header" and header is None:
            header = record
        elif kind == "entry":
            entries.append(record)
        elif kind == "checkpoint":
            checkpoints.append(record)
        else:
            raise AuditChainError(f"line {number} of the export is not an entry or checkpoint")
    if header is None or header.get("format") != EXPORT_FORMAT:
        raise AuditChainError(f"not an audit export ({EXPORT_FORMAT})")
    return ParsedExport(header, entries, checkpoints)


def verify_export_text(text: str, public_key_pem: PublicKeyLike | None = None) -> VerifyResult:
    """Verify export text; without a key, the key inside the export is used (see below).

    The key inside an export only proves the file is self-consistent: whoever rewrote it
    could have re-signed it with a key of their own. Pass the device's published key
    (`keys/device.pub.pem`, obtained separately) to prove it came from the device.
    """
    parsed = parse_export(text)
    given = public_key_pem if public_key_pem is not None else parsed.header.get("public_key_pem")
    if not given:
        raise AuditChainError("the export holds no public key; pass one")
    key = load_public_key(given)
    result = verify_chain(parsed.entries, parsed.checkpoints, key)
    if not result.ok:
        return result
    return _seal_problem(parsed.header, parsed.entries, parsed.checkpoints, key, result) or result


def verify_export(path: Path, public_key_pem: PublicKeyLike | None = None) -> VerifyResult:
    """Verify an export file offline (no store, no passphrase)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ApplianceError(f"no export at {path}") from None
    except UnicodeDecodeError:
        raise AuditChainError(f"{path} is not a text export") from None
    return verify_export_text(text, public_key_pem)


__all__ = [
    "export_log",
    "parse_export",
    "render_export",
    "verify_export",
    "verify_export_text",
]
