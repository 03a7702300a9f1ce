"""Vendor keys, small signed update bundles and an install root made by `update init`'s own code
(the same steps as tests/test_updates_bundle.py and test_updates_apply.py, kept small)."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.platform.config import ApplianceConfig
from appliance.store.keyring import Keyset
from firmware.bundle import PACKAGES, build_bundle
from firmware.slots import Install
from firmware.trust import TrustRoot
from firmware.updater import Box, init


@dataclass
class Vendor:
    """Three vendor keys (k1-k3), of which two must sign, and the box's trusted-keys file."""

    keys: list[Ed25519PrivateKey]
    trusted_keys: Path


def make_vendor(folder: Path) -> Vendor:
    """Fresh keys and their trusted-keys file (threshold 2)."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    trusted = folder / "trusted-keys.json"
    root = TrustRoot.build([(f"k{i + 1}", key.public_key()) for i, key in enumerate(keys)], 2)
    trusted.write_bytes(root.to_bytes())
    return Vendor(keys, trusted)


def package_tree(folder: Path, version: str) -> Path:
    """A small tree with the five packages of the appliance at `version`."""
    for package in PACKAGES:
        (folder / package).mkdir(parents=True)
        (folder / package / "__init__.py").write_text(f'"""{package}."""\n')
    (folder / "appliance" / "__init__.py").write_text(f'__version__ = "{version}"\n')
    (folder / "webui" / "static.css").write_bytes(b"body { color: black }\n" * 100)
    return folder


def build(
    vendor: Vendor, out: Path, *, version: str = "0.2.0", counter: int = 5, signers: int = 2
) -> Path:
    """A bundle of a small tree at `version`, signed by the first `signers` vendor keys."""
    build_bundle(
        package_tree(out.with_suffix(".src"), version),
        out,
        version=version,
        min_version="0.1.0",
        counter=counter,
        expires=datetime.now(UTC) + timedelta(days=30),
        keys=vendor.keys[:signers],
    )
    return out


def tampered(bundle: Path, out: Path) -> Path:
    """`bundle` with one listed file's bytes changed (same size, so only its hash tells)."""
    with tarfile.open(bundle, "r:*") as archive:
        members = []
        for member in archive:
            handle = archive.extractfile(member) if member.isreg() else None
            data = handle.read() if handle else b""
            if member.name == "files/webui/static.css":
                data = data.replace(b"black", b"white")
            members.append((member, data))
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for member, data in members:
            archive.addfile(member, io.BytesIO(data) if member.isreg() else None)
    return out


def install_root(
    root: Path, vendor: Vendor, config: ApplianceConfig, keyset: Keyset, passphrase: str
) -> Install:
    """`update init` in this process: slot a holds a small tree at 0.1.0."""
    install = Install(root)
    box = Box(install, config, config.paths.config, keyset, passphrase)
    source = package_tree(root.parent / f"{root.name}-source", "0.1.0")
    init(box, vendor.trusted_keys, source=source)
    return install
