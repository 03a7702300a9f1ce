"""Auditor export bundles: region- and period-scoped, signed by the device, encrypted with age.

An auditor registers an age X25519 public key (`age1…`) and asks for a bundle of one kind,
one region and one period; a job of kind "export" builds it in the worker.

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
                                and recordings: the same rows as their JSONL)
    media/<pseudonym>/...       recordings, only in kinds that carry media
    audit/checkpoint.json       the latest signed audit checkpoint, if the store keeps them
    manifest.json               schema version, kind, region, period, counts, the SHA-256,
                                size and row count of every file, the device public key
    manifest.sig                Ed25519 signature (base64) over the bytes of manifest.json

A table is split into numbered parts of about `PART_BYTES` so that memory stays bounded (at
most tables x formats x PART_BYTES of rows, whatever the size of the export); when a table
has both formats, part N of each holds the same rows. New kinds register a `KindWriter` in
`EXPORT_KINDS` (consents, bias tables, the DSAR log...).

Rules enforced here, at request time and again when the bundle is built:
* the requester's role holds `exports.view` and the region is inside their scope;
* only subjects of the requested region appear (the region of the requisition);
* IL-2: media (videos) only to recipients on the evaluation allow-list, and only with a
  reason, both logged;
* CN-3: China-region data (a CN requisition, or a candidate residing in CN) is not exported
  to a recipient outside China unless an administrator allowed it for that recipient (with a
  reason, logged); when it is, the individuals are counted per year, sensitive data
  (recordings: face and voice) separately;
* free text people wrote (decision and override reasons) is never exported: only its kind.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import mimetypes
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyrage  # type: ignore[import-untyped]
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
from appliance.hiring.review import ai_scores
from appliance.media.spool import Spool
from appliance.platform.clock import from_stamp, now_stamp, to_stamp, utcnow
from appliance.platform.config import ApplianceConfig, RegionEnum, WorkerConfig
from appliance.platform.errors import ApplianceError, NotFoundError
from appliance.security.permissions import (
    WILDCARD,
    Action,
    PermissionDeniedError,
    Principal,
    Scope,
    require,
)
from appliance.store import Store
from appliance.store.db import transaction
from appliance.store.exports import (
    BundleFacts,
    ExportRepository,
    ExportRequest,
    Recipient,
)

logger = logging.getLogger(__name__)

JOB_KIND = "export"
SCHEMA = "interview-appliance-export"
SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
CHECKPOINT_NAME = "audit/checkpoint.json"
EXPORTS_FOLDER = "exports"
BUNDLE_SUFFIX = ".tar.age"
PARTIAL_PREFIX = ".partial-"
PART_BYTES = 2 << 20  # bytes of a table part (per format) held in memory until written
BATCH_ROWS = 500  # rows read from the store at a time
MEDIA_BLOCK = 1 << 20
MAX_REASON_CHARS = 1000
CHINA = RegionEnum.CN.value
CHINA_COUNTRY = "CN"  # mainland China; HK, MO and TW are outside it for cross-border rules
PSEUDONYM_PREFIX = "cand-"  # what CandidateRepository.create gives every candidate
REGIONS = tuple(region.value for region in RegionEnum)
REASON_KIND = "free_text"  # the only kind of reason the store records; its text is withheld

_COUNTRY = re.compile(r"[A-Z]{2}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ExportError(ApplianceError):
    """An export that cannot be asked for or built; `rule` names the region rule, if one."""

    exit_code = 21

    def __init__(self, message: str, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule


# --- Periods, keys, countries -----------------------------------------------------------------


def parse_period(period_start: str, period_end: str) -> tuple[str, str]:
    """The period as store stamps [start, end).

    Dates (`YYYY-MM-DD`, UTC) include both days; times (ISO 8601 with a zone) end exclusive.
    """
    start = _moment(period_start, "period_start", end=False)
    end = _moment(period_end, "period_end", end=True)
    if start >= end:
        raise ExportError("the period must start before it ends")
    return to_stamp(start), to_stamp(end)


def _moment(text: str, name: str, *, end: bool) -> datetime:
    value = (text or "").strip()
    try:
        if _DATE.fullmatch(value):
            day = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ExportError(f"{name} needs a time zone (for example 2026-01-31T00:00:00Z)")
    return moment.astimezone(UTC)


def normalise_age_recipient(text: str) -> str:
    """An age X25519 recipient (`age1…`), checked by parsing it; ExportError otherwise."""
    value = (text or "").strip()
    if not value.lower().startswith("age1"):
        raise ExportError("the key must be an age X25519 public key starting with age1")
    try:
        pyrage.x25519.Recipient.from_str(value)
    except pyrage.RecipientError:
        raise ExportError("the key is not a valid age X25519 public key") from None
    return value.lower()


def normalise_country(text: str) -> str:
    """An ISO 3166-1 alpha-2 country or region code, upper case."""
    value = (text or "").strip().upper()
    if not _COUNTRY.fullmatch(value):
        raise ExportError("the location must be a two-letter country or region code (CN, DE…)")
    return value


def _reason(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if not value:
        raise ExportError(f"a reason is required {what}")
    if len(value) > MAX_REASON_CHARS:
        raise ExportError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return value


def is_china_data(requisition_region: str | None, residence_region: str | None) -> bool:
    """China-region data: a position in China or a candidate living there (the stricter wins)."""
    return CHINA in (requisition_region, residence_region)


def exports_dir(config: ApplianceConfig) -> Path:
    """Where encrypted bundles are kept (nothing else is ever written there)."""
    return config.paths.root / EXPORTS_FOLDER


# --- Recipients -------------------------------------------------------------------------------


def register_recipient(
    store: Store, principal: Principal, age_recipient: str, location_country: str
) -> Recipient:
    """An auditor registers (or replaces) their age public key and where they are."""
    require(principal, Action.VIEW_EXPORTS)
    key = normalise_age_recipient(age_recipient)
    country = normalise_country(location_country)
    repo = ExportRepository.of(store)
    with store.transaction():
        recipient = repo.save_recipient(principal.user_id, key, country, list(principal.regions))
        store.audit.append(
            f"user:{principal.user_id}",
            "export.recipient_registered",
            subject=f"user:{principal.user_id}",
            details={"age_recipient": key, "location": country},
        )
    return recipient


def _administered(store: Store, principal: Principal, user_id: int) -> ExportRepository:
    require(principal, Action.MANAGE_SETTINGS)
    repo = ExportRepository.of(store)
    if repo.recipient(user_id) is None:
        raise NotFoundError(f"no export recipient for user {user_id}")
    return repo


def set_video_allow_list(
    store: Store, principal: Principal, user_id: int, *, allowed: bool, reason: str
) -> Recipient:
    """IL-2: put a recipient on (or off) the evaluation allow-list for videos, with a reason."""
    repo = _administered(store, principal, user_id)
    text = _reason(reason, "to change the video allow-list")
    with store.transaction():
        repo.set_videos(user_id, allowed, text, principal.user_id)
        store.audit.append(
            f"user:{principal.user_id}",
            "export.videos_allowed" if allowed else "export.videos_revoked",
            subject=f"user:{user_id}",
            details={"reason": text},
        )
    return _recipient_of(repo, user_id)


def set_cross_border(
    store: Store, principal: Principal, user_id: int, *, allowed: bool, reason: str
) -> Recipient:
    """CN-3: allow (or stop) China-region data going to this recipient outside China."""
    repo = _administered(store, principal, user_id)
    text = _reason(reason, "to change a cross-border permission")
    with store.transaction():
        repo.set_cross_border(user_id, allowed, text, principal.user_id)
        store.audit.append(
            f"user:{principal.user_id}",
            "export.cross_border_allowed" if allowed else "export.cross_border_revoked",
            subject=f"user:{user_id}",
            details={"reason": text},
        )
    return _recipient_of(repo, user_id)


def set_recipient_regions(
    store: Store, principal: Principal, user_id: int, regions: Sequence[str]
) -> Recipient:
    """Which regions' bundles a recipient may receive (`*`: all)."""
    repo = _administered(store, principal, user_id)
    unknown = sorted(set(regions) - {*REGIONS, WILDCARD})
    if unknown:
        raise ExportError(f"unknown region(s): {', '.join(unknown)}")
    with store.transaction():
        repo.set_regions(user_id, sorted(set(regions)))
        store.audit.append(
            f"user:{principal.user_id}",
            "export.recipient_regions",
            subject=f"user:{user_id}",
            details={"regions": sorted(set(regions))},
        )
    return _recipient_of(repo, user_id)


