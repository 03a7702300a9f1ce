"""Where the operator passphrase comes from: environment, a file, or an interactive prompt."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from appliance.platform.errors import PassphraseError
from appliance.security.sealing import MIN_PASSPHRASE_CHARS

PASSPHRASE_ENV = "APPLIANCE_PASSPHRASE"  # noqa: S105 - a variable name
PASSPHRASE_FILE_ENV = "APPLIANCE_PASSPHRASE_FILE"  # noqa: S105 - a variable name
# systemd's LoadCredential=passphrase:FILE puts a 0400 copy, readable by the unit's user alone,
# in the folder this variable names (a private mount, gone when the service stops).
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
CREDENTIAL_NAME = "passphrase"


def read_passphrase_file(path: Path) -> str:
    """The first line of a passphrase file, which must not be readable by others."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise PassphraseError(
                f"the passphrase file {path} is readable by group or others; chmod 600 it"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PassphraseError(f"the passphrase file {path} does not exist") from None
    passphrase = text.splitlines()[0] if text else ""
    if not passphrase:
        raise PassphraseError(f"the passphrase file {path} is empty")
    return passphrase


def credential_file() -> Path | None:
    """The passphrase credential systemd handed this service, if there is one."""
    folder = os.environ.get(CREDENTIALS_ENV)
    if not folder:
        return None
    path = Path(folder) / CREDENTIAL_NAME
    return path if path.is_file() else None


def obtain_passphrase(
    *, file: Path | None = None, confirm: bool = False, prompt: str = "Operator passphrase: "
) -> str:
    """The passphrase from APPLIANCE_PASSPHRASE, a file (env or argument), the systemd
    credential `passphrase`, or a tty prompt."""
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    env_file = os.environ.get(PASSPHRASE_FILE_ENV)
    if env_file:
        return read_passphrase_file(Path(env_file))
    if file is not None:
        return read_passphrase_file(file)
    credential = credential_file()
    if credential is not None:
        return read_passphrase_file(credential)
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"no operator passphrase: set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}, "
            "configure keys.passphrase_file, give the systemd unit "
            f"LoadCredential={CREDENTIAL_NAME}:FILE, or run interactively"
        )
    passphrase = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat the passphrase: ") != passphrase:
        raise PassphraseError("the two passphrases differ")
    return passphrase


def check_new_passphrase(passphrase: str) -> str:
    """Refuse a passphrase too short to protect the key."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise PassphraseError(f"a new passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")
    return passphrase
