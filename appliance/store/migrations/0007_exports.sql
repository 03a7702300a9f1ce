-- Auditor export bundles: who may receive them (with an age public key), what was asked
-- for and built, and how many individuals' China-region data left China each year (CN-3).

-- One row per auditor who registered an age X25519 public key. The auditor sets the key and
-- their location; an administrator decides the rest (each with a reason, also in the audit
-- log): videos only to people on the evaluation allow-list (IL-2), China-region data to a
-- recipient outside China only when allowed (CN-3: off by default).
CREATE TABLE export_recipients (
    user_id                 INTEGER PRIMARY KEY REFERENCES users(id),
    age_recipient           TEXT NOT NULL CHECK (age_recipient LIKE 'age1%'),
    -- Regions this recipient may receive bundles of (JSON list; "*" for all).
    regions                 TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(regions)),
    -- Where the recipient is: an ISO 3166-1 alpha-2 country/region code (CN, HK, US, DE...).
    location_country        TEXT NOT NULL
                                CHECK (length(location_country) = 2
                                       AND location_country = upper(location_country)),
    videos_allowed          INTEGER NOT NULL DEFAULT 0 CHECK (videos_allowed IN (0, 1)),
    videos_reason           TEXT,
    videos_decided_by       INTEGER REFERENCES users(id),
    videos_decided_at       TEXT,
    cross_border_allowed    INTEGER NOT NULL DEFAULT 0 CHECK (cross_border_allowed IN (0, 1)),
    cross_border_reason     TEXT,
    cross_border_decided_by INTEGER REFERENCES users(id),
    cross_border_decided_at TEXT,
    registered_at           TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    CHECK (videos_allowed = 0
           OR (length(trim(coalesce(videos_reason, ''))) > 0 AND videos_decided_by IS NOT NULL)),
    CHECK (cross_border_allowed = 0
           OR (length(trim(coalesce(cross_border_reason, ''))) > 0
               AND cross_border_decided_by IS NOT NULL))
);

-- One row per requested bundle; the job of kind "export" builds it.
CREATE TABLE export_requests (
    id                  INTEGER PRIMARY KEY,
    requested_by        INTEGER NOT NULL REFERENCES users(id),
    kind                TEXT NOT NULL,
    region              TEXT NOT NULL
                            CHECK (region IN ('EU', 'US-NYC', 'US-IL', 'US-MD', 'CN', 'default')),
    period_start        TEXT NOT NULL,
    period_end          TEXT NOT NULL,
    include_media       INTEGER NOT NULL DEFAULT 0 CHECK (include_media IN (0, 1)),
    -- Why the requester needs the media (IL-2); NULL for bundles without media.
    reason              TEXT,
    -- The recipient as it was when the bundle was asked for (and then built).
    age_recipient       TEXT NOT NULL,
    recipient_country   TEXT NOT NULL,
    -- China-region data for a recipient outside China (allowed, and counted: CN-3).
    cross_border        INTEGER NOT NULL DEFAULT 0 CHECK (cross_border IN (0, 1)),
    job_id              INTEGER REFERENCES jobs(id),
    state               TEXT NOT NULL DEFAULT 'queued'
                            CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    progress            REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    error               TEXT,
    bundle_name         TEXT UNIQUE,
    tar_bytes           INTEGER,
    bundle_bytes        INTEGER,
    bundle_sha256       TEXT,
    manifest_sha256     TEXT,
    counts              TEXT CHECK (counts IS NULL OR json_valid(counts)),
    created_at          TEXT NOT NULL,
    started_at          TEXT,
    finished_at         TEXT,
    CHECK (period_start < period_end),
    CHECK (include_media = 0 OR length(trim(coalesce(reason, ''))) > 0)
);
CREATE INDEX export_requests_user ON export_requests(requested_by, id);
CREATE INDEX export_requests_job ON export_requests(job_id);

-- CN-3: individuals whose China-region data went to recipients outside China, per year;
-- sensitive personal information (recordings: face and voice) is counted separately.
CREATE TABLE cn_export_counts (
    year                    INTEGER PRIMARY KEY,
    individuals             INTEGER NOT NULL DEFAULT 0 CHECK (individuals >= 0),
    sensitive_individuals   INTEGER NOT NULL DEFAULT 0 CHECK (sensitive_individuals >= 0),
    exports                 INTEGER NOT NULL DEFAULT 0 CHECK (exports >= 0),
    updated_at              TEXT NOT NULL
);

-- Who was counted, so a person exported twice in a year is one individual, not two.
CREATE TABLE cn_export_individuals (
    year                INTEGER NOT NULL,
    pseudonym           TEXT NOT NULL,
    sensitive           INTEGER NOT NULL CHECK (sensitive IN (0, 1)),
    first_export_id     INTEGER NOT NULL REFERENCES export_requests(id),
    PRIMARY KEY (year, pseudonym, sensitive)
) WITHOUT ROWID;
