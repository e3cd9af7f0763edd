//! The database job queue. Jobs are rows: they survive restarts, every
//! instance can work them, and a lease makes each run once at a time. A
//! worker that dies mid-job loses its lease and another takes the job over,
//! so handlers must be idempotent (the alert job is: alerts are unique per
//! user and recall).

use crate::{StorageError, Store};

/// A job to add to the queue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub payload: String,
    pub max_attempts: i64,
    /// Unix time before which no worker takes it.
    pub run_after: i64,
}

/// A leased job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    /// Including the run this lease is for.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Jobs per kind and status, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub kind: String,
    pub status: String,
    pub count: i64,
}

/// Adds a job inside the transaction `$tx`, so it exists if and only if the
/// change that needs it commits.
macro_rules! enqueue_job_in_tx {
    ($tx:ident, $job:expr, $now:expr) => {{
        let job: &$crate::jobs::NewJob<'_> = $job;
        sqlx::query(
            "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_after, created_at) \
             VALUES ($1, $2, 'queued', 0, $3, $4, $5)",
        )
        .bind(job.kind)
        .bind(&job.payload)
        .bind(job.max_attempts)
        .bind(job.run_after)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use enqueue_job_in_tx;

/// The kind of the job [`Store::upsert_recalls`] queues with every batch
/// that inserted or changed recalls; its payload is [`MatchRecalls`].
pub const MATCH_RECALLS: &str = "match_recalls";

/// Payload of a [`MATCH_RECALLS`] job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MatchRecalls {
    pub recall_ids: Vec<String>,
}

pub(crate) fn match_recalls_job(ids: &[String]) -> NewJob<'static> {
    let payload = serde_json::to_string(&MatchRecalls { recall_ids: ids.to_vec() }).unwrap_or_default();
    NewJob { kind: MATCH_RECALLS, payload, max_attempts: 10, run_after: crate::unix_now() }
}

type JobTuple = (i64, String, String, i64, i64);

fn job((id, kind, payload, attempts, max_attempts): JobTuple) -> Job {
    Job { id, kind, payload, attempts, max_attempts }
}

/// Jobs a worker may take at `now`: due queued ones and running ones whose
/// lease has run out.
const CLAIMABLE: &str =
    "(status = 'queued' AND run_after <= $1) OR (status = 'running' AND lease_until < $1)";

impl Store {
    pub async fn enqueue_job(&self, new: &NewJob<'_>) -> Result<(), StorageError> {
        let now = crate::recalls::now_rfc3339();
        self.timed(async {
            crate::in_write_tx!(self, unlocked tx => {
                enqueue_job_in_tx!(tx, new, &now);
            });
            Ok(())
        })
        .await
    }

    /// Leases the oldest claimable job to `owner` until `lease_until`.
    /// PostgreSQL skips rows another worker is claiming at the same moment;
    /// SQLite's write lock serializes claims.
    pub async fn claim_job(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Job>, StorageError> {
        self.timed(async {
            let claimed: Option<JobTuple> = match self.pool() {
                crate::Pool::Sqlite(p) => {
                    self.ensure_available()?;
                    let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                    let next: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM jobs WHERE {CLAIMABLE} ORDER BY run_after, id LIMIT 1"
                    )))
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let row = match next {
                        Some((id,)) => sqlx::query_as(
                            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $1, \
                                 lease_until = $2 WHERE id = $3 \
                                 RETURNING id, kind, payload, attempts, max_attempts",
                        )
                        .bind(owner)
                        .bind(lease_until)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?,
                        None => None,
                    };
                    tx.commit().await?;
                    row
                }
                crate::Pool::Postgres(p) => {
                    self.ensure_available()?;
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_owner = $2, \
                         lease_until = $3 WHERE id = (SELECT id FROM jobs WHERE {CLAIMABLE} \
                         ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                         RETURNING id, kind, payload, attempts, max_attempts"
                    )))
                    .bind(now)
                    .bind(owner)
                    .bind(lease_until)
                    .fetch_optional(p)
                    .await?
                }
            };
            Ok(claimed.map(job))
        })
        .await
    }

    /// Marks a job done if `owner` still holds it; false when the lease was
    /// lost (another worker has taken the job over, and its run counts).
    pub async fn finish_job(&self, id: i64, owner: &str) -> Result<bool, StorageError> {
        let now = crate::recalls::now_rfc3339();
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query(
                    "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_until = NULL, last_error = NULL, \
                     finished_at = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
                )
                .bind(&now)
                .bind(id)
                .bind(owner)
                .execute(p)
                .await?
                .rows_affected()
                    == 1
            }))
        })
        .await
    }

    /// Records a failed run: queued again after `retry_at`, or failed for
    /// good once its attempts are spent (then it stays visible in metrics
    /// and the admin view until pruned).
    pub async fn fail_job(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: i64,
    ) -> Result<bool, StorageError> {
        let now = crate::recalls::now_rfc3339();
        let error: String = error.chars().take(500).collect();
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query(
                    "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
                     finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
                     run_after = $2, last_error = $3, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
                )
                .bind(&now)
                .bind(retry_at)
                .bind(&error)
                .bind(id)
                .bind(owner)
                .execute(p)
                .await?
                .rows_affected()
                    == 1
            }))
        })
        .await
    }

    /// Jobs by kind and status.
    pub async fn job_counts(&self) -> Result<Vec<JobCount>, StorageError> {
        let rows: Vec<(String, String, i64)> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as("SELECT kind, status, COUNT(*) FROM jobs GROUP BY kind, status ORDER BY kind, status")
                        .fetch_all(p)
                        .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(|(kind, status, count)| JobCount { kind, status, count }).collect())
    }

    /// Deletes finished jobs (done or failed) older than `before` (RFC 3339).
    pub async fn prune_jobs(&self, before: &str) -> Result<u64, StorageError> {
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query("DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < $1")
                    .bind(before)
                    .execute(p)
                    .await?
                    .rows_affected()
            }))
        })
        .await
    }
}
