-- Every ingestion run, and the records it could not use (quarantined with
-- their error so an admin can see what a source sent).
CREATE TABLE ingest_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    origin TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    fetched BIGINT NOT NULL,
    inserted BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX ingest_runs_by_source ON ingest_runs (source, id);

CREATE TABLE ingest_quarantine (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    source_id TEXT,
    error TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX ingest_quarantine_by_run ON ingest_quarantine (run_id, id);
