"""The tamper-evident audit log (rule ALL-3): signed checkpoints and verification.

The audit log (appliance/store/audit.py) is a hash chain: entry N stores the hash of entry N-1
and its own SHA-256 over `[prev_hash, at, actor, action, subject, details_json]`. Anyone who
holds the database key could still rewrite the whole chain, so the device signs checkpoints
with its Ed25519 key (sealed with the other keys; the public half is published as
`keys/device.pub.pem`). A checkpoint states: "the log held ENTRY_COUNT entries up to SEQ, and
entry SEQ has hash HASH". Its signature covers exactly these bytes (UTF-8)::

    appliance-audit-checkpoint/v1\\n
    {"created_at":"…","entry_count":N,"hash":"…","key_fingerprint":"…","seq":S}

i.e. the prefix line, then compact JSON with sorted keys (`json.dumps(..., sort_keys=True,
separators=(",", ":"))`). `key_fingerprint` is the SHA-256 (hex) of the raw 32-byte public key.

`verify_chain` works on plain data, so an auditor can check an export (`export_log` of
`appliance.audit.log_export`) on another machine with only the device's public key. It stops
at the FIRST problem and names its kind:

* `altered`: an entry's content does not match its own hash;
* `removed`: a seq is missing, or an entry links to a hash that is not in the log;
* `reordered`: an entry sits where the chain says it should not;
* `truncated`: the log ends before a signed checkpoint's seq, or differs from what a
  checkpoint signed (the log was cut back and written again);
* `bad_signature`: a checkpoint's signature (or its signer) does not verify.

Entries name people by pseudonymous ids only, so erasing a person never touches the chain.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

from appliance.platform.clock import from_stamp, now_stamp, utcnow
from appliance.platform.errors import ApplianceError
from appliance.store import Store
from appliance.store.audit import GENESIS, entry_hash
from appliance.store.base import dumps
from appliance.store.checkpoints import ChainEntry, Checkpoint, CheckpointRepository
from appliance.store.db import transaction

logger = logging.getLogger(__name__)

MESSAGE_PREFIX = "appliance-audit-checkpoint/v1\n"
# Exit code of `audit verify` when the log does not verify.
EXIT_TAMPERED = 21

KINDS = ("altered", "removed", "reordered", "truncated", "bad_signature")


class AuditChainError(ApplianceError):
    """The audit log cannot be checkpointed or verified (no key, unreadable export)."""

    exit_code: ClassVar[int] = EXIT_TAMPERED


# --- keys and messages -------------------------------------------------------------------------

PublicKeyLike = Ed25519PublicKey | bytes | str | Path


def load_public_key(key: PublicKeyLike) -> Ed25519PublicKey:
    """An Ed25519 key from a key object, raw 32 bytes, PEM (bytes or text) or a PEM file."""
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, Path):
        try:
            data = key.read_bytes()
        except OSError as exc:
            raise AuditChainError(f"cannot read the public key {key}: {exc.strerror}") from None
    else:
        data = key.encode("ascii") if isinstance(key, str) else key
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        loaded = load_pem_public_key(data)
    except ValueError as exc:
        raise AuditChainError("the public key is neither a PEM nor 32 raw bytes") from exc
    if not isinstance(loaded, Ed25519PublicKey):
        raise AuditChainError("the public key is not an Ed25519 key")
    return loaded


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_pem(key: Ed25519PublicKey) -> str:
    """The key as PEM text (SubjectPublicKeyInfo), as in `keys/device.pub.pem`."""
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_fingerprint(key: PublicKeyLike) -> str:
    """SHA-256 (hex) of the raw 32-byte public key."""
    return hashlib.sha256(_raw(load_public_key(key))).hexdigest()


def signing_key(store: Store) -> Ed25519PrivateKey:
    """The device's private signing key the store was opened with."""
    if len(store.device_key) != 32:
        raise AuditChainError("the store was opened without the device signing key")
    return Ed25519PrivateKey.from_private_bytes(store.device_key)


def store_public_key(store: Store) -> Ed25519PublicKey:
    """The public half of the device key the store was opened with."""
    return signing_key(store).public_key()


