"""Building an export bundle: the task of a job of kind "export", run by the worker.

Why age. A bundle leaves the appliance for an auditor's own machine, so the format must be
one the auditor can open with standard, independent tools and without us: age is a small,
specified file format (age-encryption.org/v1) with interoperable implementations (the Go
reference `age`, packaged in Debian and most distributions, rage, pyrage) and nothing else
to install or configure. Its recipients are plain X25519 public keys the auditor generates
with `age-keygen`: no key servers, web of trust, expiry or keyring state as with OpenPGP, and
no passphrase to hand over. Its payload is ChaCha20-Poly1305 in 64 KiB authenticated chunks,
so it encrypts and decrypts as a stream (bounded memory, any size) and detects truncation
and any altered byte. The auditor runs `age -d -i key.txt bundle.tar.age > bundle.tar` and
then the standalone verifier `python -m appliance.audit.verify bundle.tar --public-key device.pem`.
(Raw CMS/openssl leaves too many choices to get wrong; gpg brings a keyring and trust model
that an appliance without network cannot maintain.)

Bundle layout (a POSIX tar, encrypted as a whole; no plaintext copy exists on disk: the tar
is produced in memory, piece by piece, straight into the age encryptor and into the file):

    data/<table>-0001.jsonl     rows as JSON lines (decisions_scores: `subjects`, nested,
                                one line per candidate pseudonym and requisition)
    data/<table>-0001.csv       flat rows as CSV (decisions_scores: `decisions`, `scores`,
                                `overrides`, the spreadsheet view of `subjects`; audit_log
                                and recordings: the same rows as their JSONL; bias_tables:
                                `bias_tables` and `bias_summary`, aggregates only)
    media/<pseudonym>/...       recordings, only in kinds that carry media
    audit/checkpoint.json       the latest signed audit checkpoint, if the store keeps them
    manifest.json               schema version, kind, region, period, counts, the SHA-256,
                                size and row count of every file, the device public key
    manifest.sig                Ed25519 signature (base64) over the bytes of manifest.json

A table is split into numbered parts of about `PART_BYTES` so that memory stays bounded (at
most tables x formats x PART_BYTES of rows, whatever the size of the export); when a table
has both formats, part N of each holds the same rows. What each kind writes, and how new
kinds register, is in `appliance.exports.kinds`; the rules checked again here before building
are in `appliance.exports.rules`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from appliance.accounts.auth import principal_of
from appliance.exports.bundle import (
    BundleSizeError,
    BundleWriter,
    EncryptedFile,
    TarStream,
    fsync_dir,
)
from appliance.exports.bundle_files import (
    PARTIAL_PREFIX,
    bundle_name,
    exports_dir,
    sweep_partials_of,
)
from appliance.exports.context import ExportContext
from appliance.exports.kinds import EXPORT_KINDS
from appliance.exports.manifest import (
    CHECKPOINT_NAME,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    checkpoint_bytes,
    manifest_bytes,
)
from appliance.exports.rules import CHINA_COUNTRY, ExportError, check_recipient, require_region
from appliance.platform.clock import from_stamp, now_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import PermissionDeniedError
from appliance.store import Store
from appliance.store.db import transaction
from appliance.store.exports import (
    BundleFacts,
    ExportRepository,
    ExportRequest,
    Recipient,
)

logger = logging.getLogger(__name__)

PART_BYTES = 2 << 20  # bytes of a table part (per format) held in memory until written
BATCH_ROWS = 500  # rows read from the store at a time


def _result(export: ExportRequest) -> dict[str, Any]:
    return {
        "export_id": export.id,
        "bundle": export.bundle_name,
        "bundle_bytes": export.bundle_bytes,
        "bundle_sha256": export.bundle_sha256,
        "tar_bytes": export.tar_bytes,
        "manifest_sha256": export.manifest_sha256,
        "counts": export.counts,
    }


def _signing_key(store: Store) -> Ed25519PrivateKey:
    if not store.device_key:
        raise ExportError("the device has no signing key: unlock the appliance again to add one")
    return Ed25519PrivateKey.from_private_bytes(store.device_key)


def _check_at_build(store: Store, repo: ExportRepository, export: ExportRequest) -> Recipient:
    """The request's rules, checked again now: scope, recipient, IL-2, CN-3."""
    user = store.users.get(export.requested_by)
    if not user.active:
        raise ExportError("the account that asked for this export is no longer active")
    require_region(principal_of(user), export.region)
    recipient = repo.recipient(export.requested_by)
    if recipient is None:
        raise ExportError("the recipient's key is no longer registered")
    kind = EXPORT_KINDS.get(export.kind)
    if kind is None:
        raise ExportError(f"unknown export kind {export.kind!r}")
    cross_border = check_recipient(recipient, export.region, media=kind.media)
    if recipient.location_country != export.recipient_country:
        raise ExportError("the recipient's location changed since the request; ask again")
    if export.cross_border and not cross_border:
        raise ExportError(
            "CN-3: the cross-border permission for this recipient was withdrawn", rule="CN-3"
        )
    return recipient


def _refused(
    store: Store, repo: ExportRepository, export: ExportRequest, error: Exception
) -> ExportError:
    """Mark the export failed for good, log why, and give the error to raise."""
    rule = getattr(error, "rule", None)
    with store.audited(
        "exports", "export.refused", subject=f"export:{export.id}", rule=rule, error=str(error)
    ):
        repo.mark_failed(export.id, str(error))
    return ExportError(str(error), rule=rule)


