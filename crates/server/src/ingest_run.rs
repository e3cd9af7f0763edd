//! One ingestion run over a page of an agency's data: parse with the
//! source's connector, upsert every usable record in ONE transaction (a
//! failed run writes nothing), quarantine the rest with their errors, and
//! record the run. The upsert bumps the catalogue generation, so every
//! instance's caches drop what changed.

use babyshield_ingest::{Source, parse_page};
use babyshield_storage::{
    StorageError, Store,
    ingest::{IngestRun, Quarantined},
};

/// Largest page accepted from a file or a feed.
pub const MAX_PAGE_BYTES: usize = 256 * 1024 * 1024;

/// Ingests one page; the returned run is already recorded (also when it
/// failed, with its error).
pub async fn ingest_page(
    store: &Store,
    source: Source,
    body: &[u8],
    origin: &str,
) -> Result<IngestRun, StorageError> {
    let started_at = now();
    let mut run = IngestRun {
        id: 0,
        source: source.as_str().to_string(),
        origin: origin.to_string(),
        started_at,
        finished_at: String::new(),
        status: "failed".into(),
        fetched: 0,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        quarantined: 0,
        error: None,
    };
    let mut quarantined = Vec::new();
    let outcome = if body.len() > MAX_PAGE_BYTES {
        Err(format!("page is larger than {MAX_PAGE_BYTES} bytes"))
    } else {
        match parse_page(source, body) {
            Err(e) => Err(e.to_string()),
            Ok(page) => {
                run.fetched = page.records.len() as i64;
                let mut recalls = Vec::new();
                for record in page.records {
                    match record {
                        Ok(recall) => recalls.push(recall),
                        Err(e) => quarantined
                            .push(Quarantined { source_id: e.source_id.clone(), error: e.to_string() }),
                    }
                }
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
        }
    };
    match outcome {
        Ok(()) => {
            run.status = "succeeded".into();
            run.quarantined = quarantined.len() as i64;
            metrics::gauge!("ingest_last_success_timestamp_seconds", "source" => source.as_str())
                .set(time::OffsetDateTime::now_utc().unix_timestamp() as f64);
            metrics::counter!("ingest_records_total", "source" => source.as_str(), "result" => "stored")
                .increment((run.inserted + run.updated + run.unchanged) as u64);
            metrics::counter!("ingest_records_total", "source" => source.as_str(), "result" => "quarantined")
                .increment(run.quarantined as u64);
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
    run.finished_at = now();
    run.id = store.record_ingest_run(&run, &quarantined).await?;
    Ok(run)
}

fn now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
