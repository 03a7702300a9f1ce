"""Errors the operator can act on, each with its own process exit code."""

from __future__ import annotations

from typing import ClassVar


class ApplianceError(Exception):
    """Base of every error the CLI reports as one readable line instead of a traceback."""

    exit_code: ClassVar[int] = 1


class ConfigError(ApplianceError):
    """The configuration file or environment is invalid."""

    exit_code = 2


class PassphraseError(ApplianceError):
    """The operator passphrase is missing or does not unseal the key."""

    exit_code = 3


class WrongKeyError(ApplianceError):
    """The database key does not open this database (or its first page is damaged)."""

    exit_code = 4


class NotEncryptedError(ApplianceError):
    """The database file is a plain, unencrypted SQLite file: refused, never used."""

    exit_code = 5


class DatabaseDamagedError(ApplianceError):
    """The database file is truncated or damaged."""

    exit_code = 6


class MigrationRequiredError(ApplianceError):
    """The schema is older than the code; run `migrate` explicitly."""

    exit_code = 7


class QueueFullError(ApplianceError):
    """The job queue holds its configured maximum; new work is refused."""

    exit_code = 8


class NotProvisionedError(ApplianceError):
    """The data directory has not been provisioned."""

    exit_code = 9


class AlreadyProvisionedError(ApplianceError):
    """The data directory already holds a provisioned appliance."""

    exit_code = 10


class MediaRejectedError(ApplianceError):
    """An uploaded recording was refused (empty, too large, unreadable)."""

    exit_code = 11


class NotARecordingError(MediaRejectedError):
    """The bytes do not start like any audio or video container the appliance can read."""

    def __init__(self) -> None:
        super().__init__("the file does not start like an audio or video recording")


class MaintenanceLockError(ApplianceError):
    """Another process holds the data directory in a way that forbids this operation."""

    exit_code = 12


class SpoolIntegrityError(ApplianceError):
    """An encrypted spool file failed authentication (altered, truncated or wrong key)."""

    exit_code = 13


class NotFoundError(ApplianceError):
    """A requested record does not exist."""

    exit_code = 14


class RefusedError(ApplianceError):
    """A request the appliance understood but one of its rules refuses: an incomplete form,
    a missing reason, a consent or erasure that is not possible (answered with 422)."""

    exit_code = 40
