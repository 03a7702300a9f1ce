"""The watchdog: every round, the readiness checks of `/readyz` and the requeue of jobs whose
worker died; each problem is logged once when it appears and once when it clears."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass, field

from appliance.jobs.readiness import OK, is_ready, readiness_checks
from appliance.jobs.worker import recover_abandoned
from appliance.platform.config import ApplianceConfig
from appliance.platform.sdnotify import notify
from appliance.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Round:
    """What one round found: each check's verdict, the jobs requeued, what changed."""

    checks: dict[str, str]
    requeued: list[int] = field(default_factory=list)
    appeared: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """True when every check is 'ok'."""
        return is_ready(self.checks)

    def failing(self) -> dict[str, str]:
        """The checks that are not 'ok', with what is wrong."""
        return {name: verdict for name, verdict in self.checks.items() if verdict != OK}

    def summary(self) -> str:
        """One line for the service manager's status: 'ready' or the failing checks' names."""
        failing = self.failing()
        return "ready" if not failing else "not ready: " + ", ".join(sorted(failing))


class Watchdog:
    """Watches one appliance through its store; remembers which checks were failing."""

    def __init__(self, config: ApplianceConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.hostname = socket.gethostname()
        self._failing: dict[str, str] = {}
        self._round_failed = False

    def round(self) -> Round:
        """Check readiness, requeue abandoned jobs, log what appeared or cleared."""
        checks = readiness_checks(self.store, self.config)
        requeued: list[int] = []
        if checks.get("database") == OK:
            # The same rule the workers apply when they start and while idle: a dead worker on
            # this host by its pid, one elsewhere by its heartbeat's age.
            requeued = recover_abandoned(
                self.store, hostname=self.hostname, stale_after_s=self.config.worker.stale_after_s
            )
        failing = {name: verdict for name, verdict in checks.items() if verdict != OK}
        appeared = sorted(name for name in failing if name not in self._failing)
        cleared = sorted(name for name in self._failing if name not in failing)
        for name in appeared:
            # Logged when it appears, not every round: a failing check is one alarm, not a
            # line every 30 seconds. The verdicts name no candidate (see readiness_checks).
            logger.warning("watchdog: %s not ready: %s", name, failing[name])
        for name in cleared:
            logger.warning("watchdog: %s ok again", name)
        if requeued:
            logger.warning(
                "watchdog: requeued %d job(s) left by a dead worker: %s",
                len(requeued),
                ", ".join(str(job_id) for job_id in requeued),
            )
        self._failing = failing
        return Round(checks, requeued, appeared, cleared)

    def run(self, interval_s: float, stop: threading.Event) -> None:
        """Run rounds every `interval_s` until `stop` is set, telling systemd (when it started
        this process as `Type=notify`) that it is up and, after each good round, alive."""
        ready_sent = False
        while not stop.is_set():
            try:
                found = self.round()
            except Exception as exc:
                # No WATCHDOG=1 for a round that failed: if it keeps failing (a database that
                # blocks, a broken connection), systemd's WatchdogSec restarts this process.
                if not self._round_failed:
                    logger.error("watchdog: a round failed: %s", type(exc).__name__)
                self._round_failed = True
            else:
                if self._round_failed:
                    logger.warning("watchdog: rounds work again")
                self._round_failed = False
                fields = ["WATCHDOG=1", f"STATUS={found.summary()}"]
                notify(*fields, *([] if ready_sent else ["READY=1"]))
                ready_sent = True
            stop.wait(interval_s)
        notify("STOPPING=1")


__all__ = ["Round", "Watchdog"]
