"""Private scratch folders for a job: mode 0700, on tmpfs when possible, wiped afterwards."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

SHM = Path("/dev/shm")  # noqa: S108 - a per-user 0700 folder is made inside it


def scratch_root(fallback: Path) -> Path:
    """RAM-backed /dev/shm when writable (nothing reaches a disk), else the data dir's tmp."""
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        return SHM / f"appliance-{os.getuid()}"
    return fallback


def make_scratch(root: Path, label: str) -> Path:
    """A new private folder under `root`."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    folder = root / f"{label}-{secrets.token_hex(6)}"
    folder.mkdir(mode=0o700)
    return folder


def wipe(folder: Path) -> None:
    """Overwrite every file with zeros, then delete the folder."""
    if not folder.exists():
        return
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            with open(path, "r+b") as handle:
                remaining = size
                block = b"\x00" * min(size, 1 << 20)
                while remaining > 0:
                    handle.write(block[: min(remaining, len(block))])
                    remaining -= len(block)
                handle.flush()
                os.fsync(handle.fileno())
    shutil.rmtree(folder, ignore_errors=True)