def checkpoint_message(
    *, seq: int, hash: str, entry_count: int, created_at: str, key_fingerprint: str
) -> bytes:
    """The exact bytes a checkpoint signature covers (see the module docstring)."""
    body = {
        "created_at": created_at,
        "entry_count": entry_count,
        "hash": hash,
        "key_fingerprint": key_fingerprint,
        "seq": seq,
    }
    return (MESSAGE_PREFIX + dumps(body)).encode("utf-8")


def _message_of(checkpoint: Checkpoint) -> bytes:
    return checkpoint_message(
        seq=checkpoint.seq,
        hash=checkpoint.hash,
        entry_count=checkpoint.entry_count,
        created_at=checkpoint.created_at,
        key_fingerprint=checkpoint.key_fingerprint,
    )


# --- making checkpoints ------------------------------------------------------------------------


def checkpoint_now(store: Store, repo: CheckpointRepository) -> Checkpoint:
    """Sign and record a checkpoint of the current head; call inside a write transaction."""
    private = signing_key(store)
    head = repo.head()
    if head is None:
        raise AuditChainError("the audit log is empty: nothing to checkpoint")
    fingerprint = key_fingerprint(private.public_key())
    created_at = now_stamp()
    message = checkpoint_message(
        seq=head.seq,
        hash=head.hash,
        entry_count=head.entry_count,
        created_at=created_at,
        key_fingerprint=fingerprint,
    )
    return repo.add(
        seq=head.seq,
        hash=head.hash,
        entry_count=head.entry_count,
        created_at=created_at,
        signature=private.sign(message).hex(),
        key_fingerprint=fingerprint,
    )


def make_checkpoint(store: Store) -> Checkpoint:
    """Sign the log's current head with the device key and record the checkpoint."""
    repo = CheckpointRepository(store)
    with store.transaction():
        return checkpoint_now(store, repo)


def maybe_checkpoint(
    store: Store,
    *,
    every_entries: int = 500,
    every_seconds: float = 900.0,
    now: datetime | None = None,
) -> Checkpoint | None:
    """Checkpoint when `every_entries` entries or `every_seconds` passed since the last one.

    Meant for the worker loop: cheap when there is nothing to do, never signs an unchanged
    head, and decides and writes in one transaction so two processes never both sign.
    Returns the new checkpoint, or None. Without a device key it warns and returns None.
    """
    if len(store.device_key) != 32:
        logger.warning("no device signing key: audit checkpoints are not being made")
        return None
    repo = CheckpointRepository(store)
    moment = now or utcnow()
    with store.transaction():
        latest = repo.latest()
        if latest is None:
            if repo.head() is None:
                return None
            return checkpoint_now(store, repo)
        new_entries = repo.entries_after(latest.seq)
        if new_entries == 0:
            return None
        age = (moment - from_stamp(latest.created_at)).total_seconds()
        if new_entries >= every_entries or age >= every_seconds:
            return checkpoint_now(store, repo)
    return None


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of a verification: ok, or the first problem with its kind and position."""

    ok: bool
    entries: int
    checkpoints: int
    last_seq: int | None
    last_checkpoint_seq: int | None  # the newest checkpoint that verified
    message: str
    kind: str | None = None
    seq: int | None = None  # the first entry concerned
    end_seq: int | None = None  # the last entry of a removed range
    checkpoint_seq: int | None = None  # the checkpoint concerned

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "ok": self.ok,
            "kind": self.kind,
            "seq": self.seq,
            "end_seq": self.end_seq,
            "checkpoint_seq": self.checkpoint_seq,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "last_seq": self.last_seq,
            "last_checkpoint_seq": self.last_checkpoint_seq,
            "message": self.message,
        }


EntryLike = ChainEntry | Mapping[str, Any]
CheckpointLike = Checkpoint | Mapping[str, Any]


def _as_entry(item: EntryLike) -> ChainEntry:
    if isinstance(item, ChainEntry):
        return item
    try:
        details = item["details"]
        if not isinstance(details, str):
            details = dumps(details)
        return ChainEntry(
            int(item["seq"]),
            str(item["at"]),
            str(item["actor"]),
            str(item["action"]),
            None if item["subject"] is None else str(item["subject"]),
            details,
            str(item["prev_hash"]),
            str(item["hash"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditChainError(f"an audit entry is malformed: {exc}") from exc


def _as_checkpoint(item: CheckpointLike) -> Checkpoint:
    if isinstance(item, Checkpoint):
        return item
    try:
        return Checkpoint(
            int(item.get("id", 0)),
            int(item["seq"]),
            str(item["hash"]),
            int(item["entry_count"]),
            str(item["created_at"]),
            str(item["signature"]),
            str(item["key_fingerprint"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditChainError(f"a checkpoint is malformed: {exc}") from exc


def _signature_problem(checkpoint: Checkpoint, key: Ed25519PublicKey, fingerprint: str) -> str:
    """Why the checkpoint's signature does not verify ('' when it does)."""
    if checkpoint.key_fingerprint != fingerprint:
        return (
            f"the checkpoint at seq {checkpoint.seq} was signed by another key "
            f"(fingerprint {checkpoint.key_fingerprint[:16]}…, expected {fingerprint[:16]}…)"
        )
    try:
        key.verify(bytes.fromhex(checkpoint.signature), _message_of(checkpoint))
    except (InvalidSignature, ValueError):
        return f"the checkpoint at seq {checkpoint.seq} has an invalid signature"
    return ""


