"""The anti-rollback counter: the highest bundle counter this box installed, signed by the box.

The record is signed with the device's Ed25519 key, which lives only in the sealed key set
(unsealed with the operator passphrase), and is checked against the key from that set, never
against a public key on disk. So whoever can write the disk but lacks the passphrase cannot
lower it, nor swap the trusted-keys file (the record holds that file's SHA-256): a record that
does not verify is refused, and a missing one is refused too (`update init` always writes one).
The audit log records every counter as well (`update.applied`); the floor is the higher of the
two, so replaying an older, genuinely signed record does not lower it either while the audit
log is the box's own. Replaying the whole disk (data directory included) to an earlier state is
beyond what software can see: that needs a hardware monotonic counter (a TPM NV index), which
a `KeySealer` for a TPM can add (docs/updates.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from firmware.errors import UpdateRefusedError, UpdateStateError
from firmware.trust import raw_public
from firmware.util import write_atomic

FORMAT = "interview-appliance/update-counter"
CONTEXT = b"interview-appliance/update-counter\n"


@dataclass(frozen=True)
class CounterRecord:
    """The counter, the version it came with, and the trusted-keys file it was recorded under."""

    counter: int
    version: str
    trust_sha256: str
    recorded_at: str

    def payload(self) -> bytes:
        """The exact bytes the device key signs."""
        data = {"format": FORMAT, **asdict(self)}
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def trust_digest(trust_file: Path) -> str:
    """SHA-256 of the trusted-keys file as it is on disk."""
    return hashlib.sha256(trust_file.read_bytes()).hexdigest()


def write_counter(path: Path, record: CounterRecord, device_seed: bytes) -> None:
    """Sign the record with the device key and write it atomically."""
    key = Ed25519PrivateKey.from_private_bytes(device_seed)
    payload = record.payload()
    data = {
        "record": json.loads(payload),
        "device_key": raw_public(key.public_key()).hex(),
        "signature": key.sign(CONTEXT + payload).hex(),
    }
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), mode=0o644)


def _parse(path: Path) -> tuple[CounterRecord, bytes, bytes]:
    try:
        data: Any = json.loads(path.read_bytes())
        fields = data["record"]
        if fields.get("format") != FORMAT:
            raise ValueError("not a counter record")
        record = CounterRecord(
            int(fields["counter"]),
            str(fields["version"]),
            str(fields["trust_sha256"]),
            str(fields["recorded_at"]),
        )
        return record, bytes.fromhex(data["signature"]), bytes.fromhex(data["device_key"])
    except FileNotFoundError:
        raise UpdateStateError(
            f"no anti-rollback counter at {path}: the install root was not initialised "
            "(`update init`) or the record was removed; updates are refused"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UpdateRefusedError(
            f"the anti-rollback counter {path} is malformed: updates are refused"
        ) from None


def read_counter(path: Path, device_key: Ed25519PublicKey, trust_file: Path) -> CounterRecord:
    """The record, verified with the device key and against the trusted-keys file in place."""
    record, signature, _ = _parse(path)
    try:
        device_key.verify(signature, CONTEXT + record.payload())
    except InvalidSignature:
        raise UpdateRefusedError(
            f"the anti-rollback counter {path} is not signed by this box (altered, lowered or "
            "copied from another box): updates are refused"
        ) from None
    if record.trust_sha256 != trust_digest(trust_file):
        raise UpdateRefusedError(
            f"the trusted-keys file {trust_file} changed since the counter was recorded: "
            "updates are refused (replace trusted keys with `update init --replace-trusted-keys`)"
        )
    return record


def peek_counter(path: Path, device_key: Ed25519PublicKey | None) -> dict[str, Any]:
    """For `update status`: the record and whether it verifies (no passphrase needed)."""
    try:
        record, signature, _ = _parse(path)
    except (UpdateStateError, UpdateRefusedError) as exc:
        return {"counter": None, "problem": str(exc)}
    verified: bool | None = None
    if device_key is not None:
        try:
            device_key.verify(signature, CONTEXT + record.payload())
            verified = True
        except InvalidSignature:
            verified = False
    return {**asdict(record), "signature_verified": verified}