def _write_bundle(
    ctx: ExportContext,
    age_recipient: str,
    signing_key: Ed25519PrivateKey,
    part_bytes: int,
    report_progress: Callable[[float, str], None],
) -> BundleFacts:
    """Stream the kind's tables, the checkpoint, the manifest and its signature into the file."""
    export, repo = ctx.export, ctx.repo
    public = signing_key.public_key()
    public_pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    public_raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    folder = exports_dir(ctx.config)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    sweep_partials_of(folder, export.id)
    created_at = now_stamp()
    name = bundle_name(export, created_at)
    partial = folder / f"{PARTIAL_PREFIX}{name}"
    report_progress(0.0, export.kind)
    with EncryptedFile(partial, age_recipient) as encrypted:
        tar = TarStream(encrypted.stream, int(from_stamp(created_at).timestamp()))
        bundle = BundleWriter(tar, part_bytes)
        with transaction(ctx.store.conn, immediate=False):  # one consistent snapshot
            EXPORT_KINDS[export.kind].write(ctx, bundle)
            bundle.close_tables()
            checkpoint = repo.latest_checkpoint()
        if checkpoint is not None:
            bundle.add_file(CHECKPOINT_NAME, checkpoint_bytes(checkpoint))
        report_progress(0.96, "signing")
        manifest = manifest_bytes(ctx, bundle, created_at, public_pem, public_raw)
        signature = base64.b64encode(signing_key.sign(manifest)) + b"\n"
        tar.add(MANIFEST_NAME, len(manifest), [manifest])
        tar.add(SIGNATURE_NAME, len(signature), [signature])
        tar.close()
    os.replace(partial, folder / name)
    fsync_dir(folder)
    return BundleFacts(
        bundle_name=name,
        tar_bytes=tar.bytes,
        bundle_bytes=encrypted.file.bytes,
        bundle_sha256=encrypted.file.digest.hexdigest(),
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        counts=json.loads(manifest)["counts"],
    )


def _record_success(
    store: Store, repo: ExportRepository, ctx: ExportContext, facts: BundleFacts
) -> None:
    """The export is done: its facts, the CN-3 count of the year, and the audit entry."""
    year = utcnow().year
    cn3: dict[str, int] | None = None
    with store.audited(
        "exports",
        "export.created",
        subject=f"export:{ctx.export.id}",
        bundle_sha256=facts.bundle_sha256,
        manifest_sha256=facts.manifest_sha256,
        files=facts.counts["files"],
        tables=facts.counts["tables"],
    ) as entry:
        repo.mark_succeeded(ctx.export.id, facts)
        if ctx.china_individuals:
            individuals = repo.count_cn_individuals(
                year, ctx.export.id, sorted(ctx.china_individuals), sensitive=False
            )
            sensitive = repo.count_cn_individuals(
                year, ctx.export.id, sorted(ctx.china_sensitive), sensitive=True
            )
            repo.add_cn_counts(year, individuals, sensitive)
            cn3 = {"year": year, "new_individuals": individuals, "new_sensitive": sensitive}
        entry.details["cn3"] = cn3


def build_export(
    store: Store,
    config: ApplianceConfig,
    job_payload: dict[str, Any],
    report_progress: Callable[[float, str], None],
    *,
    part_bytes: int = PART_BYTES,
    batch_size: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Build the bundle of an "export" job; returns the job's result.

    Idempotent: a bundle already built is returned as it is. A rule that no longer holds, or
    data that does not add up, marks the export failed and raises ExportError (do not retry);
    anything else (disk, encryptor, a lost claim) raises as it is (retry). The data is read in
    one snapshot, in batches, and leaves this process only encrypted: tar → age →
    `<data dir>/exports/<name>.tar.age` (written aside, then renamed). `report_progress` is
    called from this thread inside the read transaction: it must not write through this
    thread's store connection (the worker's heartbeat has its own).
    """
    repo = ExportRepository.of(store)
    export = repo.get(int(job_payload["export_id"]))
    if export.state == "succeeded":
        return _result(export)
    if export.state == "failed":
        raise ExportError(export.error or f"export {export.id} failed")
    try:
        recipient = _check_at_build(store, repo, export)
        signing_key = _signing_key(store)
    except (ExportError, PermissionDeniedError, NotFoundError) as exc:
        raise _refused(store, repo, export, exc) from exc
    with store.transaction():
        repo.mark_running(export.id, recipient.age_recipient)
    export = repo.get(export.id)

    def progress(fraction: float, step: str) -> None:
        report_progress(round(min(max(fraction, 0.0), 1.0) * 0.95, 4), step)

    ctx = ExportContext(
        store,
        config,
        export,
        repo,
        batch_size,
        progress,
        china_allowed=export.recipient_country == CHINA_COUNTRY or export.cross_border,
    )
    try:
        facts = _write_bundle(
            ctx, recipient.age_recipient, signing_key, part_bytes, report_progress
        )
    except (ExportError, BundleSizeError) as exc:  # the data does not add up: no retry helps
        raise _refused(store, repo, export, exc) from exc
    _record_success(store, repo, ctx, facts)
    logger.info("export %s written (%s bytes)", export.id, facts.bundle_bytes)
    return _result(repo.get(export.id))


def fail_export(store: Store, job_payload: dict[str, Any], message: str) -> None:
    """Record that an export's job gave up (for the worker's final failure)."""
    export_id = int(job_payload.get("export_id", 0))
    with store.transaction():
        ExportRepository.of(store).mark_failed(export_id, message)
