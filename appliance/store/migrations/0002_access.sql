-- People's access: login state, API tokens, interview assignments; human decisions,
-- score overrides and evaluations; resumable uploads.

ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TEXT;
ALTER TABLE users ADD COLUMN password_changed_at TEXT;
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'zh_CN'));
ALTER TABLE users ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
-- Bumped on password change or deactivation: every older session becomes invalid.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    expires_at      TEXT,
    last_used_at    TEXT,
    revoked_at      TEXT
);

CREATE TABLE interview_assignments (
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    user_id         INTEGER NOT NULL REFERENCES users(id),
    duty            TEXT NOT NULL CHECK (duty IN ('interviewer', 'tech_expert')),
    assigned_at     TEXT NOT NULL,
    PRIMARY KEY (interview_id, user_id)
);
CREATE INDEX interview_assignments_user ON interview_assignments(user_id);

CREATE TABLE decisions (
    id              INTEGER PRIMARY KEY,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    requisition_id  INTEGER NOT NULL REFERENCES requisitions(id),
    kind            TEXT NOT NULL CHECK (kind IN (
                        'advance', 'reject', 'hire',
                        'recommend_hire', 'recommend_reject', 'recommend_hold')),
    reason          TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    decided_by      INTEGER NOT NULL REFERENCES users(id),
    decided_at      TEXT NOT NULL
);
CREATE INDEX decisions_candidate ON decisions(candidate_id);

CREATE TABLE score_overrides (
    id              INTEGER PRIMARY KEY,
    report_id       INTEGER NOT NULL REFERENCES reports(id),
    dimension       TEXT NOT NULL,
    previous_score  REAL,
    new_score       REAL NOT NULL CHECK (new_score BETWEEN 1 AND 10),
    reason          TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    overridden_by   INTEGER NOT NULL REFERENCES users(id),
    overridden_at   TEXT NOT NULL
);
CREATE INDEX score_overrides_report ON score_overrides(report_id);

CREATE TABLE evaluations (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    author_id       INTEGER NOT NULL REFERENCES users(id),
    kind            TEXT NOT NULL CHECK (kind IN ('interview', 'technical')),
    rating          INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 10),
    summary         TEXT NOT NULL CHECK (length(trim(summary)) > 0),
    created_at      TEXT NOT NULL
);
CREATE INDEX evaluations_interview ON evaluations(interview_id);

CREATE TABLE upload_sessions (
    id                  TEXT PRIMARY KEY,
    interview_id        INTEGER NOT NULL REFERENCES interviews(id),
    user_id             INTEGER REFERENCES users(id),
    display_name        TEXT NOT NULL,
    content_type        TEXT NOT NULL,
    total_bytes         INTEGER NOT NULL CHECK (total_bytes > 0),
    received_bytes      INTEGER NOT NULL DEFAULT 0,
    spool_name          TEXT NOT NULL UNIQUE,
    wrapped_data_key    BLOB NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    completed_at        TEXT,
    recording_id        INTEGER REFERENCES recordings(id)
);