def recipients(store: Store, principal: Principal) -> list[Recipient]:
    """Every registered recipient (for administrators)."""
    require(principal, Action.MANAGE_SETTINGS)
    return ExportRepository.of(store).recipients()


def own_recipient(store: Store, principal: Principal) -> Recipient | None:
    """The caller's registered recipient, if any."""
    require(principal, Action.VIEW_EXPORTS)
    return ExportRepository.of(store).recipient(principal.user_id)


def _recipient_of(repo: ExportRepository, user_id: int) -> Recipient:
    found = repo.recipient(user_id)
    if found is None:
        raise NotFoundError(f"no export recipient for user {user_id}")
    return found


def check_recipient(recipient: Recipient, region: str, *, media: bool) -> bool:
    """Whether this recipient may receive this bundle (ExportError if not).

    Returns whether China-region data may cross the border to them (CN-3).
    """
    if WILDCARD not in recipient.regions and region not in recipient.regions:
        raise ExportError(f"this recipient may not receive bundles of the region {region}")
    if media and not recipient.videos_allowed:
        raise ExportError(
            "IL-2: videos are exported only to people on the evaluation allow-list; "
            "an administrator must add this recipient, with a reason, first",
            rule="IL-2",
        )
    abroad = recipient.location_country != CHINA_COUNTRY
    if abroad and region == CHINA and not recipient.cross_border_allowed:
        raise ExportError(
            "CN-3: China-region data is not exported to recipients outside China "
            f"(this recipient is in {recipient.location_country}); an administrator must "
            "allow cross-border export for this recipient, with a reason, first",
            rule="CN-3",
        )
    return abroad and recipient.cross_border_allowed


