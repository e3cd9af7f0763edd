-- Scheduled pulls. One row per source: the cursor of an unfinished pull (so a
-- crashed or failed pull resumes where it stopped), the day the next pull
-- starts from, the lease that lets one instance at a time pull the source,
-- and its freshness (last success and what that run stored).
CREATE TABLE ingest_sources (
    source TEXT PRIMARY KEY,
    cursor TEXT,
    next_since TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    current_run_id BIGINT,
    last_run_id BIGINT,
    last_started_unix BIGINT,
    last_success_at TEXT,
    last_success_unix BIGINT,
    last_fetched BIGINT NOT NULL DEFAULT 0,
    last_inserted BIGINT NOT NULL DEFAULT 0,
    last_updated BIGINT NOT NULL DEFAULT 0,
    last_unchanged BIGINT NOT NULL DEFAULT 0,
    last_quarantined BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at TEXT NOT NULL
);

-- A pull is recorded when it starts ('running', no finished_at yet) and
-- counts its pages as they are stored.
ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_status_check;
ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed'));
ALTER TABLE ingest_runs ALTER COLUMN finished_at DROP NOT NULL;
ALTER TABLE ingest_runs ADD COLUMN pages BIGINT NOT NULL DEFAULT 1;
ALTER TABLE ingest_runs ALTER COLUMN pages SET DEFAULT 0;
CREATE INDEX ingest_runs_running ON ingest_runs (source) WHERE status = 'running';
