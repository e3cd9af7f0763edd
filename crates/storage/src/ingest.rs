//! The record of ingestion runs and the records they quarantined, and the
//! per-source state of scheduled pulls: the saved cursor, the lease that
//! lets one instance at a time pull a source, and freshness.
//!
//! A pull stores each page in two steps: the recalls (one transaction of
//! [`Store::upsert_recalls`]), then [`Store::record_ingest_page`] (the
//! page's quarantined records, the run's counters and the cursor past the
//! page, in one transaction). A crash between the two makes the next pull
//! read the page again: the upsert is keyed by recall id and skips
//! unchanged content, and the quarantine rows were never written, so
//! nothing is duplicated or half-written.

use serde::Serialize;

use crate::{StorageError, Store};

/// One run, as recorded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestRun {
    pub id: i64,
    pub source: String,
    /// Where the data came from (`file`, `url`, `schedule`, `admin`).
    pub origin: String,
    pub started_at: String,
    /// `None` while the run is still going.
    pub finished_at: Option<String>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Pages stored (a file or a `--url` is one page).
    pub pages: i64,
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub quarantined: i64,
    pub error: Option<String>,
}

/// A record a source sent that could not be used.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quarantined {
    pub source_id: Option<String>,
    pub error: String,
}

type RunRow =
    (i64, String, String, String, Option<String>, String, i64, i64, i64, i64, i64, i64, Option<String>);

const RUN_COLUMNS: &str = "id, source, origin, started_at, finished_at, status, pages, fetched, inserted, updated, unchanged, \
     quarantined, error";

fn run(row: RunRow) -> IngestRun {
    let (
        id,
        source,
        origin,
        started_at,
        finished_at,
        status,
        pages,
        fetched,
        inserted,
        updated,
        unchanged,
        quarantined,
        error,
    ) = row;
    IngestRun {
        id,
        source,
        origin,
        started_at,
        finished_at,
        status,
        pages,
        fetched,
        inserted,
        updated,
        unchanged,
        quarantined,
        error,
    }
}

/// A source's pull state and freshness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceState {
    pub source: String,
    /// Where an unfinished pull stopped (opaque to storage; see
    /// `babyshield_ingest::paging::Cursor`).
    pub cursor: Option<String>,
    /// `YYYY-MM-DD` the next pull starts from, once one has finished.
    pub next_since: Option<String>,
    pub lease_owner: Option<String>,
    /// Unix seconds.
    pub lease_until: Option<i64>,
    /// The run holding the lease.
    pub current_run_id: Option<i64>,
    pub last_run_id: Option<i64>,
    /// When the newest pull started (Unix seconds): schedules count from it.
    pub last_started_unix: Option<i64>,
    pub last_success_at: Option<String>,
    pub last_success_unix: Option<i64>,
    /// What the newest successful run read and stored.
    pub last_fetched: i64,
    pub last_inserted: i64,
    pub last_updated: i64,
    pub last_unchanged: i64,
    pub last_quarantined: i64,
    /// The error of the newest run when it failed (cleared by a success).
    pub last_error: Option<String>,
}

type StateRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
);

const STATE_COLUMNS: &str = "source, cursor, next_since, lease_owner, lease_until, current_run_id, last_run_id, \
     last_started_unix, last_success_at, last_success_unix, last_fetched, last_inserted, last_updated, \
     last_unchanged, last_quarantined, last_error";

fn state(row: StateRow) -> SourceState {
    let (
        source,
        cursor,
        next_since,
        lease_owner,
        lease_until,
        current_run_id,
        last_run_id,
        last_started_unix,
        last_success_at,
        last_success_unix,
        last_fetched,
        last_inserted,
        last_updated,
        last_unchanged,
        last_quarantined,
        last_error,
    ) = row;
    SourceState {
        source,
        cursor,
        next_since,
        lease_owner,
        lease_until,
        current_run_id,
        last_run_id,
        last_started_unix,
        last_success_at,
        last_success_unix,
        last_fetched,
        last_inserted,
        last_updated,
        last_unchanged,
        last_quarantined,
        last_error,
    }
}

/// A source leased to one owner, with the run it started.
#[derive(Debug, Clone)]
pub struct Lease {
    pub run_id: i64,
    /// The state as found when the lease was taken (the saved cursor).
    pub state: SourceState,
    /// Runs of an earlier holder that never finished (a crashed or killed
    /// instance), now recorded as failed.
    pub interrupted: u64,
}

