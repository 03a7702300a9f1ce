"""Logins, lockout back-off, password policy and API tokens in the core."""

from __future__ import annotations

import pytest

from appliance.accounts import auth
from appliance.accounts.auth import (
    AccountLockedError,
    AuthenticationError,
    PasswordPolicyError,
    authenticate,
    authenticate_token,
    change_password,
    issue_api_token,
)
from appliance.platform.clock import now_stamp
from appliance.store import Store

from .conftest import USER_PASSWORD, make_user


def test_hashes_are_argon2id(store: Store) -> None:
    user = store.users.get(make_user(store, "ann", "recruiter"))
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")


def test_unknown_user_and_wrong_password_look_the_same(store: Store) -> None:
    make_user(store, "ann", "recruiter")
    with pytest.raises(AuthenticationError) as unknown:
        authenticate(store, "nobody", USER_PASSWORD)
    with pytest.raises(AuthenticationError) as wrong:
        authenticate(store, "ann", "not the password at all")
    assert str(unknown.value) == str(wrong.value)
    assert authenticate(store, "ANN", USER_PASSWORD).username == "ann"


def test_lockout_after_five_failures_with_doubling_back_off(store: Store) -> None:
    uid = make_user(store, "ann", "recruiter")
    for _ in range(auth.LOCK_AFTER_FAILURES):
        with pytest.raises(AuthenticationError):
            authenticate(store, "ann", "wrong wrong wrong")
    with pytest.raises(AccountLockedError, match="locked until"):
        authenticate(store, "ann", USER_PASSWORD)  # even the right password waits
    assert auth._lock_seconds(5) == 60 and auth._lock_seconds(6) == 120
    assert auth._lock_seconds(50) == auth.MAX_LOCK_S
    with store.transaction():  # time passes
        store.conn.execute("UPDATE users SET locked_until = ? WHERE id = ?", (now_stamp(-1), uid))
    assert authenticate(store, "ann", USER_PASSWORD).failed_logins == 0
    assert [e.action for e in store.audit.entries()][-1] == "login.succeeded"


def test_password_change_policy_and_session_epoch(store: Store) -> None:
    uid = make_user(store, "ann", "recruiter")
    before = store.users.get(uid).session_epoch
    with pytest.raises(PasswordPolicyError):
        change_password(store, uid, USER_PASSWORD, "short")
    with pytest.raises(PasswordPolicyError):
        change_password(store, uid, USER_PASSWORD, "aaaaaaaaaaaaaaaa")
    with pytest.raises(AuthenticationError):
        change_password(store, uid, "not my password", "a brand new passphrase")
    after = change_password(store, uid, USER_PASSWORD, "a brand new passphrase")
    assert after.session_epoch == before + 1
    assert authenticate(store, "ann", "a brand new passphrase").id == uid


def test_api_tokens_hashed_revocable_expiring(store: Store) -> None:
    admin = make_user(store, "admin2", "hr_admin")
    service = make_user(store, "svc", "service", regions=["EU"])
    issued = issue_api_token(store, admin, service, "ats-sync")
    assert issued.secret.startswith(auth.TOKEN_PREFIX)
    stored = store.conn.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
    assert issued.secret not in stored and len(stored) == 64
    assert authenticate_token(store, issued.secret).id == service
    with pytest.raises(AuthenticationError):
        authenticate_token(store, issued.secret + "x")
    with store.transaction():
        store.api_tokens.revoke(issued.id)
    with pytest.raises(AuthenticationError):
        authenticate_token(store, issued.secret)
    expired = issue_api_token(store, admin, service, "old", valid_days=0)
    with pytest.raises(AuthenticationError, match="expired"):
        authenticate_token(store, expired.secret)
