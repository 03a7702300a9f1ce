"""Private scratch folders for a job: mode 0700, on tmpfs when possible, wiped afterwards."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from pathlib import Path

import psutil

_OWNER = re.compile(r"-p(?P<pid>\d+)-(?P<started>\d+)-[0-9a-f]+$")
SHM = Path("/dev/shm")  # noqa: S108 - a per-user 0700 folder is made inside it


def scratch_root(data_dir: Path) -> Path:
    """RAM-backed /dev/shm when writable (nothing reaches a disk), else the data dir's tmp.

    The folder is specific to the user and the data directory, so two appliances never share it.
    """
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
        return SHM / f"appliance-{os.getuid()}-{digest}"
    return data_dir / "tmp"


def make_scratch(root: Path, label: str) -> Path:
    """A new private folder under `root`, named after the process that owns it."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    started = int(psutil.Process().create_time())
    folder = root / f"{label}-p{os.getpid()}-{started}-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o700)
    return folder


def sweep_orphans(root: Path) -> list[str]:
    """Wipe scratch folders whose owning process is gone (a worker killed mid-job)."""
    removed = []
    for folder in root.glob("*-p*-*-*") if root.is_dir() else []:
        match = _OWNER.search(folder.name)
        if match is None or not folder.is_dir():
            continue
        pid, started = int(match["pid"]), int(match["started"])
        try:
            process = psutil.Process(pid)
            alive = (
                process.status() != psutil.STATUS_ZOMBIE and int(process.create_time()) == started
            )
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            alive = False
        if not alive:
            wipe(folder)
            removed.append(folder.name)
    return removed


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
