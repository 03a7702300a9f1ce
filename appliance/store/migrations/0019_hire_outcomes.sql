-- 0019_hire_outcomes: what happened after a hire, for hiring analytics and the validity of
-- scores (does a high score predict a good hire?).
--
-- One row per hired person and job, linked to HR's own records by an employee id HR controls
-- (unique on the box). Performance ratings are on a 1-5 scale, one per person and date. Both
-- tables carry the candidate's id and are deleted when the candidate is erased.
CREATE TABLE hire_outcomes (
    id                  INTEGER PRIMARY KEY,
    candidate_id        INTEGER NOT NULL REFERENCES candidates(id),
    requisition_id      INTEGER NOT NULL REFERENCES requisitions(id),
    employee_id         TEXT NOT NULL UNIQUE CHECK (length(employee_id) BETWEEN 1 AND 64),
    start_date          TEXT CHECK (start_date IS NULL OR
                            start_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    probation           TEXT NOT NULL DEFAULT 'pending'
                            CHECK (probation IN ('pending', 'passed', 'extended', 'failed')),
    left_on             TEXT CHECK (left_on IS NULL OR
                            left_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    left_voluntarily    INTEGER CHECK (left_voluntarily IN (0, 1)),
    updated_by          INTEGER NOT NULL REFERENCES users(id),
    updated_at          TEXT NOT NULL,
    CHECK ((left_on IS NULL) = (left_voluntarily IS NULL)),
    CHECK (left_on IS NULL OR start_date IS NULL OR left_on >= start_date),
    UNIQUE (candidate_id, requisition_id)
);
CREATE INDEX hire_outcomes_requisition ON hire_outcomes(requisition_id);

CREATE TABLE performance_ratings (
    id              INTEGER PRIMARY KEY,
    outcome_id      INTEGER NOT NULL REFERENCES hire_outcomes(id) ON DELETE CASCADE,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    rated_on        TEXT NOT NULL CHECK (rated_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    rating          REAL NOT NULL CHECK (rating BETWEEN 1 AND 5),
    UNIQUE (outcome_id, rated_on)
);
CREATE INDEX performance_ratings_candidate ON performance_ratings(candidate_id);
