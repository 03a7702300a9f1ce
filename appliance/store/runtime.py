"""Opening a provisioned appliance: obtain the keys, open both encrypted databases."""

from __future__ import annotations

import os
from pathlib import Path

from appliance.platform.config import ApplianceConfig
from appliance.security.passphrase import obtain_passphrase
from appliance.security.sealing import KeySealer, PassphraseSealer
from appliance.store import Store
from appliance.store.db import Database
from appliance.store.keyring import Keyset, unlock

KEY_FD_ENV = "APPLIANCE_KEY_FD"


def sealer_for(
    config: ApplianceConfig,
    *,
    passphrase_file: Path | None = None,
    confirm: bool = False,
    prompt: str = "Operator passphrase: ",
) -> KeySealer:
    """The configured sealer, with its passphrase obtained from env, file or prompt."""
    passphrase = obtain_passphrase(
        file=passphrase_file or config.keys.passphrase_file, confirm=confirm, prompt=prompt
    )
    return PassphraseSealer(passphrase, log2_n=config.keys.scrypt_log2_n)


def send_keyset(keyset: Keyset) -> int:
    """Put the key set in a pipe for a child process; return the read end (to pass as fd)."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, keyset.to_secret())
    finally:
        os.close(write_fd)
    os.set_inheritable(read_fd, True)
    return read_fd


def receive_keyset() -> Keyset | None:
    """The key set a parent passed through the pipe named by APPLIANCE_KEY_FD, if any."""
    fd_text = os.environ.pop(KEY_FD_ENV, None)
    if not fd_text:
        return None
    fd = int(fd_text)
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return Keyset.from_secret(b"".join(chunks))


def obtain_keyset(config: ApplianceConfig, *, passphrase_file: Path | None = None) -> Keyset:
    """The key set from a parent process, or by unsealing with the operator passphrase."""
    handed = receive_keyset()
    if handed is not None:
        return handed
    return unlock(config.paths, sealer_for(config, passphrase_file=passphrase_file))


def open_databases(config: ApplianceConfig, keyset: Keyset) -> tuple[Database, Database]:
    """Open the main database and the key vault."""
    timeout, secure = config.db.busy_timeout_ms, config.db.memory_security
    return (
        Database.open(
            config.paths.database, keyset.db, busy_timeout_ms=timeout, memory_security=secure
        ),
        Database.open(
            config.paths.vault, keyset.vault, busy_timeout_ms=timeout, memory_security=secure
        ),
    )


def open_store(config: ApplianceConfig, keyset: Keyset, *, check_schema: bool = True) -> Store:
    """A Store over the appliance's encrypted databases."""
    main, vault = open_databases(config, keyset)
    return Store(main, vault, check_schema=check_schema, device_key=keyset.device)
