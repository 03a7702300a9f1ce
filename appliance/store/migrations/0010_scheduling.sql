-- 0010_scheduling: interviewers' working hours in their own zones, imported busy times,
-- interview types, candidates' scheduling requests and bookings (never two live bookings of one
-- person that overlap: a trigger refuses them), signed self-scheduling links, and the durable
-- notification outbox with its send log and in-app notifications.

-- One row per person who interviews: their zone, weekly hours and focus blocks in that zone.
CREATE TABLE interviewer_profiles (
    user_id         INTEGER PRIMARY KEY REFERENCES users(id),
    timezone        TEXT NOT NULL,
    holiday_region  TEXT NOT NULL DEFAULT 'default'
                        CHECK (holiday_region IN ('EU', 'US-NYC', 'US-IL', 'US-MD', 'CN', 'default')),
    -- {"0": [["09:00", "17:00"]], ...}: weekday (Monday 0) -> local windows
    working_hours   TEXT NOT NULL CHECK (json_valid(working_hours)),
    -- [[weekday, "HH:MM", "HH:MM"], ...]: recurring focus time, avoided when ranking
    focus_blocks    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(focus_blocks)),
    max_per_day     INTEGER NOT NULL DEFAULT 4 CHECK (max_per_day BETWEEN 1 AND 24),
    caldav_calendar TEXT,
    updated_at      TEXT NOT NULL
);

-- Busy times imported from ICS files or the CalDAV server (times only: no titles are kept).
CREATE TABLE busy_blocks (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL CHECK (ends_at > starts_at),
    source          TEXT NOT NULL CHECK (source IN ('ics', 'caldav')),
    imported_at     TEXT NOT NULL
);
CREATE INDEX busy_blocks_user ON busy_blocks(user_id, starts_at);

CREATE TABLE interview_types (
    id                      INTEGER PRIMARY KEY,
    name                    TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    duration_minutes        INTEGER NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    buffer_before_minutes   INTEGER NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 240),
    buffer_after_minutes    INTEGER NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
    -- panel: every member attends; pool: `attendees` of the members, chosen round-robin
    mode                    TEXT NOT NULL CHECK (mode IN ('panel', 'pool')),
    attendees               INTEGER NOT NULL DEFAULT 1 CHECK (attendees >= 1),
    role_family             TEXT NOT NULL DEFAULT 'general'
                                CHECK (role_family IN ('technical', 'sales', 'executive', 'general')),
    created_by              INTEGER REFERENCES users(id),
    created_at              TEXT NOT NULL
);

CREATE TABLE interview_type_members (
    type_id     INTEGER NOT NULL REFERENCES interview_types(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (type_id, user_id)
);

-- An interview to be scheduled: the candidate's zone and preferred windows (in that zone).
CREATE TABLE scheduling_requests (
    id                  INTEGER PRIMARY KEY,
    interview_id        INTEGER NOT NULL UNIQUE REFERENCES interviews(id),
    type_id             INTEGER NOT NULL REFERENCES interview_types(id),
    candidate_timezone  TEXT NOT NULL,
    preferred_windows   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(preferred_windows)),
    status              TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'booked', 'cancelled')),
    opened_by           INTEGER REFERENCES users(id),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

-- The booked time of a request. The UID stays for the life of the booking; SEQUENCE grows with
-- each reschedule or cancellation, as calendar clients expect.
CREATE TABLE bookings (
    id              INTEGER PRIMARY KEY,
    request_id      INTEGER NOT NULL UNIQUE REFERENCES scheduling_requests(id),
    uid             TEXT NOT NULL UNIQUE,
    sequence        INTEGER NOT NULL DEFAULT 0 CHECK (sequence >= 0),
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL CHECK (ends_at > starts_at),
    status          TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
    attendees       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(attendees)),
    booked_by       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- The time a live booking holds in each attendee's calendar (buffers included).
CREATE TABLE booking_holds (
    booking_id      INTEGER NOT NULL REFERENCES bookings(id),
    user_id         INTEGER NOT NULL REFERENCES users(id),
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL CHECK (ends_at > starts_at),
    PRIMARY KEY (booking_id, user_id)
);
CREATE INDEX booking_holds_user ON booking_holds(user_id, starts_at);
-- The last line of defence against double booking, whatever the code path.
CREATE TRIGGER booking_holds_no_overlap BEFORE INSERT ON booking_holds
WHEN EXISTS (
    SELECT 1 FROM booking_holds h
    WHERE h.user_id = NEW.user_id AND h.booking_id <> NEW.booking_id
      AND h.starts_at < NEW.ends_at AND NEW.starts_at < h.ends_at
)
BEGIN SELECT RAISE(ABORT, 'double booking: the interviewer is already booked then'); END;

CREATE TABLE scheduling_links (
    id              INTEGER PRIMARY KEY,
    request_id      INTEGER NOT NULL REFERENCES scheduling_requests(id),
    nonce           TEXT NOT NULL UNIQUE,
    expires_at      TEXT NOT NULL,
    created_by      INTEGER REFERENCES users(id),
    created_at      TEXT NOT NULL,
    revoked_at      TEXT,
    last_used_at    TEXT
);
CREATE INDEX scheduling_links_request ON scheduling_links(request_id);

-- The durable outbox. `payload` is sealed with the candidate's key (shredding it makes every
-- pending message about them unreadable); `message_key` de-duplicates enqueueing; `message_id`
-- is the RFC 5322 Message-ID and the gateway's idempotency key, the same on every attempt.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_key     TEXT NOT NULL UNIQUE,
    message_id      TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'inapp')),
    purpose         TEXT NOT NULL,
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    interview_id    INTEGER REFERENCES interviews(id),
    user_id         INTEGER REFERENCES users(id),
    payload         TEXT NOT NULL CHECK (json_valid(payload)),
    state           TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'dead', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    not_before      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    claimed_by      TEXT,
    claimed_at      TEXT,
    last_error      TEXT,
    dead_reason     TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_interview ON outbox(interview_id);

-- One row per attempt, written before anything leaves the box: `phase` says how far it got
-- ('claimed' -> 'handing_over' -> 'accepted' | 'failed'), which decides what a crash means.
CREATE TABLE outbox_attempts (
    id              INTEGER PRIMARY KEY,
    outbox_id       INTEGER NOT NULL REFERENCES outbox(id),
    attempt         INTEGER NOT NULL,
    claimed_by      TEXT NOT NULL,
    phase           TEXT NOT NULL CHECK (phase IN ('claimed', 'handing_over', 'accepted', 'failed')),
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    error           TEXT,
    UNIQUE (outbox_id, attempt)
);

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id),
    outbox_id       INTEGER NOT NULL UNIQUE REFERENCES outbox(id),
    candidate_id    INTEGER NOT NULL REFERENCES candidates(id),
    content         TEXT NOT NULL CHECK (json_valid(content)),
    created_at      TEXT NOT NULL,
    read_at         TEXT
);
CREATE INDEX notifications_user ON notifications(user_id, id);

-- Which round an "advance" decision opened (the worker job that opens it is idempotent by it).
CREATE TABLE next_rounds (
    decision_id     INTEGER PRIMARY KEY REFERENCES decisions(id),
    interview_id    INTEGER NOT NULL REFERENCES interviews(id),
    request_id      INTEGER REFERENCES scheduling_requests(id),
    opened_at       TEXT NOT NULL
);
