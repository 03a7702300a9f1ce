-- 0012_interview_room: the candidate's interview room (plan, takes, answers), HR notifications
-- and live-assist sessions.
--
-- Media pieces wait in the encrypted database (sealed a second time with the candidate's key)
-- until a take or a live session is complete; then they are assembled into one encrypted spool
-- file and deleted, so a dropped connection or a reload never loses an acknowledged piece.

-- Per-requisition settings of the room (absent row: the appliance defaults).
CREATE TABLE room_settings (
    requisition_id  INTEGER PRIMARY KEY REFERENCES requisitions(id),
    settings        TEXT NOT NULL CHECK (json_valid(settings)),
    updated_by      INTEGER REFERENCES users(id),
    updated_at      TEXT NOT NULL
);

-- One room per interview: the candidate's progress through it.
CREATE TABLE room_sessions (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL UNIQUE REFERENCES interviews(id),
    link_id         INTEGER NOT NULL REFERENCES candidate_links(id),
    language        TEXT NOT NULL,
    stage           TEXT NOT NULL DEFAULT 'consent'
                        CHECK (stage IN ('consent', 'device_check', 'questions', 'closed')),
    ai_choice       TEXT CHECK (ai_choice IN ('accepted', 'declined')),
    ai_choice_at    TEXT,
    settings        TEXT NOT NULL CHECK (json_valid(settings)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    closed_at       TEXT
);

-- The questions of a room, frozen when the room opens; follow-ups are inserted as they come.
CREATE TABLE room_questions (
    id              INTEGER PRIMARY KEY,
    session_id      INTEGER NOT NULL REFERENCES room_sessions(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('planned', 'personal', 'followup')),
    question_id     INTEGER REFERENCES competency_questions(id),
    dimension_key   TEXT,
    text            TEXT NOT NULL,  -- follow-ups and personal questions are sealed (personal data)
    based_on        INTEGER REFERENCES room_questions(id),
    created_at      TEXT NOT NULL,
    UNIQUE (session_id, position)
);

-- One recording attempt at a question.
CREATE TABLE room_takes (
    id              INTEGER PRIMARY KEY,
    room_question_id INTEGER NOT NULL REFERENCES room_questions(id) ON DELETE CASCADE,
    number          INTEGER NOT NULL CHECK (number >= 1),
    client_key      TEXT NOT NULL UNIQUE,
    content_type    TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'recording'
                        CHECK (state IN ('recording', 'complete', 'discarded', 'used')),
    next_seq        INTEGER NOT NULL DEFAULT 0,
    received_bytes  INTEGER NOT NULL DEFAULT 0,
    recording_id    INTEGER REFERENCES recordings(id),
    duration_s      REAL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (room_question_id, number)
);

-- Pieces of a take not yet assembled (AES-GCM with the candidate's key: nonce ‖ ciphertext).
CREATE TABLE room_chunks (
    take_id         INTEGER NOT NULL REFERENCES room_takes(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL CHECK (seq >= 0),
    size_bytes      INTEGER NOT NULL CHECK (size_bytes > 0),
    data            BLOB NOT NULL,
    PRIMARY KEY (take_id, seq)
);

-- The answer a candidate kept for a question: which recording answers what.
CREATE TABLE interview_answers (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    room_question_id INTEGER NOT NULL UNIQUE REFERENCES room_questions(id),
    recording_id    INTEGER NOT NULL UNIQUE REFERENCES recordings(id),
    take_id         INTEGER NOT NULL REFERENCES room_takes(id),
    position        INTEGER NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX interview_answers_interview ON interview_answers(interview_id);

-- In-app notifications for people (e.g. HR: a candidate finished their interview).
CREATE TABLE hr_notifications (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    kind            TEXT NOT NULL,
    interview_id    INTEGER REFERENCES interviews(id),
    details         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    created_at      TEXT NOT NULL,
    read_at         TEXT
);
CREATE INDEX hr_notifications_user ON hr_notifications(user_id, read_at);

-- Live assist: an interviewer streams a call's audio; a worker task transcribes it.
CREATE TABLE live_sessions (
    id              INTEGER PRIMARY KEY,
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    user_id         INTEGER NOT NULL REFERENCES users(id),
    language        TEXT NOT NULL,
    sample_rate     INTEGER NOT NULL CHECK (sample_rate BETWEEN 8000 AND 48000),
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'ending', 'ended')),
    next_seq        INTEGER NOT NULL DEFAULT 0,
    received_bytes  INTEGER NOT NULL DEFAULT 0,
    processed_seq   INTEGER NOT NULL DEFAULT 0,
    view            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(view)),  -- sealed running view
    job_id          INTEGER REFERENCES jobs(id),
    recording_id    INTEGER REFERENCES recordings(id),
    error           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    ended_at        TEXT
);
CREATE INDEX live_sessions_interview ON live_sessions(interview_id);

-- Audio of a live session (16-bit mono PCM pieces, sealed like room_chunks).
CREATE TABLE live_chunks (
    live_id         INTEGER NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL CHECK (seq >= 0),
    received_at     REAL NOT NULL,
    data            BLOB NOT NULL,
    PRIMARY KEY (live_id, seq)
);