# --- Requests ---------------------------------------------------------------------------------


def _require_region(principal: Principal, region: str) -> None:
    visibility = require(principal, Action.VIEW_EXPORTS)
    if region not in REGIONS:
        raise ExportError(f"unknown region {region!r}; one of: {', '.join(REGIONS)}")
    if (
        visibility.scope is not Scope.ALL
        and WILDCARD not in visibility.regions
        and region not in visibility.regions
    ):
        raise PermissionDeniedError(f"the region {region} is outside your scope")


def request_export(
    store: Store,
    principal: Principal,
    kind: str,
    region: str,
    period_start: str,
    period_end: str,
    *,
    reason: str | None = None,
    config: ApplianceConfig | None = None,
) -> ExportRequest:
    """Ask for a bundle: checks scope and the region rules, then queues its "export" job."""
    _require_region(principal, region)
    writer = EXPORT_KINDS.get(kind)
    if writer is None:
        raise ExportError(f"unknown export kind {kind!r}; one of: {', '.join(EXPORT_KINDS)}")
    start, end = parse_period(period_start, period_end)
    repo = ExportRepository.of(store)
    recipient = repo.recipient(principal.user_id)
    if recipient is None:
        raise ExportError("register your age public key before asking for an export")
    actor = f"user:{principal.user_id}"
    try:
        cross_border = check_recipient(recipient, region, media=writer.media)
        why = _reason(reason, "to export videos") if writer.media else None
    except ExportError as exc:
        with store.transaction():
            store.audit.append(
                actor,
                "export.refused",
                subject=actor,
                details={"kind": kind, "region": region, "rule": exc.rule, "error": str(exc)},
            )
        raise
    limits = config.worker if config is not None else WorkerConfig()
    details: dict[str, Any] = {
        "kind": kind,
        "region": region,
        "period_start": start,
        "period_end": end,
        "media": writer.media,
        "cross_border": cross_border,
        "recipient_location": recipient.location_country,
    }
    if writer.media:
        details.update(reason=why, allow_list_reason=recipient.videos_reason)
    with store.transaction():
        export = repo.create(
            requested_by=principal.user_id,
            kind=kind,
            region=region,
            period_start=start,
            period_end=end,
            include_media=writer.media,
            reason=why,
            recipient=recipient,
            cross_border=cross_border,
        )
        job = store.jobs.enqueue(
            JOB_KIND,
            subject_type="export",
            subject_id=export.id,
            payload={"export_id": export.id},
            max_open=limits.max_queued_jobs,
            max_attempts=limits.max_attempts,
        )
        repo.attach_job(export.id, job.id)
        store.audit.append(
            actor, "export.requested", subject=f"export:{export.id}", details=details
        )
    return repo.get(export.id)


