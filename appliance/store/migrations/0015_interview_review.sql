-- 0015_interview_review: people review an interview as one report.
-- A score override of the whole interview (one competency across all its answers), beside the
-- overrides of single answers' reports; the reason is sealed with the candidate's key.
CREATE TABLE interview_overrides (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    dimension       TEXT NOT NULL,
    previous_score  REAL,
    new_score       REAL NOT NULL CHECK (new_score BETWEEN 1 AND 10),
    reason          TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    overridden_by   INTEGER NOT NULL REFERENCES users(id),
    overridden_at   TEXT NOT NULL
);
CREATE INDEX interview_overrides_interview ON interview_overrides(interview_id);

-- An interviewer's or expert's scorecard: a rating per competency of the job's model, sealed
-- JSON {dimension key: rating 1-10}; NULL for evaluations written before scorecards existed.
ALTER TABLE evaluations ADD COLUMN ratings TEXT;
