"""A runtime guard that nothing leaves the box: every network connection and name look-up of
this process is checked by a Python audit hook, and refused unless it stays on this machine or
goes to a destination the operator configured (the SMTP relay, the CalDAV server, the SMS
gateway, or an address listed in `security.outbound_allow`).

The hook sees what Python's own socket layer does, and so what every pure-Python library does
(HTTP clients, SMTP, telemetry reporters written in Python). Native code that opens sockets
itself is not seen: the network namespace test (`tests/test_outbound_guard.py`) covers that.
An audit hook cannot be removed once added; installing again only widens or narrows the same
hook's list, so a process has at most one.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from appliance.platform.config import ApplianceConfig

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefusedError(PermissionError):
    """A connection or look-up that would leave the box, refused by the outbound guard."""


@dataclass(frozen=True)
class Destination:
    """A host (name or address) and port this process may connect to."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Destination:
        """`host:port`, `[v6]:port` or a URL (its scheme's default port when none is given)."""
        value = text.strip()
        if "://" in value:
            parts = urlsplit(value)
            if not parts.hostname:
                raise ValueError(f"no host in {text!r}")
            port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
            if port is None:
                raise ValueError(f"no port in {text!r}")
            return cls(parts.hostname.lower(), port)
        host, sep, port_text = value.rpartition(":")
        if not sep or not port_text.isdigit() or not host:
            raise ValueError(f"expected host:port, got {text!r}")
        return cls(host.strip("[]").lower(), int(port_text))


def is_local_address(host: str) -> bool:
    """Whether an address or name means this machine (loopback, or the wildcard)."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES or name == "":
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@dataclass
class _Guard:
    """The allowed destinations, and the addresses their names resolved to (filled lazily)."""

    allowed: set[Destination] = field(default_factory=set)
    resolved: dict[str, set[str]] = field(default_factory=dict)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    resolving: threading.local = field(default_factory=threading.local)

    def host_allowed(self, host: str) -> bool:
        return is_local_address(host) or any(d.host == host.lower() for d in self.allowed)

    def address_allowed(self, host: str, port: int) -> bool:
        if is_local_address(host):
            return True
        for destination in self.allowed:
            if destination.port != port:
                continue
            if destination.host == host.lower() or host in self._addresses(destination.host):
                return True
        return False

    def _addresses(self, name: str) -> set[str]:
        """What an allowed name resolves to (looked up once; the look-up itself is allowed)."""
        with self.lock:
            known = self.resolved.get(name)
        if known is not None:
            return known
        try:
            self.resolving.active = True
            found = {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
        except OSError:
            found = set()
        finally:
            self.resolving.active = False
        with self.lock:
            self.resolved[name] = found
        return found

    def refuse(self, what: str) -> None:
        with self.lock:
            self.refused += 1
        # The destination is the box's own configuration or a library's: no candidate data.
        logger.warning("outbound %s refused: nothing may leave the box", what)
        raise OutboundRefusedError(f"outbound {what} refused: nothing may leave the box")


_GUARD: _Guard | None = None
_INSTALL_LOCK = threading.Lock()


def _address(value: Any) -> tuple[str, int] | None:
    """(host, port) of an AF_INET/AF_INET6 socket address; None for other families."""
    if isinstance(value, tuple) and len(value) >= 2 and isinstance(value[0], str):
        port = value[1]
        return value[0], int(port) if isinstance(port, int) else 0
    return None  # a Unix socket path or another family: stays on this machine


def _hook(event: str, args: tuple[Any, ...]) -> None:
    guard = _GUARD
    if guard is None or not event.startswith("socket."):
        return
    if event == "socket.getaddrinfo":
        host = args[0]
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if getattr(guard.resolving, "active", False) or host is None:
            return
        if not guard.host_allowed(str(host)):
            guard.refuse(f"look-up of {host}")
    elif event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        found = _address(args[1]) if len(args) > 1 else None
        if found is not None and not guard.address_allowed(*found):
            guard.refuse(f"connection to {found[0]} port {found[1]}")


def install_outbound_guard(allowed: Iterable[Destination]) -> None:
    """Refuse, from now on in this process, every connection and look-up that leaves the box
    except to `allowed` (loopback is always allowed). Safe to call again: the list is replaced."""
    global _GUARD
    with _INSTALL_LOCK:
        if _GUARD is None:
            _GUARD = _Guard(set(allowed))
            sys.addaudithook(_hook)
        else:
            with _GUARD.lock:
                _GUARD.allowed = set(allowed)
                _GUARD.resolved.clear()


def configured_destinations(config: ApplianceConfig) -> set[Destination]:
    """Where the configuration says this appliance talks to: the SMTP relay, the CalDAV
    server, the SMS gateway, and `security.outbound_allow`."""
    found: set[Destination] = set()
    scheduling = config.scheduling
    if scheduling.smtp_host:
        found.add(Destination(scheduling.smtp_host.lower(), scheduling.smtp_port))
    for url in (scheduling.caldav_url, scheduling.sms_gateway_url):
        if url:
            found.add(Destination.parse(url))
    found.update(Destination.parse(text) for text in config.security.outbound_allow)
    return found


def guard_process(config: ApplianceConfig) -> None:
    """Install the outbound guard in this process when the configuration asks for it."""
    if config.security.forbid_outbound:
        install_outbound_guard(configured_destinations(config))


def refused_count() -> int:
    """How many connections and look-ups the guard has refused in this process."""
    return 0 if _GUARD is None else _GUARD.refused


def guard_installed() -> bool:
    """Whether this process runs under the outbound guard."""
    return _GUARD is not None


__all__ = [
    "Destination",
    "OutboundRefusedError",
    "configured_destinations",
    "guard_installed",
    "guard_process",
    "install_outbound_guard",
    "is_local_address",
    "refused_count",
]
