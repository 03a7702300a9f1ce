"""Advisory locks on the data directory: serving processes share it, maintenance takes it alone."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance.platform.errors import MaintenanceLockError


@contextmanager
def _flock(path: Path, mode: int, what: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MaintenanceLockError(what) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def shared_lock(path: Path) -> Iterator[None]:
    """Held by `serve`, the worker and the web app while they run."""
    with _flock(path, fcntl.LOCK_SH, "the appliance is in maintenance (migrate or rekey running)"):
        yield


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Held by migrate and rekey: refuses while any appliance process runs."""
    with _flock(path, fcntl.LOCK_EX, "stop the appliance (serve and workers) first"):
        yield
