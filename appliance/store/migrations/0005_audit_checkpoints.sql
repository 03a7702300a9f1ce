-- Signed checkpoints of the audit log (rule ALL-3): each one names the last entry it covers,
-- that entry's hash and the number of entries up to it, signed with the device's Ed25519 key.
-- Like the log itself, checkpoints are append-only.

CREATE TABLE audit_checkpoints (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    hash            TEXT NOT NULL CHECK (length(hash) = 64),
    entry_count     INTEGER NOT NULL CHECK (entry_count >= 1),
    created_at      TEXT NOT NULL,
    -- Ed25519 signature (hex) over the canonical message of appliance/audit_chain.py.
    signature       TEXT NOT NULL CHECK (length(signature) = 128),
    -- SHA-256 (hex) of the signer's raw 32-byte public key.
    key_fingerprint TEXT NOT NULL CHECK (length(key_fingerprint) = 64)
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints(seq);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
