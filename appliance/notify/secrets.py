"""Channel credentials, read when needed from a file or the environment (never the config)."""

from __future__ import annotations

import os
from pathlib import Path

from appliance.platform.errors import ConfigError


def read_secret(path: Path | None, env_name: str = "") -> str:
    """The first line of `path`, else the environment variable; ConfigError if neither."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the secret file {path}: {exc.strerror}") from None
        value = text.splitlines()[0].strip() if text.strip() else ""
        if not value:
            raise ConfigError(f"the secret file {path} is empty")
        return value
    if env_name and os.environ.get(env_name):
        return os.environ[env_name]
    raise ConfigError(
        f"no secret configured (a file, or the environment variable {env_name or '(none)'})"
    )