/// What one stored page adds to its run.
#[derive(Debug, Clone, Default)]
pub struct PageCommit<'a> {
    pub source: &'a str,
    pub owner: &'a str,
    pub run_id: i64,
    /// The position after this page (`None`: the pull's range is done).
    pub cursor: Option<String>,
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub quarantined: &'a [Quarantined],
}

/// How a pull ended.
#[derive(Debug, Clone)]
pub struct PullEnd<'a> {
    pub source: &'a str,
    pub owner: &'a str,
    pub run_id: i64,
    pub succeeded: bool,
    pub error: Option<&'a str>,
    /// The range is done: the cursor is cleared and the next pull starts
    /// from this day.
    pub next_since: Option<&'a str>,
    pub now_unix: i64,
}

/// Error text kept in a row, at most this many characters.
const MAX_ERROR_CHARS: usize = 1000;

fn clip(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

impl Store {
    /// Records a finished single-page run (`--file`, `--url`) with its
    /// quarantined records, in one transaction, and the source's freshness;
    /// returns the run id.
    pub async fn record_ingest_run(
        &self,
        run: &IngestRun,
        quarantined: &[Quarantined],
    ) -> Result<i64, StorageError> {
        let now = crate::recalls::now_rfc3339();
        let now_unix = crate::unix_now();
        let error = run.error.as_deref().map(clip);
        self.timed(async {
            let id = crate::in_write_tx!(self, unlocked tx => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO ingest_runs (source, origin, started_at, finished_at, status, pages, fetched, \
                     inserted, updated, unchanged, quarantined, error) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                )
                .bind(&run.source)
                .bind(&run.origin)
                .bind(&run.started_at)
                .bind(&run.finished_at)
                .bind(&run.status)
                .bind(run.pages)
                .bind(run.fetched)
                .bind(run.inserted)
                .bind(run.updated)
                .bind(run.unchanged)
                .bind(run.quarantined)
                .bind(&error)
                .fetch_one(&mut *tx)
                .await?;
                for q in quarantined {
                    sqlx::query(
                        "INSERT INTO ingest_quarantine (run_id, source, source_id, error, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(&run.source)
                    .bind(&q.source_id)
                    .bind(clip(&q.error))
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("INSERT INTO ingest_sources (source, updated_at) VALUES ($1, $2) ON CONFLICT (source) DO NOTHING")
                    .bind(&run.source)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                if run.status == "succeeded" {
                    sqlx::query(
                        "UPDATE ingest_sources SET last_run_id = $1, last_success_at = $2, last_success_unix = $3, \
                         last_fetched = $4, last_inserted = $5, last_updated = $6, last_unchanged = $7, \
                         last_quarantined = $8, last_error = NULL, updated_at = $2 WHERE source = $9",
                    )
                    .bind(id)
                    .bind(&now)
                    .bind(now_unix)
                    .bind(run.fetched)
                    .bind(run.inserted)
                    .bind(run.updated)
                    .bind(run.unchanged)
                    .bind(run.quarantined)
                    .bind(&run.source)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query("UPDATE ingest_sources SET last_run_id = $1, last_error = $2, updated_at = $3 WHERE source = $4")
                        .bind(id)
                        .bind(&error)
                        .bind(&now)
                        .bind(&run.source)
                        .execute(&mut *tx)
                        .await?;
                }
                id
            });
            Ok(id)
        })
        .await
    }

    /// Newest first.
    pub async fn ingest_runs(
        &self,
        source: Option<&str>,
        limit: i64,
    ) -> Result<Vec<IngestRun>, StorageError> {
        let rows: Vec<RunRow> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {RUN_COLUMNS} FROM ingest_runs WHERE ($1 IS NULL OR source = $1) ORDER BY id DESC LIMIT $2"
                    )))
                    .bind(source)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(run).collect())
    }

    pub async fn ingest_run(&self, id: i64) -> Result<Option<IngestRun>, StorageError> {
        let row: Option<RunRow> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM ingest_runs WHERE id = $1")))
                        .bind(id)
                        .fetch_optional(p)
                        .await?
                }))
            })
            .await?;
        Ok(row.map(run))
    }

    pub async fn ingest_quarantine(&self, run_id: i64, limit: i64) -> Result<Vec<Quarantined>, StorageError> {
        let rows: Vec<(Option<String>, String)> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as("SELECT source_id, error FROM ingest_quarantine WHERE run_id = $1 ORDER BY id LIMIT $2")
                        .bind(run_id)
                        .bind(limit)
                        .fetch_all(p)
                        .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(|(source_id, error)| Quarantined { source_id, error }).collect())
    }

    /// Every source that has a state row (pulled or ingested at least once).
    pub async fn ingest_source_states(&self) -> Result<Vec<SourceState>, StorageError> {
        let rows: Vec<StateRow> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {STATE_COLUMNS} FROM ingest_sources ORDER BY source"
                    )))
                    .fetch_all(p)
                    .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(state).collect())
    }

    pub async fn ingest_source_state(&self, source: &str) -> Result<Option<SourceState>, StorageError> {
        let row: Option<StateRow> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {STATE_COLUMNS} FROM ingest_sources WHERE source = $1"
                    )))
                    .bind(source)
                    .fetch_optional(p)
                    .await?
                }))
            })
            .await?;
        Ok(row.map(state))
    }

    /// Leases `source` to `owner` until `lease_until` and records a new
    /// `running` run, unless another owner's lease is still valid at `now`
    /// (`None`). PostgreSQL skips the row while another instance is taking
    /// the lease at the same moment (`FOR UPDATE SKIP LOCKED`), so neither
    /// waits; SQLite's write lock (`BEGIN IMMEDIATE`) serializes them. Runs
    /// left `running` by an earlier holder whose lease expired (it crashed)
    /// are recorded as failed.
    pub async fn acquire_ingest_lease(
        &self,
        source: &str,
        origin: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Lease>, StorageError> {
        let now_text = crate::recalls::now_rfc3339();
        let postgres = self.backend() == crate::Backend::Postgres;
        self.timed(async {
            crate::on_pool!(self, p => {
                sqlx::query("INSERT INTO ingest_sources (source, updated_at) VALUES ($1, $2) ON CONFLICT (source) DO NOTHING")
                    .bind(source)
                    .bind(&now_text)
                    .execute(p)
                    .await?;
            });
            let lease = crate::in_write_tx!(self, unlocked tx => {
                let lock = if postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
                let row: Option<StateRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {STATE_COLUMNS} FROM ingest_sources WHERE source = $1{lock}"
                )))
                .bind(source)
                .fetch_optional(&mut *tx)
                .await?;
                match row.map(state) {
                    None => None,
                    Some(found) if found.lease_owner.is_some() && found.lease_until.is_some_and(|t| t >= now) => None,
                    Some(found) => {
                        let interrupted = sqlx::query(
                            "UPDATE ingest_runs SET status = 'failed', finished_at = $1, \
                             error = 'interrupted: the instance running it stopped before it finished; the next run resumed from its cursor' \
                             WHERE source = $2 AND status = 'running'",
                        )
                        .bind(&now_text)
                        .bind(source)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        let run_id: i64 = sqlx::query_scalar(
                            "INSERT INTO ingest_runs (source, origin, started_at, finished_at, status, pages, fetched, \
                             inserted, updated, unchanged, quarantined, error) \
                             VALUES ($1, $2, $3, NULL, 'running', 0, 0, 0, 0, 0, 0, NULL) RETURNING id",
                        )
                        .bind(source)
                        .bind(origin)
                        .bind(&now_text)
                        .fetch_one(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE ingest_sources SET lease_owner = $1, lease_until = $2, current_run_id = $3, \
                             last_started_unix = $4, updated_at = $5 WHERE source = $6",
                        )
                        .bind(owner)
                        .bind(lease_until)
                        .bind(run_id)
                        .bind(now)
                        .bind(&now_text)
                        .bind(source)
                        .execute(&mut *tx)
                        .await?;
                        Some(Lease { run_id, state: found, interrupted })
                    }
                }
            });
            Ok(lease)
        })
        .await
    }

    /// Extends `owner`'s lease; false when it no longer holds it (it
    /// expired and another instance took the source over).
    pub async fn renew_ingest_lease(
        &self,
        source: &str,
        owner: &str,
        lease_until: i64,
    ) -> Result<bool, StorageError> {
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query("UPDATE ingest_sources SET lease_until = $1 WHERE source = $2 AND lease_owner = $3")
                    .bind(lease_until)
                    .bind(source)
                    .bind(owner)
                    .execute(p)
                    .await?
                    .rows_affected()
                    == 1
            }))
        })
        .await
    }

    /// Records a stored page: its quarantined records, the run's counters
    /// and the cursor past it, in one transaction. False (and nothing
    /// written) when `owner` lost the lease.
    pub async fn record_ingest_page(&self, page: &PageCommit<'_>) -> Result<bool, StorageError> {
        let now = crate::recalls::now_rfc3339();
        self.timed(async {
            let held = crate::in_write_tx!(self, unlocked tx => {
                let held = sqlx::query(
                    "UPDATE ingest_sources SET cursor = $1, updated_at = $2 WHERE source = $3 AND lease_owner = $4",
                )
                .bind(&page.cursor)
                .bind(&now)
                .bind(page.source)
                .bind(page.owner)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if held {
                    for q in page.quarantined {
                        sqlx::query(
                            "INSERT INTO ingest_quarantine (run_id, source, source_id, error, created_at) \
                             VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(page.run_id)
                        .bind(page.source)
                        .bind(&q.source_id)
                        .bind(clip(&q.error))
                        .bind(&now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "UPDATE ingest_runs SET pages = pages + 1, fetched = fetched + $1, inserted = inserted + $2, \
                         updated = updated + $3, unchanged = unchanged + $4, quarantined = quarantined + $5 WHERE id = $6",
                    )
                    .bind(page.fetched)
                    .bind(page.inserted)
                    .bind(page.updated)
                    .bind(page.unchanged)
                    .bind(page.quarantined.len() as i64)
                    .bind(page.run_id)
                    .execute(&mut *tx)
                    .await?;
                }
                held
            });
            Ok(held)
        })
        .await
    }

    /// Finishes a pull: the run's status, and (while `owner` still holds
    /// the lease) the source's freshness, cursor and released lease, in one
    /// transaction. Returns the run as recorded.
    pub async fn finish_ingest_pull(&self, end: &PullEnd<'_>) -> Result<Option<IngestRun>, StorageError> {
        let now = crate::recalls::now_rfc3339();
        let error = end.error.map(clip);
        let status = if end.succeeded { "succeeded" } else { "failed" };
        self.timed(async {
            let row = crate::in_write_tx!(self, unlocked tx => {
                sqlx::query("UPDATE ingest_runs SET status = $1, finished_at = $2, error = $3 WHERE id = $4 AND status = 'running'")
                    .bind(status)
                    .bind(&now)
                    .bind(&error)
                    .bind(end.run_id)
                    .execute(&mut *tx)
                    .await?;
                let row: Option<RunRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM ingest_runs WHERE id = $1")))
                        .bind(end.run_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let done = end.next_since.is_some();
                if end.succeeded {
                    let totals = row.clone().map(run);
                    let count = |f: fn(&IngestRun) -> i64| totals.as_ref().map_or(0, f);
                    sqlx::query(
                        "UPDATE ingest_sources SET lease_owner = NULL, lease_until = NULL, current_run_id = NULL, \
                         last_run_id = $1, cursor = CASE WHEN $2 THEN NULL ELSE cursor END, \
                         next_since = COALESCE($3, next_since), last_success_at = $4, last_success_unix = $5, \
                         last_fetched = $6, last_inserted = $7, last_updated = $8, last_unchanged = $9, \
                         last_quarantined = $10, last_error = NULL, updated_at = $4 WHERE source = $11 AND lease_owner = $12",
                    )
                    .bind(end.run_id)
                    .bind(done)
                    .bind(end.next_since)
                    .bind(&now)
                    .bind(end.now_unix)
                    .bind(count(|r| r.fetched))
                    .bind(count(|r| r.inserted))
                    .bind(count(|r| r.updated))
                    .bind(count(|r| r.unchanged))
                    .bind(count(|r| r.quarantined))
                    .bind(end.source)
                    .bind(end.owner)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query(
                        "UPDATE ingest_sources SET lease_owner = NULL, lease_until = NULL, current_run_id = NULL, \
                         last_run_id = $1, last_error = $2, updated_at = $3 WHERE source = $4 AND lease_owner = $5",
                    )
                    .bind(end.run_id)
                    .bind(&error)
                    .bind(&now)
                    .bind(end.source)
                    .bind(end.owner)
                    .execute(&mut *tx)
                    .await?;
                }
                row
            });
            Ok(row.map(run))
        })
        .await
    }
}