@dataclass(frozen=True)
class ExportStatus:
    """Where a requested bundle stands (the request, merged with its job while it runs)."""

    export: ExportRequest
    state: str
    progress: float
    step: str | None
    error: str | None


def _status(store: Store, export: ExportRequest) -> ExportStatus:
    if export.final or export.job_id is None:
        return ExportStatus(export, export.state, export.progress, None, export.error)
    try:
        job = store.jobs.get(export.job_id)
    except NotFoundError:
        return ExportStatus(export, export.state, export.progress, None, export.error)
    state = "failed" if job.state in ("failed", "cancelled") else job.state
    return ExportStatus(export, state, job.progress, job.step, job.error or export.error)


def export_status(store: Store, principal: Principal, export_id: int) -> ExportStatus:
    """One of the caller's own exports (someone else's is not found)."""
    require(principal, Action.VIEW_EXPORTS)
    return _status(store, ExportRepository.of(store).get_own(export_id, principal.user_id))


def list_exports(store: Store, principal: Principal, *, limit: int = 100) -> list[ExportStatus]:
    """The caller's own exports, newest first."""
    require(principal, Action.VIEW_EXPORTS)
    found = ExportRepository.of(store).for_user(principal.user_id, limit=limit)
    return [_status(store, export) for export in found]


def bundle_for_download(
    store: Store, config: ApplianceConfig, principal: Principal, export_id: int
) -> tuple[ExportRequest, Path]:
    """The encrypted bundle of one of the caller's own finished exports; the download is logged."""
    require(principal, Action.VIEW_EXPORTS)
    export = ExportRepository.of(store).get_own(export_id, principal.user_id)
    if export.state != "succeeded" or not export.bundle_name:
        raise NotFoundError(f"export {export_id} has no bundle yet")
    path = exports_dir(config) / export.bundle_name
    if not path.is_file():
        raise NotFoundError(f"the bundle of export {export_id} is gone")
    with store.transaction():
        store.audit.append(
            f"user:{principal.user_id}",
            "export.downloaded",
            subject=f"export:{export.id}",
            details={"bundle_sha256": export.bundle_sha256},
        )
    return export, path


def fail_export(store: Store, job_payload: dict[str, Any], message: str) -> None:
    """Record that an export's job gave up (for the worker's final failure)."""
    export_id = int(job_payload.get("export_id", 0))
    with store.transaction():
        ExportRepository.of(store).mark_failed(export_id, message)


# --- Kinds ------------------------------------------------------------------------------------


