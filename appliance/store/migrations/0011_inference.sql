-- 0011_inference: affect observations stored apart from reports, and the per-requisition
-- admin setting that alone may let them feed a score.
--
-- Affect (expression-classifier) output never goes into a report's content and is never read
-- by scoring unless an HR admin has switched `affect_may_feed_scores` on for the requisition
-- with a recorded justification. Observations are sealed with the candidate's key (erasure
-- shreds them with the key) and go with their recording or report (ON DELETE CASCADE), so
-- retention and erasure need no extra step.

CREATE TABLE affect_observations (
    id              INTEGER PRIMARY KEY,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    recording_id    INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    report_id       INTEGER REFERENCES reports(id) ON DELETE CASCADE,
    job_id          INTEGER NOT NULL REFERENCES jobs(id),
    model           TEXT NOT NULL,          -- pack name and version that produced them
    frames          INTEGER NOT NULL CHECK (frames >= 0),
    content         TEXT NOT NULL,          -- sealed JSON: per-frame class probabilities
    created_at      TEXT NOT NULL,
    UNIQUE (job_id)
);
CREATE INDEX affect_observations_recording ON affect_observations(recording_id);
CREATE INDEX affect_observations_candidate ON affect_observations(candidate_id);

-- Every change of the setting is a new row (the latest row is in force); the justification
-- is mandatory, so who allowed affect into scoring, when and why is never lost.
CREATE TABLE affect_scoring_settings (
    id              INTEGER PRIMARY KEY,
    requisition_id  INTEGER NOT NULL REFERENCES requisitions(id),
    enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    justification   TEXT NOT NULL CHECK (length(trim(justification)) >= 20),
    changed_by      INTEGER NOT NULL REFERENCES users(id),
    changed_at      TEXT NOT NULL
);
CREATE INDEX affect_scoring_settings_requisition
    ON affect_scoring_settings(requisition_id, id);
CREATE TRIGGER affect_scoring_settings_append_only BEFORE UPDATE ON affect_scoring_settings
BEGIN SELECT RAISE(ABORT, 'a recorded affect-scoring change never changes'); END;
