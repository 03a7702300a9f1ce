-- 0014_sign_in_hardening: a first password that must be replaced at the first sign-in (the
-- administrator provisioning creates), and failed sign-ins counted per client address.

ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));

-- One row per client address with sign-in attempts in its current window; the address itself
-- is not kept, only its SHA-256 (a staff member's address is personal data, and the count
-- needs nothing more). Rows whose window has ended are deleted by the next attempt.
CREATE TABLE login_throttle (
    address_hash    TEXT PRIMARY KEY,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    window_ends     TEXT NOT NULL
);
CREATE INDEX login_throttle_window ON login_throttle(window_ends);
