"""`healthcheck`: is the web UI of this box answering? For a container's HEALTHCHECK.

It asks the running `serve` for `/healthz` on this machine, over HTTPS where the web UI uses
it, trusting only the box's own certificate (its name is not checked: an organisation's
certificate may not name the loopback address). Exit 0 when the page answers 200, 1 otherwise
(the container convention: 1 is "unhealthy"), with one line saying why. It needs no passphrase
and opens no database.
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import sys
from typing import Any

from appliance.cli.common import add_config_arguments, load
from appliance.platform.config import ApplianceConfig

UNHEALTHY = 1
DEFAULT_TIMEOUT_S = 5.0
WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - bound to every address: ask on loopback


def _target(config: ApplianceConfig) -> tuple[str, int]:
    host = config.web.host
    if host in WILDCARDS:
        host = "::1" if host == "::" else "127.0.0.1"
    return host, config.web.port


def _connection(config: ApplianceConfig, timeout: float) -> http.client.HTTPConnection:
    from appliance.security.tls import uses_tls

    host, port = _target(config)
    if not uses_tls(config):
        return http.client.HTTPConnection(host, port, timeout=timeout)
    context = ssl.create_default_context(cafile=str(config.paths.tls_certificate))
    context.check_hostname = False  # the chain is checked against the box's own certificate
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a CA-issued leaf is trusted as is
    return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 when this box's web UI answers /healthz, 1 (unhealthy) otherwise."""
    config = load(args)
    try:
        connection = _connection(config, args.timeout)
        try:
            connection.request("GET", "/healthz")
            status = connection.getresponse().status
        finally:
            connection.close()
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        print(f"unhealthy: the web UI does not answer ({type(exc).__name__})", file=sys.stderr)
        return UNHEALTHY
    if status != 200:
        print(f"unhealthy: /healthz answered {status}", file=sys.stderr)
        return UNHEALTHY
    print("healthy")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `healthcheck [--timeout S]` to the command line."""
    command: argparse.ArgumentParser = subparsers.add_parser(
        "healthcheck", help=(cmd_healthcheck.__doc__ or "").strip()
    )
    command.set_defaults(handler=cmd_healthcheck)
    add_config_arguments(command)
    command.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for the answer (default {DEFAULT_TIMEOUT_S:g})",
    )
    return command
