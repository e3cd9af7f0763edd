//! `babyshield ingest --source S --file PATH | --url URL`: one document of
//! an agency's data into the catalogue, with the run recorded like the
//! service's pulls.

use std::{path::Path, process::ExitCode};

use anyhow::Context;
use babyshield_server::{
    ingest::{self, MAX_PAGE_BYTES},
    open_store, telemetry,
};
use babyshield_storage::ingest::IngestRun;

use crate::commands::{load, progress_bar};

/// Where the document comes from.
pub enum Input<'a> {
    File(&'a Path),
    Url(&'a str),
}

pub async fn run(config_path: Option<&Path>, source: &str, input: Input<'_>) -> anyhow::Result<ExitCode> {
    let source =
        babyshield_ingest::Source::parse(source).with_context(|| format!("unknown source {source}"))?;
    let config = load(config_path)?;
    telemetry::init_logging(&config.log);
    let store = open_store(&config).await?;
    if config.database.migrate_on_start {
        store.migrate().await.context("cannot migrate the database")?;
    }
    let run = match input {
        Input::File(file) => {
            let size =
                std::fs::metadata(file).with_context(|| format!("cannot open {}", file.display()))?.len();
            if size > MAX_PAGE_BYTES as u64 {
                anyhow::bail!("{} is larger than {MAX_PAGE_BYTES} bytes", file.display());
            }
            let bar = progress_bar(None);
            bar.set_message(format!("ingesting {}", file.display()));
            let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let run = ingest::ingest_page(&store, source, &body, "file").await;
            bar.finish_and_clear();
            run
        }
        Input::Url(url) => {
            let fetcher = ingest::fetcher(&config.ingest, source).context("cannot build the HTTP client")?;
            // Feeds rarely announce a length: bytes so far and the rate.
            let bar = progress_bar(None);
            bar.set_message(format!("fetching {url}"));
            let progress = |read: u64, _total: Option<u64>| bar.set_position(read);
            let run = ingest::ingest_url(&store, &fetcher, source, url, &progress).await;
            bar.finish_and_clear();
            run
        }
    };
    let run = run.context("cannot record the run")?;
    let quarantine = store.ingest_quarantine(run.id, 1000).await.unwrap_or_default();
    store.close().await;
    for q in &quarantine {
        eprintln!("quarantined {}: {}", q.source_id.as_deref().unwrap_or("(no id)"), q.error);
    }
    print_summary(&run);
    match run.error {
        Some(error) => {
            eprintln!("error: ingestion failed: {error}");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

fn print_summary(run: &IngestRun) {
    println!(
        "run {} ({}): fetched {}, inserted {}, updated {}, unchanged {}, quarantined {}",
        run.id, run.status, run.fetched, run.inserted, run.updated, run.unchanged, run.quarantined
    );
}