@dataclass
class ExportContext:
    """What a kind's writer reads from, and what it reports back."""

    store: Store
    config: ApplianceConfig
    export: ExportRequest
    repo: ExportRepository
    batch_size: int
    progress: Callable[[float, str], None]
    china_allowed: bool
    china_individuals: set[str] = field(default_factory=set)
    china_sensitive: set[str] = field(default_factory=set)
    withheld_china: set[str] = field(default_factory=set)

    def admit(self, pseudonym: str, china: bool, *, sensitive: bool = False) -> bool:
        """Whether this subject's data may go into the bundle (CN-3); counts what crosses."""
        if not china:
            return True
        if not self.china_allowed:
            self.withheld_china.add(pseudonym)
            return False
        if self.export.cross_border:
            self.china_individuals.add(pseudonym)
            if sensitive:
                self.china_sensitive.add(pseudonym)
        return True


@dataclass(frozen=True)
class KindWriter:
    """One kind of bundle: its name, whether it carries media, and the function writing it."""

    name: str
    description: str
    write: Callable[[ExportContext, BundleWriter], None]
    media: bool = False


EXPORT_KINDS: dict[str, KindWriter] = {}


def register_kind(kind: KindWriter) -> KindWriter:
    """Add a kind of bundle (other modules add theirs: consents, bias tables, DSAR log...)."""
    if kind.name in EXPORT_KINDS:
        raise ValueError(f"the export kind {kind.name} is registered already")
    EXPORT_KINDS[kind.name] = kind
    return kind


def _grouped(rows: Iterable[Any], *keys: str) -> dict[Any, list[Any]]:
    found: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        found[tuple(row[key] for key in keys)].append(row)
    return found


def _apply_overrides(scores: dict[str, float], overrides: Iterable[Any]) -> dict[str, float]:
    # The same rule as appliance.hiring.review.current_scores: the latest override per
    # dimension wins.
    current = dict(scores)
    for override in overrides:
        current[override["dimension"]] = float(override["new_score"])
    return current


SUBJECT_COLUMNS = ("pseudonym", "requisition_id", "region", "department", "decisions", "reports")
DECISION_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "decision_id",
    "kind",
    "decided_by",
    "decided_by_role",
    "decided_at",
    "reason_kind",
)
SCORE_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "report_id",
    "report_created_at",
    "model_version",
    "dimension",
    "ai_score",
    "current_score",
    "overridden",
)
OVERRIDE_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "report_id",
    "override_id",
    "dimension",
    "previous_score",
    "new_score",
    "overridden_by",
    "overridden_by_role",
    "overridden_at",
    "reason_kind",
)


