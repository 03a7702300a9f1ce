-- 0009_scoring: competency models gain level anchors, bilingual keyword dictionaries and
-- Chinese dimension names; a model version records where it came from (editor, a starter
-- model, an imported dictionary). Versions stay immutable: every edit inserts a new one.

ALTER TABLE competency_models ADD COLUMN origin TEXT NOT NULL DEFAULT 'editor'
    CHECK (origin IN ('editor', 'starter', 'import', 'api'));

ALTER TABLE competency_dimensions ADD COLUMN name_zh TEXT NOT NULL DEFAULT '';

CREATE TABLE competency_anchors (
    id              INTEGER PRIMARY KEY,
    dimension_id    INTEGER NOT NULL REFERENCES competency_dimensions(id) ON DELETE CASCADE,
    level           INTEGER NOT NULL CHECK (level IN (3, 6, 9)),
    language        TEXT NOT NULL CHECK (language IN ('en', 'zh')),
    text            TEXT NOT NULL,
    UNIQUE (dimension_id, level, language)
);

CREATE TABLE competency_keywords (
    id              INTEGER PRIMARY KEY,
    dimension_id    INTEGER NOT NULL REFERENCES competency_dimensions(id) ON DELETE CASCADE,
    language        TEXT NOT NULL CHECK (language IN ('en', 'zh')),
    phrase          TEXT NOT NULL,
    position        INTEGER NOT NULL,
    UNIQUE (dimension_id, language, phrase)
);

CREATE INDEX competency_anchors_dimension ON competency_anchors (dimension_id);
CREATE INDEX competency_keywords_dimension ON competency_keywords (dimension_id);
