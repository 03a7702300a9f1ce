"""The errors of signed updates, each with its own exit code (README's table)."""

from __future__ import annotations

from appliance.platform.errors import ApplianceError


class UpdateRefusedError(ApplianceError):
    """An update bundle was refused (signatures, threshold, expiry, version, counter, files,
    archive contents, dependencies); nothing was changed."""

    exit_code = 53


class UpdateFailedError(ApplianceError):
    """An update (or a rollback) failed after it began and was undone: the previous slot runs
    on the data it had before."""

    exit_code = 54


class UpdateStateError(ApplianceError):
    """The install root does not allow this now (not initialised, nothing staged, another
    update command running, an interrupted update to recover, no slot to roll back to)."""

    exit_code = 55


class UpdateRecoveryError(ApplianceError):
    """Undoing a failed or interrupted update did not complete; the journal keeps where it
    stopped and `update recover` tries again."""

    exit_code = 56
