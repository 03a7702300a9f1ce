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


def obtain_passphrase(
    *, file: Path | None = None, confirm: bool = False, prompt: str = "Operator passphrase: "
) -> str:
    """The passphrase from APPLIANCE_PASSPHRASE, a file (argument or env), or a tty prompt."""
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    env_file = os.environ.get(PASSPHRASE_FILE_ENV)
    if env_file:
        return read_passphrase_file(Path(env_file))
    if file is not None:
        return read_passphrase_file(file)
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"no operator passphrase: set {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}, "
            "or configure keys.passphrase_file, or run interactively"
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
