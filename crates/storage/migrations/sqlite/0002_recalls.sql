-- Normalized recalls. `doc` is the canonical JSON of the recall (the detail
-- shape); the other columns exist to filter, order and index.
CREATE TABLE recalls (
    rid INTEGER PRIMARY KEY,
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
    updated_at TEXT NOT NULL
);
CREATE INDEX recalls_by_date ON recalls (recall_date DESC, id);
CREATE INDEX recalls_by_agency_date ON recalls (agency_code, recall_date DESC, id);
CREATE INDEX recalls_by_severity_date ON recalls (severity, recall_date DESC, id);
CREATE INDEX recalls_by_category_date ON recalls (risk_category, recall_date DESC, id);

-- Every barcode of every recall, as a 14-digit GTIN, so all padded forms of a
-- code meet in one index entry.
CREATE TABLE recall_gtins (
    gtin TEXT NOT NULL,
    recall_rid INTEGER NOT NULL REFERENCES recalls (rid) ON DELETE CASCADE,
    PRIMARY KEY (gtin, recall_rid)
) WITHOUT ROWID;
CREATE INDEX recall_gtins_by_recall ON recall_gtins (recall_rid);

-- Full-text index over the normalized search text (external content: the
-- text lives once, in `recalls`). The text is pre-normalized by the domain
-- tokenizer, so FTS5 and PostgreSQL see the same tokens.
CREATE VIRTUAL TABLE recalls_fts USING fts5 (
    search_title,
    search_body,
    content = 'recalls',
    content_rowid = 'rid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER recalls_fts_insert AFTER INSERT ON recalls BEGIN
    INSERT INTO recalls_fts (rowid, search_title, search_body)
    VALUES (new.rid, new.search_title, new.search_body);
END;
CREATE TRIGGER recalls_fts_delete AFTER DELETE ON recalls BEGIN
    INSERT INTO recalls_fts (recalls_fts, rowid, search_title, search_body)
    VALUES ('delete', old.rid, old.search_title, old.search_body);
END;
CREATE TRIGGER recalls_fts_update AFTER UPDATE OF search_title, search_body ON recalls BEGIN
    INSERT INTO recalls_fts (recalls_fts, rowid, search_title, search_body)
    VALUES ('delete', old.rid, old.search_title, old.search_body);
    INSERT INTO recalls_fts (rowid, search_title, search_body)
    VALUES (new.rid, new.search_title, new.search_body);
END;

-- Words seen in recall text, for typo-tolerant query expansion.
CREATE TABLE search_terms (
    term TEXT PRIMARY KEY
) WITHOUT ROWID;

-- Bumped by every write to the catalogue so caches and vocabularies on every
-- instance can tell that recalls changed.
CREATE TABLE catalogue_generation (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    generation INTEGER NOT NULL
);
INSERT INTO catalogue_generation (singleton, generation) VALUES (1, 0);
