-- Regional compliance: versioned notices, consents and waivers, notice deliveries, holiday
-- calendars, per-region analysis settings, self-declared demographics for bias audits and
-- published bias-audit summaries. Policy refusals are written to the audit log
-- (action 'policy.refused'), not to a table of their own.

-- A notice per region and language, versioned; a published version never changes (editing a
-- published notice saves the next version as a draft).
CREATE TABLE notice_versions (
    id                      INTEGER PRIMARY KEY,
    region                  TEXT NOT NULL
                                CHECK (region IN ('EU', 'US-NYC', 'US-IL', 'US-MD', 'CN', 'default')),
    language                TEXT NOT NULL CHECK (length(trim(language)) > 0),
    version                 INTEGER NOT NULL CHECK (version >= 1),
    title                   TEXT NOT NULL DEFAULT '',
    controller              TEXT NOT NULL DEFAULT '',
    purposes                TEXT NOT NULL DEFAULT '',
    retention               TEXT NOT NULL DEFAULT '',
    rights                  TEXT NOT NULL DEFAULT '',
    automated_evaluation    TEXT NOT NULL DEFAULT '',
    body                    TEXT NOT NULL DEFAULT '',
    created_by              INTEGER REFERENCES users(id),
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    published_at            TEXT,
    published_by            INTEGER REFERENCES users(id),
    UNIQUE (region, language, version),
    -- EU-6: nothing is published with a required field empty.
    CHECK (published_at IS NULL OR (
        length(trim(controller)) > 0 AND length(trim(purposes)) > 0
        AND length(trim(retention)) > 0 AND length(trim(rights)) > 0
        AND length(trim(automated_evaluation)) > 0))
);
CREATE INDEX notice_versions_region ON notice_versions(region, language, version);
CREATE TRIGGER notice_versions_published_frozen BEFORE UPDATE ON notice_versions
WHEN OLD.published_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a published notice never changes'); END;
CREATE TRIGGER notice_versions_published_kept BEFORE DELETE ON notice_versions
WHEN OLD.published_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a published notice is never deleted'); END;

-- Consents and waivers, each with the exact text the candidate saw. Only withdrawn_at ever
-- changes (once); `signed_name` is sealed with the candidate's key (written as '-' by the
-- INSERT, sealed bound to the new id right after). Rows may be deleted by an erasure.
CREATE TABLE consents (
    id                  INTEGER PRIMARY KEY,
    candidate_id        INTEGER NOT NULL REFERENCES candidates(id),
    interview_id        INTEGER NOT NULL REFERENCES interviews(id),
    kind                TEXT NOT NULL CHECK (kind IN (
                            'ai_evaluation', 'visual_cues', 'biometric',
                            'facial_recognition_waiver', 'refuse_automated_decision')),
    notice_version_id   INTEGER REFERENCES notice_versions(id),
    text_shown          TEXT NOT NULL CHECK (length(trim(text_shown)) > 0),
    language            TEXT NOT NULL,
    given_at            TEXT NOT NULL,
    recorded_at         TEXT NOT NULL,
    recorded_by         INTEGER REFERENCES users(id),
    channel             TEXT NOT NULL CHECK (channel IN ('hr', 'candidate')),
    withdrawn_at        TEXT,
    signed_name         TEXT,
    interview_date      TEXT,
    read_confirmed      INTEGER CHECK (read_confirmed IS NULL OR read_confirmed IN (0, 1)),
    -- MD-1: a waiver names the applicant as signed, the interview date and whether it was read.
    CHECK (kind <> 'facial_recognition_waiver' OR (
        signed_name IS NOT NULL AND length(trim(signed_name)) > 0
        AND interview_date IS NOT NULL AND read_confirmed IS NOT NULL))
);
CREATE INDEX consents_interview ON consents(interview_id);
CREATE INDEX consents_candidate ON consents(candidate_id);
CREATE TRIGGER consents_only_withdrawal BEFORE UPDATE ON consents
WHEN OLD.withdrawn_at IS NOT NULL
    OR NEW.candidate_id IS NOT OLD.candidate_id OR NEW.interview_id IS NOT OLD.interview_id
    OR NEW.kind IS NOT OLD.kind OR NEW.notice_version_id IS NOT OLD.notice_version_id
    OR NEW.text_shown IS NOT OLD.text_shown OR NEW.language IS NOT OLD.language
    OR NEW.given_at IS NOT OLD.given_at
    OR (NEW.signed_name IS NOT OLD.signed_name AND OLD.signed_name IS NOT '-')
    OR NEW.interview_date IS NOT OLD.interview_date
    OR NEW.read_confirmed IS NOT OLD.read_confirmed
