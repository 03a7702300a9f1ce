-- 0013_resumes_reports: resumes and the skills they show, personalised interview questions,
-- and people's corrections of how a live-interview recording splits into answers.
--
-- Every column holding candidate text is sealed with the candidate's vault key
-- (appliance/fieldcrypt.py, listed in appliance/store/sealed.py SEALED_COLUMNS): the resume
-- file itself (base64 of its bytes), its name, what was extracted from it, the personalised
-- questions (they quote the resume) and the corrected answer boundaries (they carry question
-- texts that may be personal). Erasing the candidate shreds the key and deletes these rows.

-- One uploaded resume; a newer upload of the same candidate supersedes the older one for
-- matching, the older stays until erasure or retention removes it.
CREATE TABLE resumes (
    id              INTEGER PRIMARY KEY,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    display_name    TEXT NOT NULL,                       -- sealed
    content_type    TEXT NOT NULL CHECK (content_type IN (
                        'application/pdf',
                        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
                        'text/plain')),
    size_bytes      INTEGER NOT NULL CHECK (size_bytes > 0),
    file            TEXT NOT NULL,                       -- sealed base64 of the bytes
    extracted       TEXT NOT NULL CHECK (json_valid(extracted)),  -- sealed JSON
    language        TEXT NOT NULL,
    uploaded_by     INTEGER REFERENCES users(id),
    created_at      TEXT NOT NULL
);
CREATE INDEX resumes_candidate ON resumes(candidate_id, id);

-- Questions for one candidate's interviews for one requisition, beyond the job's planned
-- ones: drafted from the resume match (source 'resume') or written by HR (source 'hr').
-- HR edits or removes them before the interview; `dimension_key` names the competency.
CREATE TABLE personal_questions (
    id              INTEGER PRIMARY KEY,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    requisition_id  INTEGER NOT NULL REFERENCES requisitions(id),
    resume_id       INTEGER REFERENCES resumes(id) ON DELETE SET NULL,
    dimension_key   TEXT,
    language        TEXT NOT NULL,
    text            TEXT NOT NULL,                       -- sealed
    source          TEXT NOT NULL CHECK (source IN ('resume', 'hr')),
    position        INTEGER NOT NULL,
    created_by      INTEGER REFERENCES users(id),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX personal_questions_plan ON personal_questions(candidate_id, requisition_id, position);

-- The answer boundaries of one recording as a person set them: a JSON list of
-- {start, end, question_id, question_text, dimension_key}. The newest row is in force; older
-- rows stay as the history of who changed what.
CREATE TABLE segment_corrections (
    id              INTEGER PRIMARY KEY,
    recording_id    INTEGER NOT NULL REFERENCES recordings(id),
    spans           TEXT NOT NULL CHECK (json_valid(spans)),  -- sealed JSON
    corrected_by    INTEGER REFERENCES users(id),
    corrected_at    TEXT NOT NULL
);
CREATE INDEX segment_corrections_recording ON segment_corrections(recording_id, id);
