"""HTTPS for the web UI: the certificate, and its private key sealed at rest.

Provisioning makes a self-signed certificate (ECDSA P-256) whose SHA-256 fingerprint the
operator compares in the browser the first time; `tls import` installs the organisation's own.
The private key never lies on disk in clear: it is sealed with AES-256-GCM under a key derived
(HKDF-SHA256) from the device key, which itself is sealed under the operator's passphrase.
`serve` opens it into an anonymous in-memory file that only gunicorn inherits.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID

from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ApplianceError
from appliance.platform.paths import DataPaths

SEAL_INFO = b"interview-appliance tls key v1"
SEAL_MAGIC = b"IATLS1"
VALID_DAYS = 825  # the longest validity browsers accept for a server certificate
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
WILDCARDS = frozenset({"0.0.0.0", "::"})  # noqa: S104 - names for "every address", never bound here


class TlsError(ApplianceError):
    """The web UI's certificate or key cannot be made, read or used."""

    exit_code = 50


@dataclass(frozen=True)
class Certificate:
    """A certificate as installed: its PEM and what the operator checks."""

    pem: bytes
    fingerprint: str  # SHA-256, as browsers show it: AB:CD:...
    subject: str
    not_after: dt.datetime
    names: list[str]


def _sealing_key(device_key: bytes) -> bytes:
    if not device_key:
        raise TlsError("the key set has no device key: unlock the appliance once to add one")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SEAL_INFO).derive(device_key)


def seal_private_key(device_key: bytes, key_pem: bytes) -> bytes:
    """The PEM private key encrypted under the device-derived key."""
    nonce = secrets.token_bytes(12)
    return SEAL_MAGIC + nonce + AESGCM(_sealing_key(device_key)).encrypt(nonce, key_pem, SEAL_MAGIC)


def open_private_key(device_key: bytes, sealed: bytes) -> bytes:
    """The PEM private key from its sealed form; TlsError when it does not open."""
    if not sealed.startswith(SEAL_MAGIC):
        raise TlsError("the sealed TLS key is not in a known format")
    body = sealed[len(SEAL_MAGIC) :]
    try:
        return AESGCM(_sealing_key(device_key)).decrypt(body[:12], body[12:], SEAL_MAGIC)
    except Exception:
        raise TlsError("the sealed TLS key does not open with this appliance's keys") from None


def describe(pem: bytes) -> Certificate:
    """Read a PEM certificate (the first of a chain)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise TlsError(f"not a PEM certificate: {exc}") from None
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)] + [
            str(a) for a in san.get_values_for_type(x509.IPAddress)
        ]
    except x509.ExtensionNotFound:
        names = []
    return Certificate(
        pem,
        ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        cert.subject.rfc4514_string(),
        cert.not_valid_after_utc,
        names,
    )


def self_signed(host: str, *, now: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """A new self-signed certificate for this machine (its name, `host`, loopback) and its key,
    both PEM."""
    moment = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    machine = socket.gethostname() or "interview-appliance"
    dns = sorted({machine, "localhost"} | ({host} if not _is_ip(host) and host else set()))
    ips = sorted(
        ({"127.0.0.1", "::1"} | ({host} if _is_ip(host) else set()) | _own_addresses()) - WILDCARDS
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, machine)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - dt.timedelta(minutes=5))
        .not_valid_after(moment + dt.timedelta(days=VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(d) for d in dns]
                + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _own_addresses() -> set[str]:
    """This machine's interface addresses: a browser may reach the box by any of them."""
    found = set()
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                text = address.address.split("%", 1)[0]
                if _is_ip(text) and not ipaddress.ip_address(text).is_link_local:
                    found.add(text)
    return found


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def install(paths: DataPaths, device_key: bytes, cert_pem: bytes, key_pem: bytes) -> Certificate:
    """Install a certificate and its key (the key sealed); the pair must belong together."""
    info = describe(cert_pem)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TlsError(f"not an unencrypted PEM private key: {exc}") from None
    public = x509.load_pem_x509_certificate(cert_pem).public_key()
    pem = serialization.Encoding.PEM
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(pem, spki) != public.public_bytes(pem, spki):
        raise TlsError("the private key does not belong to the certificate")
    paths.keys.mkdir(parents=True, exist_ok=True)
    _write_private(paths.tls_sealed_key, seal_private_key(device_key, key_pem))
    _write_private(paths.tls_certificate, cert_pem)
    return info


def _write_private(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def ensure_certificate(config: ApplianceConfig, device_key: bytes) -> Certificate:
    """The installed certificate, made (self-signed) when there is none yet."""
    paths = config.paths
    if paths.tls_certificate.is_file() and paths.tls_sealed_key.is_file():
        return describe(paths.tls_certificate.read_bytes())
    cert_pem, key_pem = self_signed(config.web.host)
    return install(paths, device_key, cert_pem, key_pem)


def uses_tls(config: ApplianceConfig) -> bool:
    """Whether the web UI is served over HTTPS; TlsError for plain HTTP beyond loopback."""
    loopback = config.web.host in LOOPBACK or config.web.host.startswith("127.")
    if config.web.tls == "off":
        if not loopback:
            raise TlsError(
                f"plain HTTP is allowed on a loopback address only, not on {config.web.host}: "
                "set web.tls to auto or on"
            )
        return False
    return config.web.tls == "on" or not loopback


def key_in_memory(config: ApplianceConfig, device_key: bytes) -> int:
    """An anonymous in-memory file holding the opened private key (its descriptor, to be
    inherited by the web server); nothing is written to disk."""
    key_pem = open_private_key(device_key, config.paths.tls_sealed_key.read_bytes())
    fd = os.memfd_create("tls-key", os.MFD_CLOEXEC)
    os.write(fd, key_pem)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


__all__ = [
    "Certificate",
    "TlsError",
    "describe",
    "ensure_certificate",
    "install",
    "key_in_memory",
    "open_private_key",
    "seal_private_key",
    "self_signed",
    "uses_tls",
]