def write_decisions_scores(ctx: ExportContext, bundle: BundleWriter) -> None:
    """Per candidate pseudonym and requisition: decisions, AI scores, overrides, current scores.

    A (candidate, requisition) pair is in the bundle when a decision, a report or an override
    of it falls in the period; then its decisions of the period and its reports written or
    overridden in the period are exported, each report with every override so far.
    """
    export, repo = ctx.export, ctx.repo
    start, end = export.period_start, export.period_end
    # Everything is in the nested JSON lines of `subjects`; the flat tables are its CSV view.
    subjects = bundle.table("subjects", SUBJECT_COLUMNS, formats=("jsonl",))
    decisions = bundle.table("decisions", DECISION_COLUMNS, formats=("csv",))
    scores = bundle.table("scores", SCORE_COLUMNS, formats=("csv",))
    overrides = bundle.table("overrides", OVERRIDE_COLUMNS, formats=("csv",))
    last_id = max(1, repo.last_candidate_id())  # progress: subjects come in candidate order
    for batch in repo.subject_batches(export.region, start, end, ctx.batch_size):
        done = batch[-1]["candidate_id"] / last_id
        admitted = [
            row
            for row in batch
            if ctx.admit(row["pseudonym"], is_china_data(row["region"], row["residence_region"]))
        ]
        if not admitted:
            ctx.progress(done, "decisions_scores")
            continue
        ids = sorted({row["candidate_id"] for row in admitted})
        decided = _grouped(repo.decisions_of(ids, start, end), "candidate_id", "requisition_id")
        reported = _grouped(repo.reports_of(ids, start, end), "candidate_id", "requisition_id")
        report_ids = [report["id"] for rows in reported.values() for report in rows]
        overridden = _grouped(repo.overrides_of(report_ids), "report_id") if report_ids else {}
        for row in admitted:
            pair = (row["candidate_id"], row["requisition_id"])
            base = {
                "pseudonym": row["pseudonym"],
                "requisition_id": row["requisition_id"],
                "region": row["region"],
            }
            decision_rows = [
                {
                    "decision_id": d["id"],
                    "kind": d["kind"],
                    "decided_by": f"user:{d['decided_by']}",
                    "decided_by_role": d["decided_by_role"],
                    "decided_at": d["decided_at"],
                    "reason_kind": REASON_KIND,
                }
                for d in decided.get(pair, [])
            ]
            for decision in decision_rows:
                decisions.add({**base, **decision})
            report_rows = []
            for report in reported.get(pair, []):
                ai = ai_scores(report["content"])
                changes = overridden.get((report["id"],), [])
                current = _apply_overrides(ai, changes)
                changed = {o["dimension"] for o in changes}
                override_rows = [
                    {
                        "override_id": o["id"],
                        "dimension": o["dimension"],
                        "previous_score": o["previous_score"],
                        "new_score": o["new_score"],
                        "overridden_by": f"user:{o['overridden_by']}",
                        "overridden_by_role": o["overridden_by_role"],
                        "overridden_at": o["overridden_at"],
                        "reason_kind": REASON_KIND,
                    }
                    for o in changes
                ]
                for override in override_rows:
                    overrides.add({**base, "report_id": report["id"], **override})
                for dimension in sorted(current):
                    scores.add(
                        {
                            **base,
                            "report_id": report["id"],
                            "report_created_at": report["created_at"],
                            "model_version": report["model_version"],
                            "dimension": dimension,
                            "ai_score": ai.get(dimension),
                            "current_score": current[dimension],
                            "overridden": dimension in changed,
                        }
                    )
                report_rows.append(
                    {
                        "report_id": report["id"],
                        "interview_id": report["interview_id"],
                        "created_at": report["created_at"],
                        "model_version": report["model_version"],
                        "status": report["status"],
                        "ai_scores": ai,
                        "current_scores": current,
                        "overrides": override_rows,
                    }
                )
            subjects.add(
                {
                    **base,
                    "department": row["department"],
                    "decisions": decision_rows,
                    "reports": report_rows,
                }
            )
        ctx.progress(done, "decisions_scores")
    bundle.notes["reasons"] = (
        "decision and override reasons are free text people wrote: they are withheld, "
        "reason_kind says what kind of reason was recorded"
    )


AUDIT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "details_json",
    "prev_hash",
    "hash",
    "redacted",
)


def write_audit_log(ctx: ExportContext, bundle: BundleWriter) -> None:
    """The audit entries of the period: a contiguous piece of the hash chain, pseudonymous.

    Entries about candidates outside the region (or China-region candidates the recipient
    may not receive) keep only seq, prev_hash and hash: the chain still verifies, their
    content is not in the bundle. Entries about no candidate are exported whole.
    """
    export, repo = ctx.export, ctx.repo
    table = bundle.table("audit_log", AUDIT_COLUMNS, formats=("jsonl", "csv"))
    span = repo.audit_range(export.period_start, export.period_end)
    if span is None:
        bundle.notes["audit_chain"] = None
        return
    first, last = span
    anchor: str | None = None
    head: str | None = None
    redacted = 0
    for batch in repo.audit_batches(first, last, ctx.batch_size):
        pseudonyms = sorted(
            {r["subject"] for r in batch if (r["subject"] or "").startswith(PSEUDONYM_PREFIX)}
        )
        places = repo.candidate_regions(pseudonyms) if pseudonyms else {}
        for row in batch:
            anchor = row["prev_hash"] if anchor is None else anchor
            head = row["hash"]
            subject = row["subject"] or ""
            visible = True
            if subject.startswith(PSEUDONYM_PREFIX):
                residence, regions = places.get(subject, (None, set()))
                visible = export.region in regions and ctx.admit(
                    subject, CHINA in regions or residence == CHINA
                )
            if visible:
                table.add(
                    {
                        "seq": row["seq"],
                        "at": row["at"],
                        "actor": row["actor"],
                        "action": row["action"],
                        "subject": row["subject"],
                        "details_json": row["details"],
                        "prev_hash": row["prev_hash"],
                        "hash": row["hash"],
                        "redacted": False,
                    }
                )
            else:
                redacted += 1
                table.add(
                    {
                        **dict.fromkeys(AUDIT_COLUMNS),
                        "seq": row["seq"],
                        "prev_hash": row["prev_hash"],
                        "hash": row["hash"],
                        "redacted": True,
                    }
                )
        ctx.progress((batch[-1]["seq"] - first + 1) / (last - first + 1), "audit_log")
    bundle.notes["audit_chain"] = {
        "first_seq": first,
        "last_seq": last,
        "anchor_prev_hash": anchor,
        "head_hash": head,
        "entries": table.rows,
        "redacted": redacted,
        "hash": "sha256(json.dumps([prev_hash, at, actor, action, subject, details_json], "
        "sort_keys=True, separators=(',', ':'), ensure_ascii=False))",
    }


