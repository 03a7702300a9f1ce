-- Erasure, retention and data-subject rights (GDPR Art. 12/15/17/20, AI Act Art. 26/86,
-- Illinois AIVIA, PIPL). appliance/erasure.py and appliance/retention.py use these tables.
--
-- Candidate text (names, contact details, report content, evaluation summaries, decision and
-- override reasons, file names, request notes) is sealed field by field with the candidate's
-- vault key (appliance/fieldcrypt.py). SQL cannot encrypt: rows written before this version
-- are sealed by fieldcrypt.encrypt_existing, which `migrate` runs after the SQL migrations.

-- Requests of data subjects: access, portability, erasure, explanation (AI Act Art. 86,
-- PIPL Art. 24) and objection to a solely automated decision. `due_at` comes from the
-- strictest region that applies (appliance/retention.py); `note` is sealed.
CREATE TABLE data_requests (
    id              INTEGER PRIMARY KEY,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    kind            TEXT NOT NULL CHECK (kind IN (
                        'access', 'portability', 'erasure', 'explanation', 'objection')),
    regions         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(regions)),
    received_at     TEXT NOT NULL,
    due_at          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'refused')),
    note            TEXT,
    created_by      INTEGER REFERENCES users(id),
    created_at      TEXT NOT NULL,
    closed_at       TEXT,
    closed_by       INTEGER REFERENCES users(id),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE INDEX data_requests_open ON data_requests(status, due_at);
CREATE INDEX data_requests_candidate ON data_requests(candidate_id);

-- A legal hold keeps everything of a candidate: no erasure, no retention, until released.
CREATE TABLE legal_holds (
    id              INTEGER PRIMARY KEY,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    reason          TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    placed_by       INTEGER NOT NULL REFERENCES users(id),
    placed_at       TEXT NOT NULL,
    released_at     TEXT,
    released_by     INTEGER REFERENCES users(id),
    CHECK ((released_at IS NULL) = (released_by IS NULL))
);
CREATE INDEX legal_holds_candidate ON legal_holds(candidate_id, released_at);

-- The tombstone of an erased candidate. Written before the key is shredded (completed_at
-- NULL), completed in the transaction that removes the derived data, so an interrupted
-- erasure is found and finished. `erased_by` NULL: the retention job.
CREATE TABLE erasures (
    id              INTEGER PRIMARY KEY,
    candidate_id    INTEGER NOT NULL UNIQUE REFERENCES candidates(id),
    pseudonym       TEXT NOT NULL UNIQUE,
    actor           TEXT NOT NULL,
    erased_by       INTEGER REFERENCES users(id),
    request_id      INTEGER REFERENCES data_requests(id),
    reason          TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    regions         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(regions)),
    started_at      TEXT NOT NULL,
    completed_at    TEXT,
    counts          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(counts))
);
CREATE INDEX erasures_pending ON erasures(completed_at);

-- The AI decision log (AI Act Art. 26(6), EU-5; for China the processing record of automated
-- decision-making that PIPL Art. 56 keeps three years, CN-4): what the AI produced,
-- pseudonymous and without any text, so it outlives the candidate's erasure as a log stub.
-- Written with each report; purged by retention only after the strictest region's minimum.
CREATE TABLE ai_decision_log (
    id              INTEGER PRIMARY KEY,
    pseudonym       TEXT NOT NULL,
    interview_id    INTEGER,
    report_id       INTEGER,
    job_id          INTEGER,
    model_version   TEXT,
    scores          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(scores)),
    regions         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(regions)),
    created_at      TEXT NOT NULL
);
CREATE INDEX ai_decision_log_pseudonym ON ai_decision_log(pseudonym);
CREATE INDEX ai_decision_log_created ON ai_decision_log(created_at);

-- Each purge of AI decision log entries: by retention, or early by an explicit legal-hold
-- override (with the person and the reason).
CREATE TABLE decision_log_purges (
    id              INTEGER PRIMARY KEY,
    pseudonym       TEXT,
    entries         INTEGER NOT NULL CHECK (entries >= 0),
    override        INTEGER NOT NULL DEFAULT 0 CHECK (override IN (0, 1)),
    reason          TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    purged_by       INTEGER REFERENCES users(id),
    purged_at       TEXT NOT NULL,
    CHECK (override = 0 OR purged_by IS NOT NULL)
);
