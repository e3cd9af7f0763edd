-- Normalized recalls. `doc` is the canonical JSON of the recall (the detail
-- shape); the other columns exist to filter, order and index.
CREATE TABLE recalls (
    rid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agency_code TEXT NOT NULL REFERENCES agencies (code),
    recall_date TEXT NOT NULL,
    severity TEXT,
    risk_category TEXT,
    status TEXT NOT NULL,
    search_title TEXT NOT NULL,
    search_body TEXT NOT NULL,
    doc TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- The text is pre-normalized by the domain tokenizer; 'simple' keeps each
    -- token as is, so PostgreSQL and SQLite FTS5 see the same tokens.
    search_tsv TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', search_title), 'A')
        || setweight(to_tsvector('simple', search_body), 'B')
    ) STORED
);
CREATE INDEX recalls_by_date ON recalls (recall_date DESC, id);
CREATE INDEX recalls_by_agency_date ON recalls (agency_code, recall_date DESC, id);
CREATE INDEX recalls_by_severity_date ON recalls (severity, recall_date DESC, id);
CREATE INDEX recalls_by_category_date ON recalls (risk_category, recall_date DESC, id);
CREATE INDEX recalls_search ON recalls USING GIN (search_tsv);

-- Every barcode of every recall, as a 14-digit GTIN.
CREATE TABLE recall_gtins (
    gtin TEXT NOT NULL,
    recall_rid BIGINT NOT NULL REFERENCES recalls (rid) ON DELETE CASCADE,
    PRIMARY KEY (gtin, recall_rid)
);
CREATE INDEX recall_gtins_by_recall ON recall_gtins (recall_rid);

-- Words seen in recall text, for typo-tolerant query expansion.
CREATE TABLE search_terms (
    term TEXT PRIMARY KEY
);

-- Bumped by every write to the catalogue.
CREATE TABLE catalogue_generation (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    generation BIGINT NOT NULL
);
INSERT INTO catalogue_generation (singleton, generation) VALUES (1, 0);
