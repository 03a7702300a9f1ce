"""The free-space floor: nothing is accepted that would fill the data directory's disk.

A full disk corrupts nothing here (SQLite and the spool write atomically) but stops every
write, sign-ins included; the floor keeps room for the database, the analysis and the
candidates' own answers. Staff uploads stop at the floor; the interview room, where a person
is answering now, goes on down to a quarter of it (`ROOM_SHARE`), so an answer being given is
not turned away because of a bulk upload.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import MediaRejectedError

ROOM_SHARE = 0.25
LOW_DISK_FACTOR = 2  # below this many floors, stale uploads are cleared sooner
LOW_DISK_STALE_S = 3600.0


class DiskSpaceError(MediaRejectedError):
    """Accepting the data would take the data directory's disk below its free-space floor."""

    exit_code = 49


def free_bytes(path: Path) -> int:
    """Free bytes on the disk holding `path` (for an unprivileged writer)."""
    return int(shutil.disk_usage(path).free)


def require_free_space(config: ApplianceConfig, incoming: int, *, room: bool = False) -> None:
    """Refuse `incoming` bytes (DiskSpaceError) when they would leave less than the floor."""
    floor = config.media.min_free_bytes
    if floor <= 0:
        return
    if room:
        floor = int(floor * ROOM_SHARE)
    left = free_bytes(config.data_dir) - max(0, incoming)
    if left < floor:
        raise DiskSpaceError(
            f"the appliance is short of disk space ({_mib(left + incoming)} MiB free, "
            f"the floor is {_mib(floor)} MiB): nothing was stored; ask the operator to free "
            "space or add a disk (media.min_free_bytes)"
        )


def stale_upload_age_s(config: ApplianceConfig) -> float:
    """How old an unfinished upload may get: shorter while the disk is low."""
    configured = config.media.stale_upload_hours * 3600.0
    floor = config.media.min_free_bytes
    if floor > 0 and free_bytes(config.data_dir) < LOW_DISK_FACTOR * floor:
        return min(configured, LOW_DISK_STALE_S)
    return configured


def _mib(value: int) -> int:
    return max(0, value) // 2**20


__all__ = ["DiskSpaceError", "free_bytes", "require_free_space", "stale_upload_age_s"]
