"""Counting the password checks of sign-ins, and starting many of them at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from appliance.accounts import auth


class CountingHasher:
    """The real argon2 hasher, counting the verifications against real (non-dummy) hashes.

    Put in place of `auth._HASHER` (monkeypatch): `checked` is how many guesses were actually
    tried against an account's password.
    """

    def __init__(self) -> None:
        self.real = auth._HASHER
        self.checked = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def verify(self, password_hash: str, password: str) -> bool:
        """Verify as argon2 does, counting it unless it is the dummy hash."""
        if password_hash != auth._DUMMY_HASH:
            with self._lock:
                self.checked += 1
        return bool(self.real.verify(password_hash, password))


def all_at_once(jobs: list[Callable[[Callable[[], object]], None]]) -> None:
    """Run each job in its own thread; each calls the `go` it is given right before its attempt.

    `go` waits until every thread has reached it, so the attempts start together (whatever
    each did to prepare). A job that raises fails the caller.
    """
    start = threading.Barrier(len(jobs))
    failures: list[BaseException] = []

    def run(job: Callable[[Callable[[], object]], None]) -> None:
        try:
            job(start.wait)
        except BaseException as exc:  # handed to the caller below
            failures.append(exc)
            start.abort()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
