"""Who is acting: password logins with lockout, password changes, API tokens."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from appliance.platform.clock import from_stamp, now_stamp, utcnow
from appliance.platform.errors import ApplianceError
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.people import User

logger = logging.getLogger(__name__)

MIN_PASSWORD_CHARS = 12
LOCK_AFTER_FAILURES = 5
FIRST_LOCK_S = 60.0
MAX_LOCK_S = 3600.0
TOKEN_PREFIX = "iat_"  # noqa: S105 - a public prefix that marks appliance tokens

# argon2id with the library's current defaults (memory-hard, RFC 9106 low-memory profile).
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so a probe cannot time the difference.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AuthenticationError(ApplianceError):
    """Login refused; the message never tells which of name or password was wrong."""

    exit_code = 16


class AccountLockedError(AuthenticationError):
    """Too many failed logins: the account is locked for a while."""


class PasswordPolicyError(ApplianceError):
    """A new password does not meet the policy."""

    exit_code = 17


def principal_of(user: User) -> Principal:
    """The acting identity of an account."""
    return Principal(
        user.id, user.username, user.role, tuple(user.departments), tuple(user.regions)
    )


def hash_password(password: str) -> str:
    """An argon2id hash of a password that meets the policy."""
    check_password_policy(password)
    return _HASHER.hash(password)


def check_password_policy(password: str) -> None:
    """At least 12 characters, not all of one kind."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordPolicyError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(set(password)) < 5:
        raise PasswordPolicyError("a password needs more variety than that")


def _lock_seconds(failures: int) -> float:
    # Doubling back-off once the threshold is reached: 1 min, 2 min, 4 min … up to 1 hour.
    over = failures - LOCK_AFTER_FAILURES
    return float(min(MAX_LOCK_S, FIRST_LOCK_S * (2 ** max(0, over))))


def authenticate(store: Store, username: str, password: str) -> User:
    """The account for a name and password, or AuthenticationError (logged in the audit log)."""
    user = store.users.by_username(username.strip())
    if user is None or user.password_hash is None or not user.active:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY_HASH, password)
        with store.transaction():
            store.audit.append("anonymous", "login.failed", details={"known": user is not None})
        raise AuthenticationError("the user name or password is not right")
    if user.locked_until and from_stamp(user.locked_until) > utcnow():
        with store.transaction():
            store.audit.append(f"user:{user.id}", "login.locked")
        raise AccountLockedError(
            f"too many failed logins: the account is locked until {user.locked_until[:19]} UTC"
        )
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        failures = user.failed_logins + 1
        locked = None
        if failures >= LOCK_AFTER_FAILURES:
            locked = now_stamp(_lock_seconds(failures))
        with store.audited(
            f"user:{user.id}", "login.failed", failures=failures, locked=locked is not None
        ):
            store.users.record_failed_login(user.id, locked)
        raise AuthenticationError("the user name or password is not right") from None
    with store.audited(f"user:{user.id}", "login.succeeded"):
        store.users.record_login(user.id)
        if _HASHER.check_needs_rehash(user.password_hash):
            store.users.set_password(user.id, _HASHER.hash(password))
    return store.users.get(user.id)


def change_password(store: Store, user_id: int, current: str, new: str) -> User:
    """Change one's own password (the current one is required); ends every other session."""
    user = store.users.get(user_id)
    try:
        _HASHER.verify(user.password_hash or _DUMMY_HASH, current)
    except (VerificationError, InvalidHashError):
        raise AuthenticationError("the current password is not right") from None
    if new == current:
        raise PasswordPolicyError("the new password must differ from the current one")
    new_hash = hash_password(new)
    with store.audited(f"user:{user_id}", "password.changed"):
        store.users.set_password(user_id, new_hash)
    return store.users.get(user_id)


def set_password_by_admin(store: Store, admin_id: int, user_id: int, new: str) -> None:
    """An administrator sets someone's password (e.g. a new account)."""
    new_hash = hash_password(new)
    with store.audited(f"user:{admin_id}", "password.set", subject=f"user:{user_id}"):
        store.users.set_password(user_id, new_hash)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: the secret is shown once and only its hash is stored."""

    id: int
    secret: str


def issue_api_token(
    store: Store, admin_id: int, user_id: int, name: str, *, valid_days: int | None = 365
) -> IssuedToken:
    """Create a token for a (service) account."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = None if valid_days is None else now_stamp(valid_days * 86400.0)
    with store.audited(f"user:{admin_id}", "api_token.issued", subject=f"user:{user_id}") as entry:
        record = store.api_tokens.create(user_id, name, _token_hash(secret), expires)
        entry.details.update(token=record.id, name=name)
    return IssuedToken(record.id, secret)


def authenticate_token(store: Store, secret: str) -> User:
    """The account behind an API token; refuses unknown, revoked or expired tokens."""
    record = (
        store.api_tokens.by_hash(_token_hash(secret)) if secret.startswith(TOKEN_PREFIX) else None
    )
    if record is None or record.revoked_at is not None:
        raise AuthenticationError("the API token is not valid")
    if record.expires_at is not None and from_stamp(record.expires_at) <= utcnow():
        raise AuthenticationError("the API token has expired")
    user = store.users.get(record.user_id)
    if not user.active:
        raise AuthenticationError("the API token's account is disabled")
    with store.transaction():
        store.api_tokens.touch(record.id)
    return user