def _range(first: int, last: int) -> str:
    if first == last:
        return f"entry {first} was removed"
    return f"entries {first}\u2013{last} were removed"  # an en dash


class _Walk:
    """One pass over the entries in the order given, checking checkpoints as they come."""

    def __init__(
        self, entries: list[ChainEntry], checkpoints: list[Checkpoint], key: Ed25519PublicKey
    ) -> None:
        self.entries = entries
        self.checkpoints = sorted(checkpoints, key=lambda c: (c.seq, c.id))
        self.key = key
        self.fingerprint = key_fingerprint(key)
        self.seqs = {entry.seq for entry in entries}
        self.hashes = {entry.hash for entry in entries}
        self.last_good_checkpoint: int | None = None

    def result(self, message: str, kind: str | None = None, **where: int | None) -> VerifyResult:
        return VerifyResult(
            ok=kind is None,
            entries=len(self.entries),
            checkpoints=len(self.checkpoints),
            last_seq=max(self.seqs) if self.seqs else None,
            last_checkpoint_seq=self.last_good_checkpoint,
            message=message,
            kind=kind,
            seq=where.get("seq"),
            end_seq=where.get("end_seq"),
            checkpoint_seq=where.get("checkpoint_seq"),
        )

    def _link_problem(
        self, entry: ChainEntry, expected_seq: int, prev: ChainEntry | None
    ) -> VerifyResult | None:
        """A problem with where the entry sits (seq or link), if any."""
        if entry.seq < expected_seq:
            what = "appears more than once" if entry.seq == expected_seq - 1 else "is out of order"
            return self.result(f"entry {entry.seq} {what}", "reordered", seq=entry.seq)
        if entry.seq > expected_seq:
            if expected_seq in self.seqs:
                return self.result(f"entry {entry.seq} is out of order", "reordered", seq=entry.seq)
            last_missing = entry.seq - 1
            missing = range(expected_seq, entry.seq)
            present = [s for s in missing if s in self.seqs]
            if present:
                last_missing = present[0] - 1
            return self.result(
                _range(expected_seq, last_missing),
                "removed",
                seq=expected_seq,
                end_seq=last_missing,
            )
        expected_prev = prev.hash if prev else GENESIS
        if entry.prev_hash == expected_prev:
            return None
        if entry.prev_hash in self.hashes or entry.prev_hash == GENESIS:
            return self.result(f"entry {entry.seq} is out of order", "reordered", seq=entry.seq)
        return self.result(
            f"an entry before entry {entry.seq} was removed or rewritten "
            f"(entry {entry.seq} links to an entry that is not in the log)",
            "removed",
            seq=entry.seq,
        )

    def _checkpoint_problem(
        self, checkpoint: Checkpoint, entry: ChainEntry | None, count: int
    ) -> VerifyResult | None:
        """Check one checkpoint against the entry at its seq (None: the log ends before it)."""
        why = _signature_problem(checkpoint, self.key, self.fingerprint)
        if why:
            return self.result(
                why, "bad_signature", seq=checkpoint.seq, checkpoint_seq=checkpoint.seq
            )
        if entry is None:
            return None
        if entry.hash != checkpoint.hash or count != checkpoint.entry_count:
            after = self.last_good_checkpoint or 0
            cut = f"truncated after entry {after} and rewritten" if after else "rewritten"
            return self.result(
                f"the log was {cut}; the checkpoint "
                f"at seq {checkpoint.seq} does not match entry {checkpoint.seq}",
                "truncated",
                seq=after + 1,
                checkpoint_seq=checkpoint.seq,
            )
        self.last_good_checkpoint = checkpoint.seq
        return None

    def run(self) -> VerifyResult:
        pending = deque(self.checkpoints)
        prev: ChainEntry | None = None
        expected_seq = 1
        for count, entry in enumerate(self.entries, start=1):
            recomputed = entry_hash(
                entry.prev_hash, entry.at, entry.actor, entry.action, entry.subject, entry.details
            )
            if recomputed != entry.hash:
                return self.result(f"entry {entry.seq} was altered", "altered", seq=entry.seq)
            problem = self._link_problem(entry, expected_seq, prev)
            if problem:
                return problem
            while pending and pending[0].seq <= entry.seq:
                checkpoint = pending.popleft()
                # A checkpoint below this seq names an entry that is not in the log.
                at_entry = entry if checkpoint.seq == entry.seq else None
                problem = self._checkpoint_problem(checkpoint, at_entry, count)
                if problem:
                    return problem
                if at_entry is None:
                    return self.result(
                        f"entry {checkpoint.seq} was removed",
                        "removed",
                        seq=checkpoint.seq,
                        end_seq=checkpoint.seq,
                        checkpoint_seq=checkpoint.seq,
                    )
            prev = entry
            expected_seq = entry.seq + 1
        return self._end(pending, prev)

    def _end(self, pending: deque[Checkpoint], last: ChainEntry | None) -> VerifyResult:
        for checkpoint in pending:
            problem = self._checkpoint_problem(checkpoint, None, 0)
            if problem:
                return problem
        if pending:
            covers = max(checkpoint.seq for checkpoint in pending)
            where = f"after entry {last.seq}" if last else "to nothing (it is empty)"
            return self.result(
                f"the log was truncated {where}; checkpoint covers {covers}",
                "truncated",
                seq=(last.seq + 1) if last else 1,
                checkpoint_seq=covers,
            )
        tail = (
            f"last checkpoint at seq {self.last_good_checkpoint}"
            if self.last_good_checkpoint is not None
            else "no checkpoint yet"
        )
        return self.result(f"ok: {len(self.entries)} entries, {tail}")


