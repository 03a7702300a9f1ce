-- Data migration from another HR system (appliance/data_import.py): a log of import batches
-- and the external ids of the records each batch created.
--
-- import_batches holds no personal data in its columns: who ran the batch (an account), when,
-- the SHA-256 of the source file, counts, the status and a report of counts, locations and
-- hashes. Only staged_source holds the uploaded file itself, between the web dry run and its
-- confirmation; it is cleared when the batch is imported, fails, is discarded or expires
-- (secure_delete zeroes the freed pages).

CREATE TABLE import_batches (
    id              INTEGER PRIMARY KEY,
    created_by      INTEGER NOT NULL REFERENCES users(id),
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    source_format   TEXT NOT NULL CHECK (source_format IN ('json', 'csv')),
    source_sha256   TEXT NOT NULL CHECK (length(source_sha256) = 64),
    source_bytes    INTEGER NOT NULL CHECK (source_bytes >= 0),
    status          TEXT NOT NULL CHECK (status IN (
                        'planned', 'rejected', 'completed', 'failed', 'discarded')),
    counts          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(counts)),
    report          TEXT CHECK (report IS NULL OR json_valid(report)),
    staged_source   BLOB
);
CREATE INDEX import_batches_created ON import_batches(created_at);

-- One row per requisition or candidate an import created: how the other system named it.
-- Deleting the record (erasure) deletes its row here too.
CREATE TABLE import_records (
    id              INTEGER PRIMARY KEY,
    batch_id        INTEGER NOT NULL REFERENCES import_batches(id),
    entity          TEXT NOT NULL CHECK (entity IN ('requisition', 'candidate')),
    external_id     TEXT NOT NULL CHECK (length(external_id) BETWEEN 1 AND 100),
    requisition_id  INTEGER REFERENCES requisitions(id) ON DELETE CASCADE,
    candidate_id    INTEGER REFERENCES candidates(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL CHECK (position >= 0),
    CHECK ((entity = 'requisition') = (requisition_id IS NOT NULL)),
    CHECK ((entity = 'candidate') = (candidate_id IS NOT NULL)),
    UNIQUE (entity, external_id)
);
CREATE INDEX import_records_batch ON import_records(batch_id, entity, position);
CREATE INDEX import_records_requisition ON import_records(requisition_id);
CREATE INDEX import_records_candidate ON import_records(candidate_id);
