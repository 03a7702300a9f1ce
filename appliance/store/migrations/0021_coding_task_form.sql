-- 0021_coding_task_form: coding tasks may also be made and edited in a form on the job's page
-- (origin 'form'). Reference solutions per language need no column: they live in `spec`, the
-- task's JSON in its file form, whose `reference` may now be a list (docs/coding-tasks.md);
-- every spec stored before (one reference) reads as it did.
--
-- SQLite cannot change a CHECK in place, and a migration runs inside one transaction, where
-- foreign keys cannot be switched off. So the rows that point at coding_tasks (drafts and
-- submissions) are set aside in copies within this transaction, coding_tasks is rebuilt with
-- every row and id kept, and they are put back as they were: no foreign key is broken at any
-- point, and the drafts' and submissions' own tables, columns and indexes are left alone.
CREATE TABLE coding_drafts_kept AS SELECT * FROM coding_drafts;
CREATE TABLE coding_submissions_kept AS SELECT * FROM coding_submissions;
DELETE FROM coding_drafts;
DELETE FROM coding_submissions;

CREATE TABLE coding_tasks_rebuilt (
    id              INTEGER PRIMARY KEY,
    requisition_id  INTEGER NOT NULL REFERENCES requisitions(id),
    key             TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    title           TEXT NOT NULL,
    spec            TEXT NOT NULL CHECK (json_valid(spec)),
    origin          TEXT NOT NULL CHECK (origin IN ('import', 'api', 'form')),
    created_by      INTEGER REFERENCES users(id),
    created_at      TEXT NOT NULL,
    UNIQUE (requisition_id, key, version)
);
INSERT INTO coding_tasks_rebuilt
    (id, requisition_id, key, version, title, spec, origin, created_by, created_at)
    SELECT id, requisition_id, key, version, title, spec, origin, created_by, created_at
    FROM coding_tasks;
DROP TABLE coding_tasks;
ALTER TABLE coding_tasks_rebuilt RENAME TO coding_tasks;

INSERT INTO coding_drafts SELECT * FROM coding_drafts_kept;
INSERT INTO coding_submissions SELECT * FROM coding_submissions_kept;
DROP TABLE coding_drafts_kept;
DROP TABLE coding_submissions_kept;
