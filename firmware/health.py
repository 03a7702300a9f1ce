"""Health of the box: disk, memory and load thresholds read with psutil."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psutil

MIN_FREE_DISK_BYTES = 2 * 1024**3
MIN_AVAILABLE_MEMORY_BYTES = 512 * 1024**2


@dataclass(frozen=True)
class HealthReport:
    """Readings and the problems they show (empty: healthy)."""

    disk_free_bytes: int
    memory_available_bytes: int
    load_per_cpu: float
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when no threshold is crossed."""
        return not self.problems


def check_health(
    data_dir: Path,
    *,
    min_free_disk: int = MIN_FREE_DISK_BYTES,
    min_memory: int = MIN_AVAILABLE_MEMORY_BYTES,
) -> HealthReport:
    """Read disk space of the data directory, available memory and load."""
    disk = psutil.disk_usage(str(data_dir))
    memory = psutil.virtual_memory()
    load = psutil.getloadavg()[0] / (psutil.cpu_count() or 1)
    problems = []
    if disk.free < min_free_disk:
        problems.append(f"low disk space: {disk.free // 2**20} MiB free in the data directory")
    if memory.available < min_memory:
        problems.append(f"low memory: {memory.available // 2**20} MiB available")
    return HealthReport(disk.free, memory.available, round(load, 2), problems)
