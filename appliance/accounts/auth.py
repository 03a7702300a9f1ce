"""Who is acting: password logins with lockout, password changes, API tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from appliance.accounts.passwords import PasswordPolicyError, check_password_policy
from appliance.platform.clock import from_stamp, now_stamp, utcnow
from appliance.platform.errors import ApplianceError
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.people import User

logger = logging.getLogger(__name__)

LOCK_AFTER_FAILURES = 5
FIRST_LOCK_S = 60.0
MAX_LOCK_S = 3600.0
TOKEN_PREFIX = "iat_"  # noqa: S105 - a public prefix that marks appliance tokens
# The one answer to every refused sign-in: unknown name, wrong password, locked account,
# deactivated account or an address over its limit all read alike, so none can be probed.
SIGN_IN_REFUSED = "the user name or password is not right, or signing in is paused for a while"

# argon2id with the library's current defaults (memory-hard, RFC 9106 low-memory profile).
_HASHER = PasswordHasher()
# Verified against whenever no real hash is (unknown, locked, throttled), so every refused
# sign-in costs one hash and a probe cannot time the difference.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AuthenticationError(ApplianceError):
    """Login refused; the message never tells which of name or password was wrong."""

    exit_code = 16


@dataclass(frozen=True)
class SignInLimits:
    """How many sign-in attempts one client address may make per window, whatever the account."""

    per_address: int = 30
    window_s: float = 900.0


@dataclass(frozen=True)
class _Attempt:
    """What the counting transaction decided before any hash: whose hash to check, or why none."""

    user: User | None
    refusal: str | None  # None: check the password; else the audit's reason
    failures: int = 0
    locked: bool = False


def principal_of(user: User) -> Principal:
    """The acting identity of an account."""
    return Principal(
        user.id, user.username, user.role, tuple(user.departments), tuple(user.regions)
    )


def hash_password(password: str) -> str:
    """An argon2id hash of a password that meets the policy."""
    check_password_policy(password)
    return _HASHER.hash(password)


def _lock_seconds(failures: int) -> float:
    # Doubling back-off once the threshold is reached: 1 min, 2 min, 4 min … up to 1 hour.
    over = failures - LOCK_AFTER_FAILURES
    return float(min(MAX_LOCK_S, FIRST_LOCK_S * (2 ** max(0, over))))


def _claim_attempt(
    store: Store, username: str, address: str | None, limits: SignInLimits
) -> _Attempt:
    """Decide and count one attempt in one write transaction, before the slow hash.

    The attempt is counted as failed up front (a success gives it back), and the lock is set
    by the attempt that reaches the threshold: parallel guesses serialise on BEGIN IMMEDIATE
    here, so no more than LOCK_AFTER_FAILURES passwords are ever checked per lock.
    """
    with store.transaction():
        if address is not None and not store.login_throttle.claim(
            address, limit=limits.per_address, window_s=limits.window_s
        ):
            return _Attempt(None, "address_limited")
        user = store.users.by_username(username)
        if user is None or user.password_hash is None or not user.active:
            return _Attempt(user, "unknown" if user is None else "inactive")
        if user.locked_until and from_stamp(user.locked_until) > utcnow():
            return _Attempt(user, "locked")
        failures = user.failed_logins + 1
        locked = failures >= LOCK_AFTER_FAILURES
        store.users.record_failed_login(
            user.id, now_stamp(_lock_seconds(failures)) if locked else None
        )
        return _Attempt(user, None, failures, locked)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _record_refusal(store: Store, attempt: _Attempt) -> None:
    """The audit entry of a refused sign-in (the log may say why; the answer never does)."""
    user = attempt.user
    with store.transaction():
        if attempt.refusal == "locked" and user is not None:
            store.audit.append(f"user:{user.id}", "login.locked")
        elif attempt.refusal == "address_limited":
            store.audit.append("anonymous", "login.throttled")
        elif attempt.refusal is not None:
            store.audit.append("anonymous", "login.failed", details={"known": user is not None})
        elif user is not None:
            store.audit.append(
                f"user:{user.id}",
                "login.failed",
                details={"failures": attempt.failures, "locked": attempt.locked},
            )


def authenticate(
    store: Store,
    username: str,
    password: str,
    *,
    address: str | None = None,
    limits: SignInLimits = SignInLimits(),
) -> User:
    """The account for a name and password, or AuthenticationError (logged in the audit log).

    `address` is the client's network address: attempts from it are limited by `limits`.
    Every refusal, whatever its reason, gives the same error after one password hash.
    """
    attempt = _claim_attempt(store, username.strip(), address, limits)
    user = attempt.user
    if attempt.refusal is None and user is not None and user.password_hash is not None:
        accepted = _verify(user.password_hash, password)
    else:
        _verify(_DUMMY_HASH, password)
        accepted = False
    if not accepted or user is None or user.password_hash is None:
        _record_refusal(store, attempt)
        raise AuthenticationError(SIGN_IN_REFUSED)
    with store.audited(f"user:{user.id}", "login.succeeded"):
        store.users.record_login(user.id)
        if address is not None:
            store.login_throttle.give_back(address)
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
        raise PasswordPolicyError("unchanged", "the new password must differ from the current one")
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
