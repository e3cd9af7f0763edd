//! Scheduled pulls: for each source whose schedule is enabled, every
//! instance checks when the source is due (the last pull's start, read
//! from the database, plus `interval_secs`) and tries to start a pull then.
//! The lease lets exactly one instance run it; the others find it held
//! and wait for the next due time.

use std::{sync::Arc, time::Duration};

use babyshield_ingest::Source;
use rand::Rng;

use super::StartError;
use crate::state::AppState;

/// Longest sleep between two checks, so a changed schedule (another
/// instance's pull, a manual one) is noticed.
const MAX_CHECK_SECS: u64 = 60;

/// Starts one scheduler task per enabled source.
pub fn spawn(state: &AppState) {
    for source in Source::ALL.iter().copied() {
        if !state.config().ingest.source(source).enabled {
            continue;
        }
        let ingest = Arc::clone(state.ingest());
        let token = state.lifecycle().shutdown_token();
        tracing::info!(source = %source, every_secs = ingest.config().source(source).interval_secs, "ingest schedule enabled");
        state.lifecycle().spawn(async move {
            loop {
                let wait = match ingest.due_in(source).await {
                    Ok(wait) if wait.is_zero() => match ingest.pull(source, "schedule").await {
                        // The next due time counts from this pull's start
                        // (or the lease holder's): re-read it.
                        Ok(_) => Duration::from_secs(1),
                        Err(StartError::Running(_)) => {
                            tracing::debug!(source = %source, "scheduled pull skipped: another run holds the lease");
                            Duration::from_secs(1)
                        }
                        Err(e) => {
                            tracing::warn!(source = %source, error = %e, "scheduled pull could not start");
                            Duration::from_secs(MAX_CHECK_SECS / 2)
                        }
                    },
                    Ok(wait) => wait.min(Duration::from_secs(MAX_CHECK_SECS)),
                    Err(e) => {
                        tracing::warn!(source = %source, error = %e, "cannot read the ingest schedule state");
                        Duration::from_secs(MAX_CHECK_SECS / 2)
                    }
                };
                // Instances started together do not all ask at once.
                let jitter = Duration::from_millis(rand::rng().random_range(0..=250));
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(wait + jitter) => {}
                }
            }
        });
    }
}
