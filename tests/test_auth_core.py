"""Logins, lockout back-off, password policy and API tokens in the core."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest

from appliance.accounts import auth
from appliance.accounts.auth import (
    AuthenticationError,
    authenticate,
    authenticate_token,
    change_password,
    issue_api_token,
)
from appliance.accounts.passwords import PasswordPolicyError
from appliance.platform.clock import now_stamp
from appliance.store import Store
from tests.support.sign_in import CountingHasher, all_at_once

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
    with pytest.raises(AuthenticationError) as locked:
        authenticate(store, "ann", USER_PASSWORD)  # even the right password waits
    with pytest.raises(AuthenticationError) as unknown:
        authenticate(store, "nobody", USER_PASSWORD)
    assert type(locked.value) is type(unknown.value) and str(locked.value) == str(unknown.value)
    assert [e.action for e in store.audit.entries()][-2] == "login.locked"  # the log tells
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
    for common in ("password1234", "Password1234", "qwerty123456", "sunshine 2026!"):
        with pytest.raises(PasswordPolicyError) as refused:
            change_password(store, uid, USER_PASSWORD, common)
        assert refused.value.code == "common", common
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


# --- racing guesses -------------------------------------------------------------------------


def _race(store: Store, guesses: list[tuple[str, str]], **options: Any) -> None:
    """Every guess at once, each from its own thread (and so its own connection)."""

    def guesser(username: str, password: str) -> Callable[[Callable[[], object]], None]:
        def guess(go: Callable[[], object]) -> None:
            go()
            try:
                authenticate(store, username, password, **options)
            except AuthenticationError:
                pass
            finally:
                store.close()  # this thread's connection

        return guess

    all_at_once([guesser(username, password) for username, password in guesses])


def test_racing_guesses_never_check_more_passwords_than_the_lockout_allows(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = make_user(store, "ann", "recruiter")
    hasher = CountingHasher()
    monkeypatch.setattr(auth, "_HASHER", hasher)
    _race(store, [("ann", f"wrong guess number {n}") for n in range(16)])
    assert hasher.checked == auth.LOCK_AFTER_FAILURES  # not 16: counted before each hash
    user = store.users.get(uid)
    assert user.failed_logins == auth.LOCK_AFTER_FAILURES and user.locked_until is not None
    with pytest.raises(AuthenticationError):
        authenticate(store, "ann", USER_PASSWORD)  # locked: the right password waits too
    assert hasher.checked == auth.LOCK_AFTER_FAILURES


def test_racing_guesses_from_one_address_stop_at_its_limit(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ann", "bob", "cyd", "dee"):
        make_user(store, name, "recruiter")
    hasher = CountingHasher()
    monkeypatch.setattr(auth, "_HASHER", hasher)
    limits = auth.SignInLimits(per_address=6, window_s=600)
    # Two wrong guesses per account stay below each account's lockout: only the address stops them.
    guesses = [(name, f"wrong {n}") for name in ("ann", "bob", "cyd", "dee") for n in range(4)]
    _race(store, guesses, address="198.51.100.7", limits=limits)
    assert hasher.checked == limits.per_address
    assert store.login_throttle.attempts("198.51.100.7") == limits.per_address
    with pytest.raises(AuthenticationError):  # even the right password, from that address
        authenticate(store, "ann", USER_PASSWORD, address="198.51.100.7", limits=limits)
    assert hasher.checked == limits.per_address
    # Another address is not held back, and a success gives its own attempt back.
    signed_in = authenticate(store, "ann", USER_PASSWORD, address="203.0.113.9", limits=limits)
    assert signed_in.username == "ann"
    assert store.login_throttle.attempts("203.0.113.9") == 0
    # The address's own sign-ins are counted only while the window lasts.
    with store.transaction():
        store.conn.execute("UPDATE login_throttle SET window_ends = ?", (now_stamp(-1),))
    assert authenticate(store, "bob", USER_PASSWORD, address="198.51.100.7", limits=limits)


def test_the_address_is_kept_only_as_a_digest(store: Store) -> None:
    make_user(store, "ann", "recruiter")
    with pytest.raises(AuthenticationError):
        authenticate(store, "ann", "wrong wrong wrong", address="192.0.2.44")
    (stored,) = store.conn.execute("SELECT address_hash FROM login_throttle").fetchone()
    assert "192.0.2.44" not in stored and len(stored) == 64


def test_unknown_locked_and_wrong_are_alike_in_answer_and_time(store: Store) -> None:
    uid = make_user(store, "ann", "recruiter")
    bob = make_user(store, "bob", "recruiter")
    with store.transaction():
        store.conn.execute("UPDATE users SET locked_until = ? WHERE id = ?", (now_stamp(600), uid))

    def attempt(username: str) -> tuple[float, str]:
        started = time.perf_counter()
        with pytest.raises(AuthenticationError) as refused:
            authenticate(store, username, USER_PASSWORD + " not")
        return time.perf_counter() - started, f"{type(refused.value).__name__}: {refused.value}"

    tries: dict[str, list[tuple[float, str]]] = {"nobody": [], "ann": [], "bob": []}
    for _ in range(5):  # interleaved, so a busy moment slows all three alike
        with store.transaction():  # bob's wrong passwords never reach the lockout
            store.conn.execute("UPDATE users SET failed_logins = 0 WHERE id = ?", (bob,))
        for name, results in tries.items():
            results.append(attempt(name))
    answers = {answer for results in tries.values() for _, answer in results}
    assert len(answers) == 1, answers
    medians = {name: statistics.median(t for t, _ in results) for name, results in tries.items()}
    # Each costs one argon2 hash: a locked account answers no faster than an unknown name.
    nobody = medians["nobody"]
    assert nobody / 3 < medians["ann"] < nobody * 3, medians
    assert nobody / 3 < medians["bob"] < nobody * 3, medians
