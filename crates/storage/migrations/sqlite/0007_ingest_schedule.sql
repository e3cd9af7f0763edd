-- Scheduled pulls. One row per source: the cursor of an unfinished pull (so a
-- crashed or failed pull resumes where it stopped), the day the next pull
-- starts from, the lease that lets one instance at a time pull the source,
-- and its freshness (last success and what that run stored).
CREATE TABLE ingest_sources (
    source TEXT PRIMARY KEY,
    cursor TEXT,
    next_since TEXT,
    lease_owner TEXT,
    lease_until INTEGER,
    current_run_id INTEGER,
    last_run_id INTEGER,
    last_started_unix INTEGER,
    last_success_at TEXT,
    last_success_unix INTEGER,
    last_fetched INTEGER NOT NULL DEFAULT 0,
    last_inserted INTEGER NOT NULL DEFAULT 0,
    last_updated INTEGER NOT NULL DEFAULT 0,
    last_unchanged INTEGER NOT NULL DEFAULT 0,
    last_quarantined INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at TEXT NOT NULL
);

-- A pull is recorded when it starts ('running', no finished_at yet) and
-- counts its pages as they are stored. SQLite cannot change a CHECK
-- constraint in place: both ingest tables are rebuilt (quarantine first, so
-- no row is ever without its run) and renamed back; ids are kept.
CREATE TABLE ingest_runs_v7 (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    origin TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    pages INTEGER NOT NULL DEFAULT 0,
    fetched INTEGER NOT NULL,
    inserted INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    error TEXT
);
INSERT INTO ingest_runs_v7 (id, source, origin, started_at, finished_at, status, pages, fetched, inserted,
                            updated, unchanged, quarantined, error)
    SELECT id, source, origin, started_at, finished_at, status, 1, fetched, inserted, updated, unchanged,
           quarantined, error
    FROM ingest_runs;

CREATE TABLE ingest_quarantine_v7 (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES ingest_runs_v7 (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    source_id TEXT,
    error TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO ingest_quarantine_v7 (id, run_id, source, source_id, error, created_at)
    SELECT id, run_id, source, source_id, error, created_at FROM ingest_quarantine;

DROP TABLE ingest_quarantine;
DROP TABLE ingest_runs;
ALTER TABLE ingest_runs_v7 RENAME TO ingest_runs;
ALTER TABLE ingest_quarantine_v7 RENAME TO ingest_quarantine;
CREATE INDEX ingest_runs_by_source ON ingest_runs (source, id);
CREATE INDEX ingest_runs_running ON ingest_runs (source) WHERE status = 'running';
CREATE INDEX ingest_quarantine_by_run ON ingest_quarantine (run_id, id);
