"""`tls show|import|renew`: the web UI's certificate (its private key is sealed at rest)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from appliance.cli.common import add_config_arguments, load


def _print(certificate: Any, action: str) -> None:
    print(f"{action}: {certificate.subject}")
    print(f"  SHA-256 fingerprint: {certificate.fingerprint}")
    print(f"  valid until: {certificate.not_after:%Y-%m-%d} UTC")
    print(f"  names: {', '.join(certificate.names) or '-'}")


def cmd_tls_show(args: argparse.Namespace) -> int:
    """Show the web UI's certificate: subject, fingerprint, expiry, names."""
    from appliance.security.tls import TlsError, describe

    config = load(args)
    if not config.paths.tls_certificate.is_file():
        raise TlsError("no certificate is installed yet: `serve` or `tls renew` makes one")
    _print(describe(config.paths.tls_certificate.read_bytes()), "certificate")
    return 0


def cmd_tls_import(args: argparse.Namespace) -> int:
    """Install the organisation's certificate (PEM, with its chain) and private key (PEM); the
    key is sealed: the file given can then be removed. Restart `serve` to use it."""
    from appliance.security.tls import TlsError, install
    from appliance.store.runtime import obtain_keyset

    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    try:
        cert_pem, key_pem = Path(args.cert).read_bytes(), Path(args.key).read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read {exc.filename}: {exc.strerror}") from None
    _print(install(config.paths, keyset.device, cert_pem, key_pem), "installed")
    return 0


def cmd_tls_renew(args: argparse.Namespace) -> int:
    """Replace the certificate with a new self-signed one (browsers will ask again)."""
    from appliance.security.tls import install, self_signed
    from appliance.store.runtime import obtain_keyset

    config = load(args)
    keyset = obtain_keyset(config, passphrase_file=args.passphrase_file)
    cert_pem, key_pem = self_signed(config.web.host)
    _print(install(config.paths, keyset.device, cert_pem, key_pem), "made")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `tls show|import|renew` to the command line."""
    tls: argparse.ArgumentParser = subparsers.add_parser(
        "tls", help="the web UI's HTTPS certificate"
    )
    commands = tls.add_subparsers(dest="tls_command", required=True)
    show = commands.add_parser("show", help=(cmd_tls_show.__doc__ or "").strip())
    show.set_defaults(handler=cmd_tls_show)
    add_config_arguments(show)
    imported = commands.add_parser("import", help=(cmd_tls_import.__doc__ or "").strip())
    imported.set_defaults(handler=cmd_tls_import)
    add_config_arguments(imported)
    imported.add_argument("--cert", required=True, help="certificate file (PEM, chain after it)")
    imported.add_argument("--key", required=True, help="private key file (PEM, unencrypted)")
    renew = commands.add_parser("renew", help=(cmd_tls_renew.__doc__ or "").strip())
    renew.set_defaults(handler=cmd_tls_renew)
    add_config_arguments(renew)
    return tls
