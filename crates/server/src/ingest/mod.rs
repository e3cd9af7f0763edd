//! Ingestion: the agencies' data into the catalogue.
//!
//! - [`ingest_page`]: one document (`babyshield ingest --file`, or `--url`
//!   through [`ingest_url`]): parsed with the source's connector, every
//!   usable record upserted in ONE transaction (a failed run writes
//!   nothing), the rest quarantined with their errors, the run recorded.
//! - [`Ingest`]: scheduled and admin-triggered pulls that page through a
//!   source's feed ([`pull`]), one instance per source at a time (a lease
//!   in the database), resuming from the saved cursor after a crash or a
//!   failure; [`schedule`] starts them on time.
//!
//! Every upsert bumps the catalogue generation (so every instance's caches
//! drop what changed) and queues alert matching for new and changed recalls
//! in its own transaction.

pub mod config;
pub mod fetch;
pub mod pull;
pub mod schedule;

use babyshield_domain::Recall;
use babyshield_ingest::{ParsedPage, RecordError, Source, parse_document};
use babyshield_storage::{
    StorageError, Store,
    ingest::{IngestRun, Quarantined},
};
use serde::Serialize;

pub use config::{IngestConfig, SourceSchedule};
pub use fetch::{FetchError, Fetched, Fetcher};
pub use pull::{Ingest, StartError};

/// Largest page accepted from a file or a feed.
pub const MAX_PAGE_BYTES: usize = 256 * 1024 * 1024;

/// The retry policy of `[ingest]`.
pub fn retry_policy(config: &IngestConfig) -> crate::resilience::RetryPolicy {
    crate::resilience::RetryPolicy {
        max_retries: config.retries,
        base: std::time::Duration::from_millis(config.retry_base_ms),
        cap: std::time::Duration::from_millis(config.retry_cap_ms),
    }
}

/// A fetcher for `source` as configured, with a breaker of its own (the
/// CLI's; the service keeps one breaker per source in [`Ingest`]).
pub fn fetcher(config: &IngestConfig, source: Source) -> anyhow::Result<Fetcher> {
    Fetcher::new(
        source,
        config.source(source),
        retry_policy(config),
        fetch::breaker(source, config.breaker),
        MAX_PAGE_BYTES,
    )
}

/// Splits a page into the recalls to store and the records to quarantine.
pub(crate) fn split(records: Vec<Result<Recall, RecordError>>) -> (Vec<Recall>, Vec<Quarantined>) {
    let mut recalls = Vec::with_capacity(records.len());
    let mut quarantined = Vec::new();
    for record in records {
        match record {
            Ok(recall) => recalls.push(recall),
            Err(e) => quarantined.push(Quarantined { source_id: e.source_id.clone(), error: e.to_string() }),
        }
    }
    (recalls, quarantined)
}

fn new_run(source: Source, origin: &str) -> IngestRun {
    IngestRun {
        id: 0,
        source: source.as_str().to_string(),
        origin: origin.to_string(),
        started_at: now(),
        finished_at: None,
        status: "failed".into(),
        pages: 0,
        fetched: 0,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        quarantined: 0,
        error: None,
    }
}

/// Ingests one document; the returned run is already recorded (also when
/// it failed, with its error).
pub async fn ingest_page(
    store: &Store,
    source: Source,
    body: &[u8],
    origin: &str,
) -> Result<IngestRun, StorageError> {
    let run = new_run(source, origin);
    let parsed = if body.len() > MAX_PAGE_BYTES {
        Err(format!("page is larger than {MAX_PAGE_BYTES} bytes"))
    } else {
        parse_document(source, body).map_err(|e| e.to_string())
    };
    store_document(store, source, run, parsed).await
}

/// Fetches `url` (timeouts, retries, the breaker) and ingests it like a
/// file; a fetch that fails is recorded as a failed run.
pub async fn ingest_url(
    store: &Store,
    fetcher: &Fetcher,
    source: Source,
    url: &str,
    progress: fetch::Progress<'_>,
) -> Result<IngestRun, StorageError> {
    let run = new_run(source, "url");
    let parsed = match fetcher.get(url, progress).await {
        Err(e) => Err(format!("fetching {url} failed: {e}")),
        Ok(Fetched { status, body })
            if (200..300).contains(&status) || is_no_match(source, status, &body) =>
        {
            parse_document(source, &body).map_err(|e| e.to_string())
        }
        Ok(Fetched { status, .. }) => {
            Err(format!("fetching {url} failed: the source answered HTTP {status}"))
        }
    };
    store_document(store, source, run, parsed).await
}

/// openFDA answers a search without matches with 404 and a `NOT_FOUND`
/// error body, which parses as an empty page.
pub(crate) fn is_no_match(source: Source, status: u16, body: &[u8]) -> bool {
    status == 404
        && matches!(source, Source::FdaFood | Source::FdaDrug | Source::FdaDevice)
        && body.windows(b"NOT_FOUND".len()).any(|w| w == b"NOT_FOUND")
}