RECORDING_COLUMNS = (
    "pseudonym",
    "requisition_id",
    "region",
    "recording_id",
    "interview_id",
    "content_type",
    "bytes",
    "sha256",
    "created_at",
    "file",
)


def _media_blocks(reader: io.RawIOBase) -> Iterator[bytes]:
    while block := reader.read(MEDIA_BLOCK):
        yield block


def write_recordings(ctx: ExportContext, bundle: BundleWriter) -> None:
    """Recordings of the period (decrypted from the spool into the encrypted bundle)."""
    export, repo, store = ctx.export, ctx.repo, ctx.store
    spool = Spool(ctx.config.paths.spool, chunk_size=ctx.config.media.spool_chunk_bytes)
    table = bundle.table("recordings", RECORDING_COLUMNS, formats=("jsonl", "csv"))
    total = max(1, repo.recording_count(export.region, export.period_start, export.period_end))
    erased = done = 0
    for batch in repo.recording_batches(
        export.region, export.period_start, export.period_end, ctx.batch_size
    ):
        for row in batch:
            done += 1
            pseudonym = row["pseudonym"]
            china = is_china_data(row["region"], row["residence_region"])
            if not ctx.admit(pseudonym, china, sensitive=True):
                continue
            try:
                key = store.vault.key_for(pseudonym)
            except NotFoundError:
                erased += 1  # crypto-shredded: nothing left to export
                continue
            extension = mimetypes.guess_extension(row["content_type"] or "") or ".bin"
            path = f"media/{pseudonym}/recording-{row['id']}{extension}"
            with spool.open(row["spool_name"], bytes(row["wrapped_data_key"]), key) as reader:
                digest = bundle.add_stream(path, row["size_bytes"], _media_blocks(reader))
            if digest != row["sha256"]:
                raise ExportError(f"recording {row['id']} does not match its recorded SHA-256")
            table.add(
                {
                    "pseudonym": pseudonym,
                    "requisition_id": row["requisition_id"],
                    "region": row["region"],
                    "recording_id": row["id"],
                    "interview_id": row["interview_id"],
                    "content_type": row["content_type"],
                    "bytes": row["size_bytes"],
                    "sha256": digest,
                    "created_at": row["created_at"],
                    "file": path,
                }
            )
            ctx.progress(done / total, "recordings")
    bundle.notes["erased_recordings_skipped"] = erased


register_kind(
    KindWriter(
        "decisions_scores",
        "Per candidate pseudonym: requisition, region, decisions, AI and current scores.",
        write_decisions_scores,
    )
)
register_kind(
    KindWriter(
        "audit_log",
        "The audit log of the period (hash chain, pseudonymous, out-of-region entries redacted).",
        write_audit_log,
    )
)
register_kind(
    KindWriter(
        "recordings",
        "Interview recordings (video and audio) of the period, with their metadata.",
        write_recordings,
        media=True,
    )
)


