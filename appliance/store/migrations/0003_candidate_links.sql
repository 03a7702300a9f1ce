-- Signed, expiring links that bring a candidate (who has no account) to their interview room.

CREATE TABLE app_secrets (
    name        TEXT PRIMARY KEY,
    value       BLOB NOT NULL CHECK (length(value) >= 32),
    created_at  TEXT NOT NULL
);

CREATE TABLE candidate_links (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    nonce           TEXT NOT NULL UNIQUE,
    expires_at      TEXT NOT NULL,
    created_by      INTEGER NOT NULL REFERENCES users(id),
    created_at      TEXT NOT NULL,
    revoked_at      TEXT,
    last_used_at    TEXT
);
CREATE INDEX candidate_links_interview ON candidate_links(interview_id);
