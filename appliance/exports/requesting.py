"""Asking for export bundles, and following them: status, listing, download.

An auditor registers an age X25519 public key (`age1…`) and asks for a bundle of one kind,
one region and one period; a job of kind "export" builds it in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.exports.bundle_files import exports_dir
from appliance.exports.kinds import EXPORT_KINDS
from appliance.exports.rules import (
    ExportError,
    check_recipient,
    checked_reason,
    parse_period,
    require_region,
)
from appliance.platform.config import ApplianceConfig, WorkerConfig
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.exports import ExportRepository, ExportRequest

JOB_KIND = "export"


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
    require_region(principal, region)
    writer = EXPORT_KINDS.get(kind)
    if writer is None:
        raise ExportError(f"unknown export kind {kind!r}; one of: {', '.join(EXPORT_KINDS)}")
    start, end = parse_period(period_start, period_end)
    repo = ExportRepository.of(store)
    recipient = repo.recipient(principal.user_id)
    if recipient is None:
        raise ExportError("register your age public key before asking for an export")
    actor = principal.actor
    try:
        cross_border = check_recipient(recipient, region, media=writer.media)
        why = checked_reason(reason, "to export videos") if writer.media else None
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
    with store.audited(actor, "export.requested", **details) as entry:
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
        entry.subject = f"export:{export.id}"
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
            principal.actor,
            "export.downloaded",
            subject=f"export:{export.id}",
            details={"bundle_sha256": export.bundle_sha256},
        )
    return export, path
