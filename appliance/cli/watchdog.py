"""`watchdog [--once] [--interval S]`: readiness checks and requeues for systemd or cron."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from types import FrameType
from typing import Any

from appliance.cli.common import add_config_arguments, load

DEFAULT_INTERVAL_S = 30.0


def cmd_watchdog(args: argparse.Namespace) -> int:
    """Check readiness and requeue jobs of dead workers, every --interval seconds (--once: one
    round, exit 0 when ready, 52 naming what is not)."""
    from appliance.jobs.readiness import NotReadyError
    from appliance.jobs.watchdog import Watchdog
    from appliance.platform.errors import ConfigError
    from appliance.platform.locks import shared_lock
    from appliance.platform.sdnotify import watchdog_interval_s
    from appliance.store.runtime import obtain_keyset, open_store

    if args.interval <= 0:
        raise ConfigError("--interval must be more than 0 seconds")
    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    # Shared, like serve's: `migrate` and `rekey` wait for the watchdog to be stopped too.
    with shared_lock(config.paths.lock):
        store = open_store(config, keyset)
        try:
            watchdog = Watchdog(config, store)
            if args.once:
                found = watchdog.round()
                print(
                    json.dumps(
                        {"ready": found.ready, "checks": found.checks, "requeued": found.requeued}
                    )
                )
                if not found.ready:
                    reasons = "; ".join(f"{k}: {v}" for k, v in found.failing().items())
                    raise NotReadyError(f"not ready: {reasons}")
                return 0
            interval = args.interval
            deadline = watchdog_interval_s()
            if deadline is not None:
                interval = min(interval, deadline / 3)  # ping well within WatchdogSec=
            stop = threading.Event()

            def on_signal(signum: int, frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            watchdog.run(interval, stop)
        finally:
            store.close()
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `watchdog [--once] [--interval S]` to the command line."""
    command: argparse.ArgumentParser = subparsers.add_parser(
        "watchdog", help=(cmd_watchdog.__doc__ or "").strip()
    )
    command.set_defaults(handler=cmd_watchdog)
    add_config_arguments(command)
    command.add_argument("--once", action="store_true", help="one round, then exit (0: ready)")
    command.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_S,
        help=f"seconds between rounds (default {DEFAULT_INTERVAL_S:g})",
    )
    return command
