"""Scheduled backups: the worker's chore queues one when the newest is `backup.interval_hours`
old, the batch lane takes it (a long copy never holds up what a person waits for), and the
chore keeps the erasure ledger in the backup folder current every minute."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from appliance.backup.create import create_backup
from appliance.backup.files import MANIFEST, BackupError, Manifest, complete_backups
from appliance.backup.ledger import sync_ledger
from appliance.platform.clock import from_stamp, utcnow
from appliance.platform.config import ApplianceConfig
from appliance.store import Store

logger = logging.getLogger(__name__)

JOB_KIND = "backup"
CHORE_INTERVAL_S = 60.0


def backup_due(config: ApplianceConfig) -> bool:
    """Whether the backup folder's newest complete backup is `interval_hours` old (or none)."""
    folder = config.backup.folder
    assert folder is not None
    backups = complete_backups(folder)
    if not backups:
        return True
    newest = backups[-1] / MANIFEST
    try:
        taken = from_stamp(Manifest.from_bytes(newest.read_bytes(), newest).created_at)
    except (BackupError, ValueError):
        return True  # an unreadable newest backup is no reason to stop taking them
    return utcnow() - taken >= timedelta(hours=config.backup.interval_hours)


def backup_chore(store: Store, config: ApplianceConfig, spool: object) -> object:
    """The worker's periodic chore: the ledger brought up to date, a backup queued when due."""
    folder = config.backup.folder
    if folder is None:
        return None
    if not folder.is_dir():
        # Perhaps an unmounted disk: never write backups onto the system disk in its place.
        logger.warning("the backup folder %s does not exist: no scheduled backup", folder)
        return None
    sync_ledger(store, folder)
    if not backup_due(config) or store.jobs.has_open(JOB_KIND):
        return None
    job = store.jobs.enqueue(
        JOB_KIND,
        max_open=config.worker.max_queued_jobs,
        max_attempts=config.worker.max_attempts,
    )
    return {"queued": job.id}


def backup_task(
    store: Store,
    config: ApplianceConfig,
    payload: dict[str, Any],
    report_progress: Callable[[float, str], None],
) -> dict[str, Any]:
    """The `backup` job: one backup into `backup.folder`, then the rotation."""
    folder = config.backup.folder
    if folder is None or not folder.is_dir():
        raise BackupError(f"the backup folder {folder} is not configured or does not exist")
    created = create_backup(store, config, folder, keep=config.backup.keep, actor="worker")
    report_progress(1.0, "written")
    return {
        "backup": created.path.name,
        "files": len(created.manifest.files),
        "bytes": created.manifest.total_bytes,
        "pruned": [path.name for path in created.pruned],
        "seconds": round(created.seconds, 2),
    }
