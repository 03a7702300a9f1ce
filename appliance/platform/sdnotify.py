"""systemd's notify protocol without a library: one datagram to `$NOTIFY_SOCKET` per message.

Outside a `Type=notify` unit (no variable set) every call does nothing, so commands that use it
run the same by hand, under cron or in a container.
"""

from __future__ import annotations

import logging
import os
import socket

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"

logger = logging.getLogger(__name__)


def notify(*fields: str) -> bool:
    """Send `KEY=value` lines (e.g. 'READY=1', 'WATCHDOG=1', 'STATUS=…') to the service manager;
    False when there is none or it could not be reached (never an error: a missed message is
    the manager's to notice, not a reason to stop)."""
    address = os.environ.get(NOTIFY_SOCKET_ENV, "")
    if not address or not fields:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket, as systemd names them
    elif not address.startswith("/"):
        return False  # vsock and other schemes: not used on the appliance
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode("utf-8"))
    except OSError as exc:
        logger.debug("could not notify the service manager: %s", exc)
        return False
    return True


def watchdog_interval_s() -> float | None:
    """The service manager's watchdog timeout for this process (`WatchdogSec=`), if any."""
    usec = os.environ.get(WATCHDOG_USEC_ENV, "")
    pid = os.environ.get(WATCHDOG_PID_ENV, "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process (a parent that started this one)
    return int(usec) / 1_000_000


__all__ = ["notify", "watchdog_interval_s"]
