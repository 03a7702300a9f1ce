"""Sign-in attempts counted per client address, in fixed windows (only the address's hash)."""

from __future__ import annotations

import hashlib

from appliance.platform.clock import now_stamp
from appliance.store.base import Repository


def _address_hash(address: str) -> str:
    return hashlib.sha256(address.encode("utf-8")).hexdigest()


class LoginThrottleRepository(Repository):
    """How many sign-in attempts each client address has made in its current window.

    Call inside a write transaction: `claim` reads and counts in the same transaction, so
    parallel attempts from one address cannot pass the limit together.
    """

    def claim(self, address: str, *, limit: int, window_s: float) -> bool:
        """Count one attempt from `address`; False (and nothing counted) once it has `limit`."""
        now = now_stamp()
        self.conn.execute("DELETE FROM login_throttle WHERE window_ends <= ?", (now,))
        key = _address_hash(address)
        row = self.conn.execute(
            "SELECT attempts FROM login_throttle WHERE address_hash = ?", (key,)
        ).fetchone()
        if row is None:
            self.conn.execute(
                "INSERT INTO login_throttle (address_hash, attempts, window_ends) VALUES (?, 1, ?)",
                (key, now_stamp(window_s)),
            )
            return True
        if row["attempts"] >= limit:
            return False
        self.conn.execute(
            "UPDATE login_throttle SET attempts = attempts + 1 WHERE address_hash = ?", (key,)
        )
        return True

    def give_back(self, address: str) -> None:
        """Uncount one attempt of `address` (it signed in: that attempt was no guess)."""
        self.conn.execute(
            "UPDATE login_throttle SET attempts = max(attempts - 1, 0) WHERE address_hash = ?",
            (_address_hash(address),),
        )

    def attempts(self, address: str) -> int:
        """The attempts counted for `address` in its current window (0 when none)."""
        row = self.conn.execute(
            "SELECT attempts FROM login_throttle WHERE address_hash = ? AND window_ends > ?",
            (_address_hash(address), now_stamp()),
        ).fetchone()
        return 0 if row is None else int(row["attempts"])
