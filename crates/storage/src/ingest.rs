//! The record of ingestion runs and the records they quarantined.

use serde::Serialize;

use crate::{StorageError, Store};

/// One finished run, as recorded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestRun {
    pub id: i64,
    pub source: String,
    /// Where the data came from (`file`, `url`, `schedule`).
    pub origin: String,
    pub started_at: String,
    pub finished_at: String,
    pub status: String,
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

type RunRow = (i64, String, String, String, String, String, i64, i64, i64, i64, i64, Option<String>);

fn run(row: RunRow) -> IngestRun {
    let (
        id,
        source,
        origin,
        started_at,
        finished_at,
        status,
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
        fetched,
        inserted,
        updated,
        unchanged,
        quarantined,
        error,
    }
}

impl Store {
    /// Records a finished run with its quarantined records, in one
    /// transaction; returns the run id.
    pub async fn record_ingest_run(
        &self,
        run: &IngestRun,
        quarantined: &[Quarantined],
    ) -> Result<i64, StorageError> {
        let now = crate::recalls::now_rfc3339();
        let id = crate::in_write_tx!(self, unlocked tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO ingest_runs (source, origin, started_at, finished_at, status, fetched, inserted, \
                 updated, unchanged, quarantined, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            )
            .bind(&run.source)
            .bind(&run.origin)
            .bind(&run.started_at)
            .bind(&run.finished_at)
            .bind(&run.status)
            .bind(run.fetched)
            .bind(run.inserted)
            .bind(run.updated)
            .bind(run.unchanged)
            .bind(run.quarantined)
            .bind(&run.error)
            .fetch_one(&mut *tx)
            .await?;
            for q in quarantined {
                sqlx::query(
                    "INSERT INTO ingest_quarantine (run_id, source, source_id, error, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(&run.source)
                .bind(&q.source_id)
                .bind(&q.error)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
            id
        });
        Ok(id)
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
                    sqlx::query_as(
                        "SELECT id, source, origin, started_at, finished_at, status, fetched, inserted, updated, \
                         unchanged, quarantined, error FROM ingest_runs WHERE ($1 IS NULL OR source = $1) \
                         ORDER BY id DESC LIMIT $2",
                    )
                    .bind(source)
                    .bind(limit)
                    .fetch_all(p)
                    .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(run).collect())
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
}