async fn store_document(
    store: &Store,
    source: Source,
    mut run: IngestRun,
    parsed: Result<ParsedPage, String>,
) -> Result<IngestRun, StorageError> {
    let mut quarantined = Vec::new();
    let outcome = match parsed {
        Err(e) => Err(e),
        Ok(page) => {
            run.fetched = page.records.len() as i64;
            let (recalls, bad) = split(page.records);
            quarantined = bad;
            match store.upsert_recalls(&recalls).await {
                Ok(written) => {
                    run.inserted = written.inserted as i64;
                    run.updated = written.updated as i64;
                    run.unchanged = written.unchanged as i64;
                    Ok(())
                }
                Err(e) => Err(format!("storing the records failed: {e}")),
            }
        }
    };
    match outcome {
        Ok(()) => {
            run.status = "succeeded".into();
            run.pages = 1;
            run.quarantined = quarantined.len() as i64;
            record_stored(source, &run);
        }
        Err(error) => {
            // Nothing of a failed run is kept: no records, no quarantine rows.
            quarantined.clear();
            run.inserted = 0;
            run.updated = 0;
            run.unchanged = 0;
            run.error = Some(error);
            metrics::counter!("ingest_runs_failed_total", "source" => source.as_str()).increment(1);
        }
    }
    run.finished_at = Some(now());
    run.id = store.record_ingest_run(&run, &quarantined).await?;
    Ok(run)
}

/// Counters of a successful run.
pub(crate) fn record_stored(source: Source, run: &IngestRun) {
    metrics::gauge!("ingest_last_success_timestamp_seconds", "source" => source.as_str())
        .set(time::OffsetDateTime::now_utc().unix_timestamp() as f64);
    metrics::counter!("ingest_records_total", "source" => source.as_str(), "result" => "stored")
        .increment((run.inserted + run.updated + run.unchanged) as u64);
    metrics::counter!("ingest_records_total", "source" => source.as_str(), "result" => "quarantined")
        .increment(run.quarantined as u64);
}

pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// One source's freshness, for `/health/detailed` and `/metrics`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Freshness {
    pub source: &'static str,
    /// Pulled on a schedule.
    pub scheduled: bool,
    /// A `base_url` is configured (pulls can be triggered).
    pub configured: bool,
    /// A pull holds the lease right now.
    pub running: bool,
    pub last_success_at: Option<String>,
    pub age_seconds: Option<i64>,
    /// Scheduled, and no success within two intervals.
    pub stale: bool,
    /// An unfinished pull's position is saved: the next pull resumes there.
    pub resuming: bool,
    pub last_run_id: Option<i64>,
    pub last_records: LastRecords,
    pub last_error: Option<String>,
    /// This instance's breaker for the source (`closed`, `open`, `half_open`).
    pub breaker: Option<crate::resilience::BreakerState>,
}

/// What the newest successful run read and stored.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRecords {
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub quarantined: i64,
}

/// Every source's freshness, from the database (so every instance reports
/// the same).
pub async fn freshness(state: &crate::state::AppState) -> Result<Vec<Freshness>, StorageError> {
    let rows = state.store().ingest_source_states().await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let config = &state.config().ingest;
    Ok(Source::ALL
        .iter()
        .map(|source| {
            let schedule = config.source(*source);
            let row = rows.iter().find(|r| r.source == source.as_str());
            let age = row.and_then(|r| r.last_success_unix).map(|t| (now - t).max(0));
            let interval = i64::try_from(schedule.interval_secs).unwrap_or(i64::MAX);
            Freshness {
                source: source.as_str(),
                scheduled: schedule.enabled,
                configured: schedule.base_url.is_some(),
                running: row
                    .is_some_and(|r| r.lease_owner.is_some() && r.lease_until.is_some_and(|t| t >= now)),
                last_success_at: row.and_then(|r| r.last_success_at.clone()),
                age_seconds: age,
                stale: schedule.enabled && age.is_none_or(|a| a > interval.saturating_mul(2)),
                resuming: row.is_some_and(|r| r.cursor.is_some()),
                last_run_id: row.and_then(|r| r.last_run_id),
                last_records: row
                    .map(|r| LastRecords {
                        fetched: r.last_fetched,
                        inserted: r.last_inserted,
                        updated: r.last_updated,
                        unchanged: r.last_unchanged,
                        quarantined: r.last_quarantined,
                    })
                    .unwrap_or_default(),
                last_error: row.and_then(|r| r.last_error.clone()),
                breaker: Some(state.ingest().breaker_state(*source)),
            }
        })
        .collect())
}

/// Sets the freshness gauges for `/metrics`: per source, the last
/// success (Unix time) and its age, what that run stored, and whether the
/// source is stale or being pulled.
pub async fn record_metrics(state: &crate::state::AppState) {
    let sources = match freshness(state).await {
        Ok(sources) => sources,
        Err(e) => {
            tracing::debug!(error = %e, "ingestion freshness unavailable for metrics");
            return;
        }
    };
    for f in sources {
        if let (Some(age), Some(at)) = (f.age_seconds, &f.last_success_at) {
            let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp() as f64)
                .unwrap_or_default();
            metrics::gauge!("ingest_last_success_timestamp_seconds", "source" => f.source).set(at);
            metrics::gauge!("ingest_last_success_age_seconds", "source" => f.source).set(age as f64);
        }
        let r = f.last_records;
        for (result, n) in [
            ("fetched", r.fetched),
            ("inserted", r.inserted),
            ("updated", r.updated),
            ("unchanged", r.unchanged),
            ("quarantined", r.quarantined),
        ] {
            metrics::gauge!("ingest_last_run_records", "source" => f.source, "result" => result)
                .set(n as f64);
        }
        metrics::gauge!("ingest_source_stale", "source" => f.source).set(if f.stale { 1.0 } else { 0.0 });
        metrics::gauge!("ingest_source_running", "source" => f.source).set(if f.running { 1.0 } else { 0.0 });
    }
}
