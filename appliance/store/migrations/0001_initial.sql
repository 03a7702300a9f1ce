-- The appliance's first schema: people, requisitions, competency models, interviews,
-- recordings, the durable job queue, reports and the append-only audit log.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name    TEXT NOT NULL,
    email           TEXT,
    role            TEXT NOT NULL CHECK (role IN (
                        'hr_admin', 'recruiter', 'interviewer', 'business_lead',
                        'tech_expert', 'auditor', 'service')),
    password_hash   TEXT,
    departments     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(departments)),
    regions         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(regions)),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE competency_models (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    description     TEXT NOT NULL DEFAULT '',
    created_by      INTEGER REFERENCES users(id),
    created_at      TEXT NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE competency_dimensions (
    id              INTEGER PRIMARY KEY,
    model_id        INTEGER NOT NULL REFERENCES competency_models(id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    weight          REAL NOT NULL CHECK (weight > 0),
    position        INTEGER NOT NULL,
    UNIQUE (model_id, key)
);

CREATE TABLE competency_questions (
    id              INTEGER PRIMARY KEY,
    dimension_id    INTEGER NOT NULL REFERENCES competency_dimensions(id) ON DELETE CASCADE,
    language        TEXT NOT NULL,
    text            TEXT NOT NULL,
    position        INTEGER NOT NULL
);

CREATE TABLE requisitions (
    id                  INTEGER PRIMARY KEY,
    title               TEXT NOT NULL,
    department          TEXT NOT NULL,
    location            TEXT NOT NULL,
    region              TEXT NOT NULL CHECK (region IN ('EU', 'US-NYC', 'US-IL', 'US-MD', 'CN', 'default')),
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('draft', 'open', 'closed')),
    competency_model_id INTEGER REFERENCES competency_models(id),
    created_by          INTEGER REFERENCES users(id),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

CREATE TABLE candidates (
    id                  INTEGER PRIMARY KEY,
    pseudonym           TEXT NOT NULL UNIQUE,
    full_name           TEXT NOT NULL,
    email               TEXT,
    phone               TEXT,
    residence_region    TEXT NOT NULL DEFAULT 'default',
    language            TEXT NOT NULL DEFAULT 'en',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

CREATE TABLE interviews (
    id              INTEGER PRIMARY KEY,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    requisition_id  INTEGER NOT NULL REFERENCES requisitions(id),
    kind            TEXT NOT NULL CHECK (kind IN ('async', 'live', 'upload')),
    round           INTEGER NOT NULL DEFAULT 1 CHECK (round >= 1),
    language        TEXT NOT NULL DEFAULT 'en',
    status          TEXT NOT NULL DEFAULT 'planned'
                        CHECK (status IN ('planned', 'recorded', 'analysing', 'analysed', 'failed', 'cancelled')),
    scheduled_at    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX interviews_candidate ON interviews(candidate_id);
CREATE INDEX interviews_requisition ON interviews(requisition_id);

CREATE TABLE recordings (
    id                  INTEGER PRIMARY KEY,
    interview_id        INTEGER NOT NULL REFERENCES interviews(id),
    candidate_id        INTEGER NOT NULL REFERENCES candidates(id),
    spool_name          TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    content_type        TEXT NOT NULL DEFAULT 'application/octet-stream',
    size_bytes          INTEGER NOT NULL CHECK (size_bytes > 0),
    sha256              TEXT NOT NULL,
    wrapped_data_key    BLOB NOT NULL,
    media_info          TEXT CHECK (media_info IS NULL OR json_valid(media_info)),
    created_at          TEXT NOT NULL
);
CREATE INDEX recordings_interview ON recordings(interview_id);

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    subject_type    TEXT,
    subject_id      INTEGER,
    payload         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    state           TEXT NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    priority        INTEGER NOT NULL DEFAULT 100,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_after       TEXT NOT NULL,
    claim_token     TEXT,
    claimed_by      TEXT,
    heartbeat_at    TEXT,
    progress        REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    step            TEXT,
    error_code      TEXT,
    error           TEXT,
    result          TEXT CHECK (result IS NULL OR json_valid(result)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX jobs_ready ON jobs(state, priority, run_after, id);
CREATE INDEX jobs_subject ON jobs(subject_type, subject_id);

-- One row per attempt: proves a job ran to completion exactly once.
CREATE TABLE job_runs (
    id              INTEGER PRIMARY KEY,
    job_id          INTEGER NOT NULL REFERENCES jobs(id),
    attempt         INTEGER NOT NULL,
    worker_id       TEXT NOT NULL,
    claim_token     TEXT NOT NULL UNIQUE,
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    outcome         TEXT CHECK (outcome IN ('succeeded', 'retry', 'failed', 'abandoned')),
    error           TEXT
);
CREATE INDEX job_runs_job ON job_runs(job_id);

CREATE TABLE workers (
    id              TEXT PRIMARY KEY,
    hostname        TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    pid_started_at  REAL NOT NULL,
    started_at      TEXT NOT NULL,
    heartbeat_at    TEXT NOT NULL,
    stopped_at      TEXT
);

CREATE TABLE reports (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    recording_id    INTEGER REFERENCES recordings(id),
    job_id          INTEGER NOT NULL UNIQUE REFERENCES jobs(id),
    model_version   TEXT,
    status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'reviewed')),
    content         TEXT NOT NULL CHECK (json_valid(content)),
    created_at      TEXT NOT NULL
);
CREATE INDEX reports_interview ON reports(interview_id);

-- Append-only: each entry chains the hash of the one before it; no row is ever changed.
CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    subject         TEXT,
    details         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