def verify_chain(
    entries: Iterable[EntryLike],
    checkpoints: Iterable[CheckpointLike],
    public_key: PublicKeyLike,
) -> VerifyResult:
    """Verify entries (in the order given) and signed checkpoints; report the first problem.

    Works on plain data: `ChainEntry`/`Checkpoint` objects or mappings with the same fields
    (`details` as the stored JSON text), and the device's public key (key, raw or PEM).
    """
    key = load_public_key(public_key)
    walk = _Walk(
        [_as_entry(item) for item in entries], [_as_checkpoint(item) for item in checkpoints], key
    )
    return walk.run()


def _snapshot(store: Store) -> tuple[list[ChainEntry], list[Checkpoint]]:
    """Entries and checkpoints read in one transaction, so they describe the same moment."""
    repo = CheckpointRepository(store)
    with transaction(store.conn, immediate=False):
        return repo.chain(), repo.all()


def verify_store(store: Store, public_key: PublicKeyLike | None = None) -> VerifyResult:
    """Verify the store's audit log against the device key (or the public key given)."""
    entries, checkpoints = _snapshot(store)
    return verify_chain(entries, checkpoints, public_key or store_public_key(store))


__all__ = [
    "EXIT_TAMPERED",
    "KINDS",
    "AuditChainError",
    "ChainEntry",
    "Checkpoint",
    "VerifyResult",
    "checkpoint_message",
    "key_fingerprint",
    "load_public_key",
    "make_checkpoint",
    "maybe_checkpoint",
    "verify_chain",
    "verify_store",
]
