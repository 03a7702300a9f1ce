"""Provisioning a new appliance: data directory, random keys sealed at rest, schema, first admin."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from appliance.platform.config import ApplianceConfig, render_config
from appliance.platform.errors import AlreadyProvisionedError
from appliance.platform.paths import DataPaths
from appliance.security.sealing import KeySealer
from appliance.security.tls import ensure_certificate
from appliance.store import Store
from appliance.store.db import Database
from appliance.store.keyring import Keyset, write_envelope
from appliance.store.migrate import apply
from appliance.store.vault import init_vault

logger = logging.getLogger(__name__)

ADMIN_PASSWORD_ENV = "APPLIANCE_ADMIN_PASSWORD"  # noqa: S105 - a variable name


@dataclass(frozen=True)
class Provisioned:
    """What provisioning created; the admin password is shown once and never stored in clear."""

    paths: DataPaths
    admin_username: str
    admin_password: str | None
    tls_fingerprint: str = ""  # SHA-256 of the web UI's self-signed certificate


def is_provisioned(paths: DataPaths) -> bool:
    """Whether a data directory already holds an appliance."""
    return paths.sealed_db_key.exists() or paths.database.exists()


def provision(
    config: ApplianceConfig,
    sealer: KeySealer,
    *,
    admin_username: str = "admin",
    admin_password: str | None = None,
) -> Provisioned:
    """Create the data directory, seal fresh keys, create both databases and the first admin."""
    paths = config.paths
    if is_provisioned(paths):
        raise AlreadyProvisionedError(f"{paths.root} is already provisioned")
    for folder in paths.private_dirs():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    if not paths.config.exists():
        paths.config.write_text(render_config(config), encoding="utf-8")
        os.chmod(paths.config, 0o600)
    keyset = Keyset.generate()
    write_envelope(paths.sealed_db_key, sealer.seal(keyset.to_secret()))
    main = Database.create(paths.database, keyset.db, busy_timeout_ms=config.db.busy_timeout_ms)
    vault = Database.create(paths.vault, keyset.vault, busy_timeout_ms=config.db.busy_timeout_ms)
    conn = main.connect()
    try:
        apply(main, conn, keyset.db, paths.backups, config.db.backups_keep)
    finally:
        conn.close()
    vault_conn = vault.connect()
    try:
        init_vault(vault_conn)
    finally:
        vault_conn.close()
    # The web UI's certificate (self-signed until the organisation installs its own).
    certificate = ensure_certificate(config, keyset.device)
    store = Store(main, vault)
    shown = None
    if admin_password is None:
        admin_password = os.environ.get(ADMIN_PASSWORD_ENV)
    if admin_password is None:
        admin_password = shown = secrets.token_urlsafe(12)
    try:
        with store.transaction():
            store.users.create(
                admin_username,
                "Administrator",
                "hr_admin",
                password_hash=PasswordHasher().hash(admin_password),
                regions=["*"],
                departments=["*"],
                # Whoever reads this password off the console or the environment knows it:
                # the administrator replaces it at the first sign-in, before anything else.
                must_change_password=True,
            )
            store.audit.append(
                "provisioning",
                "appliance.provisioned",
                details={"sealer": sealer.kind, "admin": admin_username},
            )
    finally:
        store.close()
    logger.info("provisioned a new appliance")
    return Provisioned(paths, admin_username, shown, certificate.fingerprint)


def ensure_data_dir(path: Path) -> DataPaths:
    """The layout for a data directory given on the command line."""
    return DataPaths(path.expanduser().absolute())
