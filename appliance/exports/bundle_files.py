"""Where bundles lie on disk: the exports folder, bundle names, and the half-written files
(ciphertext, `.partial-…`) a build leaves until it renames them, or a dead worker leaves for good.
"""

from __future__ import annotations

import time
from pathlib import Path

from appliance.platform.clock import from_stamp
from appliance.platform.config import ApplianceConfig
from appliance.store.exports import ExportRequest

EXPORTS_FOLDER = "exports"
BUNDLE_SUFFIX = ".tar.age"
PARTIAL_PREFIX = ".partial-"


def exports_dir(config: ApplianceConfig) -> Path:
    """Where encrypted bundles are kept (nothing else is ever written there)."""
    return config.paths.root / EXPORTS_FOLDER


def bundle_name(export: ExportRequest, created_at: str) -> str:
    """The file name of an export's bundle, made at `created_at` (a store stamp)."""
    stamp = from_stamp(created_at).strftime("%Y%m%dT%H%M%SZ")
    return f"export-{export.id:06d}-{export.kind}-{export.region}-{stamp}{BUNDLE_SUFFIX}"


def sweep_partials_of(folder: Path, export_id: int) -> None:
    """Delete what an earlier attempt at this export left half-written (before a new one)."""
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
