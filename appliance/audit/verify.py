"""Check an auditor's export bundle offline: signature, every file's hash and count, audit chain.

Standalone on purpose: this file imports nothing from the appliance, only the Python standard
library and `cryptography`, so an auditor can copy it and run it on their own machine:

    age -d -i key.txt export-000001-audit_log-EU-20260101T000000Z.tar.age > bundle.tar
    python -m appliance.audit.verify bundle.tar --public-key device.pub.pem
    python verify.py bundle/ --public-key device.pub.pem      # an extracted bundle

What is checked:
* `manifest.sig` is a valid Ed25519 signature over the exact bytes of `manifest.json`, made by
  the device key in the manifest, which must be the key given with `--public-key` (without it
  the check proves integrity only, not which appliance made the bundle: pin the key);
* every file listed in the manifest is present with the listed size, SHA-256 and row count;
  no file is missing, unlisted or present twice; the per-table totals add up;
* if the bundle holds an audit log: each entry's SHA-256 over
  `json.dumps([prev_hash, at, actor, action, subject, details_json], sort_keys=True,
  separators=(",", ":"), ensure_ascii=False)` is its `hash`, each entry links to the one
  before by `prev_hash`, and the piece starts and ends where the signed manifest says
  (redacted entries carry only seq and hashes: they link, their content is not included);
* an included audit checkpoint agrees with the exported chain where they overlap;
* if the bundle holds bias tables: their shape, without recomputing them: the columns are
  there, counts are whole numbers (positives at most the count), rates, shares, impact ratios
  and p-values lie in [0, 1], and in each (outcome, dimension) table whose ratios are defined
  the best group's ratio is exactly 1.

Exit status: 0 when every check passes, 1 otherwise (each problem is printed).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import io
import itertools
import json
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

FORMAT = "interview-appliance-export"
SCHEMA_VERSIONS = (1,)
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CHECKPOINT = "audit/checkpoint.json"
AUDIT_TABLE = "audit_log"
BIAS_TABLE = "bias_tables"
BIAS_COLUMNS = (
    "outcome",
    "dimension",
    "category",
    "count",
    "positives",
    "rate",
    "impact_ratio",
    "share",
    "excludable",
    "excluded",
    "flagged",
    "fisher_p",
)
BIAS_FLAGS = ("excludable", "excluded", "flagged")
BIAS_UNIT_CELLS = ("rate", "share", "fisher_p")  # in [0, 1] when given
MAX_MANIFEST_BYTES = 256 << 20
READ_BLOCK = 1 << 20
AGE_MAGIC = b"age-encryption.org/"
# A signed audit checkpoint (appliance/audit/chain.py): the signature covers the prefix line
# and the compact, key-sorted JSON of the other fields.
CHECKPOINT_PREFIX = "appliance-audit-checkpoint/v1\n"
CHECKPOINT_FIELDS = ("created_at", "entry_count", "hash", "key_fingerprint", "seq", "signature")


class BundleError(Exception):
    """The bundle cannot be read at all."""


def entry_hash(
    prev_hash: str, at: str, actor: str, action: str, subject: str | None, details_json: str
) -> str:
    """The chained SHA-256 of one audit entry (as the appliance's audit log computes it)."""
    material = json.dumps(
        [prev_hash, at, actor, action, subject, details_json],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass
class ChainPiece:
    """What one part of the audit log says about the chain."""

    first_seq: int | None = None
    first_prev: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    entries: int = 0
    redacted: int = 0
    hashes: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class BiasPiece:
    """What one part of a bias table says about its shape."""

    best: dict[tuple[str, str], Fraction] = field(default_factory=dict)  # per outcome, dimension
    problems: list[str] = field(default_factory=list)


@dataclass
class FileFacts:
    """What was measured of one file of the bundle."""

    path: str
    size: int
    sha256: str
    rows: int | None
    chain: ChainPiece | None = None
    bias: BiasPiece | None = None
    content: bytes | None = None  # kept only for the manifest, its signature, the checkpoint


class _Hashing(io.RawIOBase):
    """Reads through, hashing and counting."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.digest = hashlib.sha256()
        self.bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self.digest.update(data)
        self.bytes += count
        return count


def _drain(stream: IO[bytes] | io.RawIOBase) -> None:
    while stream.read(READ_BLOCK):
        pass


def _check_entry(entry: Any, piece: ChainPiece, where: str) -> None:
    if not isinstance(entry, dict):
        piece.problems.append(f"{where}: not a JSON object")
        return
    seq, prev, digest = entry.get("seq"), entry.get("prev_hash"), entry.get("hash")
    if not isinstance(seq, int) or not isinstance(prev, str) or not isinstance(digest, str):
        piece.problems.append(f"{where}: seq, prev_hash or hash missing")
        return
    if piece.last_seq is None:
        piece.first_seq, piece.first_prev = seq, prev
    else:
        if seq <= piece.last_seq:
            piece.problems.append(f"audit entry {seq}: out of order after {piece.last_seq}")
        if prev != piece.last_hash:
            piece.problems.append(f"audit entry {seq}: prev_hash does not link to entry before")
    if entry.get("redacted") is True:
        piece.redacted += 1
    else:
        at, actor, action = entry.get("at"), entry.get("actor"), entry.get("action")
        subject, details = entry.get("subject"), entry.get("details_json")
        if not (
            isinstance(at, str)
            and isinstance(actor, str)
            and isinstance(action, str)
            and isinstance(details, str)
            and isinstance(subject, str | None)
        ):
            piece.problems.append(f"audit entry {seq}: at, actor, action or details_json missing")
        elif entry_hash(prev, at, actor, action, subject, details) != digest:
            piece.problems.append(f"audit entry {seq}: content does not match its hash")
    piece.last_seq, piece.last_hash = seq, digest
    piece.entries += 1
    piece.hashes[seq] = digest


def _unit(text: str) -> Fraction | None:
    """A cell that must be empty or a number in [0, 1] (decimal or exact fraction)."""
    if text == "":
        return None
    value = Fraction(text)
    if not 0 <= value <= 1:
        raise ValueError(f"{text} is outside [0, 1]")
    return value


def _check_bias_row(cells: dict[str, str], piece: BiasPiece, where: str) -> None:
    """One category's row: whole counts, flags, values in [0, 1]; notes the best ratio."""
    try:
        count, positives = int(cells["count"]), int(cells["positives"])
        if count < 0 or not 0 <= positives <= count:
            raise ValueError(f"{positives} positives of {count}")
        for name in BIAS_FLAGS:
            if cells[name] not in ("true", "false"):
                raise ValueError(f"{name} is {cells[name]!r}, not true or false")
        for name in BIAS_UNIT_CELLS:
            _unit(cells[name])
        exact = cells.get("exact_impact_ratio", "")
        ratio = _unit(exact) if exact else _unit(cells["impact_ratio"])
        _unit(cells["impact_ratio"])
    except (ValueError, ZeroDivisionError) as exc:
        piece.problems.append(f"{where}: {exc}")
        return
    if ratio is None:
        if cells["flagged"] == "true":
            piece.problems.append(f"{where}: flagged without an impact ratio")
        return
    if cells["excluded"] == "true":
        piece.problems.append(f"{where}: excluded from the ratios but has one")
    key = (cells["outcome"], cells["dimension"])
    piece.best[key] = max(ratio, piece.best.get(key, ratio))


def _check_bias_rows(lines: Iterator[list[str]], path: str, piece: BiasPiece) -> int:
    """A part of the bias table: its header, then every row; returns the number of rows."""
    header = next(lines, None) or []
    missing = [name for name in BIAS_COLUMNS if name not in header]
    if missing:
        piece.problems.append(f"{path}: columns missing: {', '.join(missing)}")
    rows = 0
    for line in lines:
        rows += 1
        if missing:
            continue
        if len(line) != len(header):
            piece.problems.append(f"{path}: row {rows} has {len(line)} cells, not {len(header)}")
            continue
        _check_bias_row(dict(zip(header, line, strict=True)), piece, f"{path}: row {rows}")
    return rows


def _check_bias(seen: dict[str, FileFacts]) -> tuple[list[str], str]:
    """The bias tables' shape over all their parts: the best group of each table has ratio 1."""
    pieces = [facts.bias for facts in seen.values() if facts.bias is not None]
    if not pieces:
        return [], ""
    problems = [problem for piece in pieces for problem in piece.problems]
    best: dict[tuple[str, str], Fraction] = {}
    for piece in pieces:
        for key, ratio in piece.best.items():
            best[key] = max(ratio, best.get(key, ratio))
    for (outcome, dimension), ratio in sorted(best.items()):
        if ratio != 1:
            problems.append(
                f"bias table {outcome}/{dimension}: the best group's impact ratio is "
                f"{float(ratio):.4f}, not 1"
            )
    rows = sum(seen[path].rows or 0 for path in seen if seen[path].bias is not None)
    return problems, (
        f"bias tables: {rows} rows in {len(best)} tables with ratios, shape checked "
        "(columns, values in [0, 1], best group's ratio 1)"
    )


def _measure(path: str, source: IO[bytes]) -> FileFacts:
    """Hash a file while counting its rows (and checking the audit chain in its lines)."""
    hashing = _Hashing(source)
    rows: int | None = None
    chain: ChainPiece | None = None
    bias: BiasPiece | None = None
    content: bytes | None = None
    name = PurePosixPath(path).name
    if path in (MANIFEST, SIGNATURE, CHECKPOINT):
        content = hashing.read(MAX_MANIFEST_BYTES + 1)
        if len(content) > MAX_MANIFEST_BYTES:
            raise BundleError(f"{path} is implausibly large")
    elif path.endswith(".jsonl"):
        rows = 0
        audit = path.startswith("data/") and name.startswith(AUDIT_TABLE + "-")
        chain = ChainPiece() if audit else None
        for line in io.BufferedReader(hashing, READ_BLOCK):
            rows += 1
            if chain is not None:
                try:
                    entry = json.loads(line)
                except ValueError:
                    chain.problems.append(f"{path}: line {rows} is not JSON")
                    continue
                _check_entry(entry, chain, f"{path}: line {rows}")
    elif path.endswith(".csv"):
        text = io.TextIOWrapper(io.BufferedReader(hashing, READ_BLOCK), "utf-8", newline="")
        if path.startswith("data/") and name.startswith(BIAS_TABLE + "-"):
            bias = BiasPiece()
        try:
            lines = csv.reader(text)
            if bias is not None:
                rows = _check_bias_rows(lines, path, bias)
            else:
                rows = max(0, sum(1 for _ in lines) - 1)  # less the header
        except (UnicodeDecodeError, csv.Error):
            rows = -1
        _drain(text.buffer)
        text.detach()
    _drain(hashing)
    return FileFacts(path, hashing.bytes, hashing.digest.hexdigest(), rows, chain, bias, content)


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name != path.as_posix():
        raise BundleError(f"unsafe path in the bundle: {name!r}")
    return name


def _read_tar(source: Path) -> Iterator[FileFacts]:
    with source.open("rb") as handle:
        if handle.read(len(AGE_MAGIC)) == AGE_MAGIC:
            raise BundleError(
                f"{source} is still age-encrypted: decrypt it first, "
                f"age -d -i key.txt {source.name} > bundle.tar"
            )
    try:
        with tarfile.open(source, mode="r|") as tar:
            for member in tar:
                if member.isdir():
                    continue
                if not member.isreg():
                    raise BundleError(f"{member.name!r} is not a regular file")
                extracted = tar.extractfile(member)
                if extracted is None:  # pragma: no cover - regular files always extract
                    raise BundleError(f"{member.name!r} cannot be read")
                yield _measure(_safe_name(member.name), extracted)
    except tarfile.TarError as exc:
        raise BundleError(f"{source} is not a readable tar: {exc}") from None


def _read_dir(source: Path) -> Iterator[FileFacts]:
    for path in sorted(source.rglob("*")):
        if path.is_symlink():
            raise BundleError(f"{path} is a symbolic link")
        if path.is_file():
            with path.open("rb") as handle:
                yield _measure(path.relative_to(source).as_posix(), handle)


def _load_key(pem: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(pem)
    except ValueError as exc:
        raise BundleError(f"{where} is not a readable public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{where} is not an Ed25519 public key")
    return key


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_signature(manifest_bytes: bytes, signature: bytes, key: Ed25519PublicKey) -> list[str]:
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return ["manifest.sig is not base64"]
    try:
        key.verify(raw, manifest_bytes)
    except InvalidSignature:
        return ["the signature over manifest.json does not verify (altered or not this device's)"]
    return []


def _check_files(manifest: dict[str, Any], seen: dict[str, FileFacts]) -> list[str]:
    problems: list[str] = []
    listed = manifest.get("files")
    if not isinstance(listed, list):
        return ["the manifest has no file list"]
    names = [entry.get("path") for entry in listed if isinstance(entry, dict)]
    if len(names) != len(listed) or len(set(names)) != len(names):
        problems.append("the manifest's file list has malformed or repeated entries")
    totals: dict[tuple[str, str], int] = {}
    for entry in listed:
        if not isinstance(entry, dict):
            continue
        path = str(entry.get("path"))
        facts = seen.get(path)
        if facts is None:
            problems.append(f"{path}: listed in the manifest, missing from the bundle")
            continue
        if facts.size != entry.get("bytes"):
            problems.append(f"{path}: {facts.size} bytes, the manifest says {entry.get('bytes')}")
        if facts.sha256 != entry.get("sha256"):
            problems.append(f"{path}: SHA-256 differs from the manifest")
        if entry.get("rows") is not None and facts.rows != entry.get("rows"):
            problems.append(f"{path}: {facts.rows} rows, the manifest says {entry.get('rows')}")
        if entry.get("table") and entry.get("format") and isinstance(entry.get("rows"), int):
            key = (str(entry["table"]), str(entry["format"]))
            totals[key] = totals.get(key, 0) + int(entry["rows"])
    for path in sorted(set(seen) - set(map(str, names)) - {MANIFEST, SIGNATURE}):
        problems.append(f"{path}: in the bundle but not in the manifest")
    counts = manifest.get("counts") or {}
    tables = counts.get("tables") or {}
    for (table, fmt), total in sorted(totals.items()):
        if tables.get(table) != total:
            problems.append(
                f"table {table} ({fmt}): {total} rows, the manifest counts {tables.get(table)}"
            )
    if counts.get("files") != len(listed):
        problems.append(f"the manifest lists {len(listed)} files but counts {counts.get('files')}")
    return problems


def _chain_pieces(seen: dict[str, FileFacts]) -> list[ChainPiece]:
    return sorted(
        (facts.chain for facts in seen.values() if facts.chain is not None),
        key=lambda piece: (piece.first_seq is None, piece.first_seq or 0),
    )


def _check_chain(manifest: dict[str, Any], parts: list[ChainPiece]) -> tuple[list[str], str]:
    if not parts:
        return [], ""
    problems = [problem for piece in parts for problem in piece.problems]
    expected = manifest.get("audit_chain")
    pieces = [piece for piece in parts if piece.entries]
    if not pieces:
        if expected:
            problems.append("the manifest describes an audit chain but the log is empty")
        return problems, "audit log: no entries in the period"
    for before, after in itertools.pairwise(pieces):
        if after.first_prev != before.last_hash:
            problems.append(f"audit entry {after.first_seq}: does not link to the part before")
    entries = sum(piece.entries for piece in pieces)
    redacted = sum(piece.redacted for piece in pieces)
    if not isinstance(expected, dict):
        problems.append("the manifest does not describe the audit chain")
        return problems, ""
    checks = {
        "first_seq": pieces[0].first_seq,
        "anchor_prev_hash": pieces[0].first_prev,
        "last_seq": pieces[-1].last_seq,
        "head_hash": pieces[-1].last_hash,
        "entries": entries,
        "redacted": redacted,
    }
    for name, found in checks.items():
        if expected.get(name) != found:
            problems.append(
                f"audit chain: {name} is {found!r}, the manifest says {expected.get(name)!r}"
            )
    summary = (
        f"audit chain: {entries} entries, seq {pieces[0].first_seq}..{pieces[-1].last_seq}, "
        f"{redacted} redacted, every link and hash checked"
    )
    return problems, summary


def _check_checkpoint(
    content: bytes, pieces: list[ChainPiece], key: Ed25519PublicKey
) -> tuple[list[str], str]:
    """The included checkpoint: signed by the same device, and agreeing with the chain."""
    try:
        checkpoint = json.loads(content)
    except ValueError:
        return [f"{CHECKPOINT} is not JSON"], ""
    if not isinstance(checkpoint, dict) or not all(k in checkpoint for k in CHECKPOINT_FIELDS):
        return [f"{CHECKPOINT} is not an audit checkpoint"], ""
    seq, digest = checkpoint["seq"], checkpoint["hash"]
    problems = []
    if checkpoint["key_fingerprint"] != hashlib.sha256(_raw(key)).hexdigest():
        problems.append("the audit checkpoint was signed by another key than the bundle")
    body = {name: checkpoint[name] for name in CHECKPOINT_FIELDS if name != "signature"}
    message = CHECKPOINT_PREFIX + json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    try:
        key.verify(bytes.fromhex(str(checkpoint["signature"])), message.encode("utf-8"))
    except (InvalidSignature, ValueError):
        problems.append("the audit checkpoint's signature does not verify")
    for piece in pieces:
        if seq in piece.hashes and piece.hashes[seq] != digest:
            problems.append(f"the audit checkpoint at seq {seq} disagrees with the exported chain")
    covered = any(seq in piece.hashes for piece in pieces)
    return problems, (
        f"audit checkpoint: seq {seq}, {checkpoint['entry_count']} entries, signed"
        + (", matches the exported chain" if covered else " (outside the exported piece)")
    )


@dataclass
class Verdict:
    """The outcome: problems (empty: verified), notes, and what was checked."""

    problems: list[str]
    notes: list[str]

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.problems


def _read(source: Path) -> dict[str, FileFacts]:
    seen: dict[str, FileFacts] = {}
    for facts in _read_dir(source) if source.is_dir() else _read_tar(source):
        if facts.path in seen:
            raise BundleError(f"{facts.path} appears twice in the bundle")
        seen[facts.path] = facts
    return seen


def _parse_manifest(content: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(content)
    except ValueError:
        raise BundleError("manifest.json is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError("manifest.json is not an export manifest of this appliance")
    if manifest.get("schema_version") not in SCHEMA_VERSIONS:
        raise BundleError(f"unsupported schema version {manifest.get('schema_version')!r}")
    return manifest


def verify_bundle(source: Path, public_key: Path | None = None) -> Verdict:
    """Run every check on a decrypted bundle (a tar file or an extracted folder)."""
    problems: list[str] = []
    notes: list[str] = []
    try:
        pinned = None if public_key is None else _load_key(public_key.read_bytes(), str(public_key))
        seen = _read(source)
        manifest_bytes = seen[MANIFEST].content if MANIFEST in seen else None
        signature = seen[SIGNATURE].content if SIGNATURE in seen else None
        if manifest_bytes is None or signature is None:
            raise BundleError("the bundle has no manifest.json or no manifest.sig")
        if pinned is not None:  # checked before the manifest is trusted even to parse
            problems.extend(_check_signature(manifest_bytes, signature, pinned))
        manifest = _parse_manifest(manifest_bytes)
        embedded = _load_key(
            str(manifest.get("device_public_key", "")).encode(), "the manifest's device key"
        )
    except (BundleError, OSError) as exc:
        return Verdict([*problems, str(exc)], notes)
    if pinned is None:
        key = embedded
        problems.extend(_check_signature(manifest_bytes, signature, key))
        notes.append(
            "warning: no --public-key given: the signature proves the bundle is intact, "
            "not which appliance made it"
        )
    else:
        key = pinned
        if _raw(embedded) != _raw(pinned):
            problems.append(f"the bundle names a different device key than {public_key}")
    fingerprint = hashlib.sha256(_raw(key)).hexdigest()
    if manifest.get("device_key_sha256") != fingerprint:
        problems.append("the manifest's device_key_sha256 does not match the key")
    problems.extend(_check_files(manifest, seen))
    pieces = _chain_pieces(seen)
    found, summary = _check_chain(manifest, pieces)
    problems.extend(found)
    notes.extend([summary] if summary else [])
    checkpoint = seen.get(CHECKPOINT)
    if checkpoint is not None and checkpoint.content is not None:
        found, summary = _check_checkpoint(
            checkpoint.content, [piece for piece in pieces if piece.entries], key
        )
        problems.extend(found)
        notes.extend([summary] if summary else [])
    found, summary = _check_bias(seen)
    problems.extend(found)
    notes.extend([summary] if summary else [])
    period = manifest.get("period") or {}
    notes.append(
        f"{manifest.get('kind')} for region {manifest.get('region')}, "
        f"{period.get('start')} to {period.get('end')}: {len(seen) - 2} files, "
        f"device key SHA-256 {fingerprint}"
    )
    return Verdict(problems, notes)


def main(argv: list[str] | None = None) -> int:
    """Command line: verify one bundle, print the verdict, exit 0 (intact) or 1."""
    parser = argparse.ArgumentParser(
        prog="python -m appliance.audit.verify",
        description="Verify a decrypted export bundle of the interview appliance.",
    )
    parser.add_argument("bundle", type=Path, help="the decrypted bundle: a .tar or a folder")
    parser.add_argument(
        "--public-key", type=Path, help="the appliance's device public key (PEM) to pin"
    )
    args = parser.parse_args(argv)
    verdict = verify_bundle(args.bundle, args.public_key)
    for note in verdict.notes:
        print(note)
    if verdict.ok:
        print(f"OK: {args.bundle} verified")
        return 0
    for problem in verdict.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"FAILED: {args.bundle} did not verify ({len(verdict.problems)} problem(s))")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