BEGIN SELECT RAISE(ABORT, 'a consent record is only ever withdrawn, once'); END;

-- NY-1: when a published notice was sent for an interview.
CREATE TABLE notice_deliveries (
    id                  INTEGER PRIMARY KEY,
    interview_id        INTEGER NOT NULL REFERENCES interviews(id),
    notice_version_id   INTEGER NOT NULL REFERENCES notice_versions(id),
    sent_at             TEXT NOT NULL,
    channel             TEXT NOT NULL DEFAULT 'email',
    recorded_by         INTEGER REFERENCES users(id),
    recorded_at         TEXT NOT NULL
);
CREATE INDEX notice_deliveries_interview ON notice_deliveries(interview_id);

-- Public holidays per region: business days skip them and weekends.
CREATE TABLE holidays (
    region      TEXT NOT NULL CHECK (region IN ('EU', 'US-NYC', 'US-IL', 'US-MD', 'CN', 'default')),
    day         TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    created_by  INTEGER REFERENCES users(id),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (region, day)
);

-- Which optional analyses a region runs (all off by default: no row means off).
CREATE TABLE region_analysis_settings (
    region              TEXT PRIMARY KEY
                            CHECK (region IN ('EU', 'US-NYC', 'US-IL', 'US-MD', 'CN', 'default')),
    visual_cues_enabled INTEGER NOT NULL DEFAULT 0 CHECK (visual_cues_enabled IN (0, 1)),
    affect_enabled      INTEGER NOT NULL DEFAULT 0 CHECK (affect_enabled IN (0, 1)),
    updated_by          INTEGER REFERENCES users(id),
    updated_at          TEXT NOT NULL,
    -- EU-1: emotion inference is prohibited in the EU; the schema refuses it too.
    CHECK (NOT (region = 'EU' AND affect_enabled = 1))
);

-- Self-declared sex and race/ethnicity for bias audits only; NULL is "unknown".
CREATE TABLE candidate_demographics (
    candidate_id    INTEGER PRIMARY KEY REFERENCES candidates(id),
    sex             TEXT,
    race_ethnicity  TEXT,
    recorded_at     TEXT NOT NULL
);

-- NY-3: published bias-audit summaries (aggregates only, no person in them); append-only.
CREATE TABLE bias_audits (
    id              INTEGER PRIMARY KEY,
    region          TEXT NOT NULL CHECK (region IN ('EU', 'US-NYC', 'US-IL', 'US-MD', 'CN', 'default')),
    audit_date      TEXT NOT NULL CHECK (audit_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    data_source     TEXT NOT NULL CHECK (length(trim(data_source)) > 0),
    summary         TEXT NOT NULL CHECK (json_valid(summary)),
    published_by    INTEGER NOT NULL REFERENCES users(id),
    published_at    TEXT NOT NULL
);
CREATE INDEX bias_audits_region ON bias_audits(region, audit_date);
CREATE TRIGGER bias_audits_no_update BEFORE UPDATE ON bias_audits
BEGIN SELECT RAISE(ABORT, 'a published bias audit never changes'); END;
CREATE TRIGGER bias_audits_no_delete BEFORE DELETE ON bias_audits
BEGIN SELECT RAISE(ABORT, 'a published bias audit is never deleted'); END;
