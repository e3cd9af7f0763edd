-- Every ingestion run, and the records it could not use (quarantined with
-- their error so an admin can see what a source sent).
CREATE TABLE ingest_runs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    origin TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    fetched INTEGER NOT NULL,
    inserted INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX ingest_runs_by_source ON ingest_runs (source, id);

CREATE TABLE ingest_quarantine (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    source_id TEXT,
    error TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX ingest_quarantine_by_run ON ingest_quarantine (run_id, id);
