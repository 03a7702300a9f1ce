"""Reading files the way an attacker would: every regular file under a folder, and which
secret byte strings ("needles") each one holds, scanned in a forked process."""

from __future__ import annotations

import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

READ_BLOCK = 1 << 20


def regular_files(root: Path) -> dict[str, int]:
    """Every regular file under `root` (no symlinks followed) with its mtime in nanoseconds."""
    found: dict[str, int] = {}
    if not root.is_dir():
        return found
    for folder, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:  # gone meanwhile (another test's scratch file, say)
                continue
            if stat.S_ISREG(info.st_mode):
                found[path] = info.st_mtime_ns
    return found


def file_hits(path: str, needles: dict[str, bytes]) -> list[str]:
    """Labels of the needles found in one file, also across block boundaries."""
    overlap = max(len(needle) for needle in needles.values()) - 1
    found: set[str] = set()
    try:
        with open(path, "rb") as handle:
            tail = b""
            while block := handle.read(READ_BLOCK):
                window = tail + block
                found.update(label for label, needle in needles.items() if needle in window)
                tail = window[-overlap:]
    except (FileNotFoundError, PermissionError):
        return []
    return sorted(found)


def scan(paths: list[str], needles: dict[str, bytes]) -> list[tuple[str, str]]:
    """(path, needle label) for every needle found in every file."""
    return [(path, label) for path in paths for label in file_hits(path, needles)]


def scan_in_child(paths: list[str], needles: dict[str, bytes]) -> list[tuple[str, str]]:
    """`scan` in a forked process, so its file handles never touch this process's locks."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        return pool.submit(scan, paths, needles).result(timeout=120)