# --- Building ---------------------------------------------------------------------------------


def _bundle_name(export: ExportRequest, created_at: str) -> str:
    stamp = from_stamp(created_at).strftime("%Y%m%dT%H%M%SZ")
    return f"export-{export.id:06d}-{export.kind}-{export.region}-{stamp}{BUNDLE_SUFFIX}"


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
    _require_region(principal_of(user), export.region)
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


def _sweep_partials(folder: Path, export_id: int) -> None:
    for stale in folder.glob(f"{PARTIAL_PREFIX}export-{export_id:06d}-*"):
        stale.unlink(missing_ok=True)


def sweep_partial_bundles(config: ApplianceConfig, *, min_age_s: float = 3600.0) -> list[str]:
    """Delete half-written bundles (ciphertext) a dead worker left; for the worker's start."""
    folder = exports_dir(config)
    cutoff = time.time() - min_age_s
    removed = []
    for stale in folder.glob(f"{PARTIAL_PREFIX}*") if folder.is_dir() else ():
        if stale.stat().st_mtime < cutoff:
            stale.unlink(missing_ok=True)
            removed.append(stale.name)
    return removed


def _manifest(
    ctx: ExportContext,
    bundle: BundleWriter,
    created_at: str,
    public_pem: str,
    public_raw: bytes,
) -> bytes:
    export = ctx.export
    counts: dict[str, Any] = {
        "files": len(bundle.files),
        "tables": {name: table.rows for name, table in bundle.tables.items()},
        "withheld": {"china_region_individuals": len(ctx.withheld_china)},
    }
    if export.cross_border:
        counts["cn3"] = {
            "individuals": len(ctx.china_individuals),
            "sensitive_individuals": len(ctx.china_sensitive),
        }
    manifest: dict[str, Any] = {
        "format": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "export_id": export.id,
        "kind": export.kind,
        "region": export.region,
        "period": {"start": export.period_start, "end": export.period_end, "end_exclusive": True},
        "created_at": created_at,
        "requested_by": f"user:{export.requested_by}",
        "recipient": {
            "age_recipient": export.age_recipient,
            "location_country": export.recipient_country,
            "cross_border": export.cross_border,
        },
        "site": ctx.config.site.name,
        "device_public_key": public_pem,
        "device_key_sha256": hashlib.sha256(public_raw).hexdigest(),
        "counts": counts,
        "files": bundle.files,
        "signature": {"file": SIGNATURE_NAME, "algorithm": "Ed25519", "encoding": "base64"},
        **bundle.notes,
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True)
    return text.encode("utf-8") + b"\n"


def _checkpoint_bytes(checkpoint: dict[str, Any]) -> bytes:
    plain = {
        key: value.hex() if isinstance(value, bytes | bytearray | memoryview) else value
        for key, value in checkpoint.items()
    }
    return json.dumps(plain, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"


def _refused(
    store: Store, repo: ExportRepository, export: ExportRequest, error: Exception
) -> ExportError:
    """Mark the export failed for good, log why, and give the error to raise."""
    rule = getattr(error, "rule", None)
    with store.transaction():
        repo.mark_failed(export.id, str(error))
        store.audit.append(
            "exports",
            "export.refused",
            subject=f"export:{export.id}",
            details={"rule": rule, "error": str(error)},
        )
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
    _sweep_partials(folder, export.id)
    created_at = now_stamp()
    name = _bundle_name(export, created_at)
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
            bundle.add_file(CHECKPOINT_NAME, _checkpoint_bytes(checkpoint))
        report_progress(0.96, "signing")
        manifest = _manifest(ctx, bundle, created_at, public_pem, public_raw)
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
    with store.transaction():
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
        store.audit.append(
            "exports",
            "export.created",
            subject=f"export:{ctx.export.id}",
            details={
                "bundle_sha256": facts.bundle_sha256,
                "manifest_sha256": facts.manifest_sha256,
                "files": facts.counts["files"],
                "tables": facts.counts["tables"],
                "cn3": cn3,
            },
        )


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

