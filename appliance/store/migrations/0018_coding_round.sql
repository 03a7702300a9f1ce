-- 0018_coding_round: coding tasks of technical jobs, and candidates' drafts and submissions.
--
-- A task is product content (statement, starter code, test cases, limits, a reference
-- solution): one row per saved version, never changed, as competency models are. `spec` is the
-- task as JSON in the documented file form (docs/coding-tasks.md); `key` names the task within
-- its job across versions.
CREATE TABLE coding_tasks (
    id              INTEGER PRIMARY KEY,
    requisition_id  INTEGER NOT NULL REFERENCES requisitions(id),
    key             TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    title           TEXT NOT NULL,
    spec            TEXT NOT NULL CHECK (json_valid(spec)),
    origin          TEXT NOT NULL CHECK (origin IN ('import', 'api')),
    created_by      INTEGER REFERENCES users(id),
    created_at      TEXT NOT NULL,
    UNIQUE (requisition_id, key, version)
);

-- A candidate's code is personal data: drafts (each autosave, with its time) and submissions
-- keep the code sealed with the candidate's key (appliance/store/sealed.py SEALED_COLUMNS), and
-- so is a submission's result (verdicts, usage, outputs of visible cases, lint, timeline).
-- `task_id` is the task version the candidate was given and the submission is judged against.
-- Erasing the candidate deletes these rows; retention deletes them with the scores.
CREATE TABLE coding_drafts (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    task_id         INTEGER NOT NULL REFERENCES coding_tasks(id),
    language        TEXT NOT NULL,
    code            TEXT NOT NULL,                       -- sealed
    size_bytes      INTEGER NOT NULL CHECK (size_bytes >= 0),
    saved_at        TEXT NOT NULL
);
CREATE INDEX coding_drafts_interview ON coding_drafts(interview_id, task_id, id);

CREATE TABLE coding_submissions (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    task_id         INTEGER NOT NULL REFERENCES coding_tasks(id),
    language        TEXT NOT NULL,
    code            TEXT NOT NULL,                       -- sealed
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'judged', 'failed')),
    result          TEXT CHECK (result IS NULL OR json_valid(result)),  -- sealed JSON
    job_id          INTEGER,
    submitted_by    TEXT NOT NULL,                       -- 'user:<id>' or 'candidate'
    submitted_at    TEXT NOT NULL,
    judged_at       TEXT
);
CREATE INDEX coding_submissions_interview ON coding_submissions(interview_id, id);
