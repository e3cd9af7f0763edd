//! Workers of the database job queue (`babyshield_storage::jobs`). Every
//! instance runs `jobs.workers` of them; a job is leased to one worker at a
//! time, retried with backoff when it fails, and taken over by another
//! worker when its lease runs out (a crashed instance). Also runs the
//! periodic purge of deleted family members and of finished jobs.

use std::{sync::Arc, time::Duration};

use babyshield_storage::{
    family::DELIVER_WEBHOOK,
    jobs::{Job, MATCH_RECALLS},
};
use serde::{Deserialize, Serialize};

use crate::{
    config::ConfigError,
    family::{DeliveryError, Family},
    lifecycle::Lifecycle,
    state::AppState,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Workers per instance (0 runs no jobs here: another instance must).
    pub workers: usize,
    /// Pause when the queue is empty.
    pub poll_interval_ms: u64,
    /// How long a worker holds a job before another may take it over.
    pub lease_secs: i64,
    /// Finished jobs are kept this long (visible in metrics), then pruned.
    pub keep_finished_days: i64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { workers: 1, poll_interval_ms: 1_000, lease_secs: 120, keep_finished_days: 7 }
    }
}

impl JobsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.workers > 64 {
            return Err(ConfigError::new("jobs.workers", "must be at most 64"));
        }
        if self.poll_interval_ms == 0 {
            return Err(ConfigError::new("jobs.poll_interval_ms", "must be greater than 0"));
        }
        if self.lease_secs < 5 {
            return Err(ConfigError::new("jobs.lease_secs", "must be at least 5"));
        }
        if self.keep_finished_days <= 0 {
            return Err(ConfigError::new("jobs.keep_finished_days", "must be greater than 0"));
        }
        Ok(())
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// What running one job came to.
enum Outcome {
    /// Done (or finished by the handler's own transaction).
    Done,
    /// Failed; try again after this long.
    Retry(String, Duration),
}

/// Runs one job of a known kind.
async fn run(family: &Family, job: &Job, owner: &str) -> Outcome {
    let backoff = |attempts: i64| {
        let secs = 2u64.saturating_pow(u32::try_from(attempts).unwrap_or(10).min(10));
        Duration::from_secs(secs.min(600))
    };
    match job.kind.as_str() {
        MATCH_RECALLS => match family.run_match_job(job, owner).await {
            Ok(created) => {
                tracing::info!(
                    job = job.id,
                    alerts = created,
                    "matched new recalls against watched products"
                );
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string(), backoff(job.attempts)),
        },
        DELIVER_WEBHOOK => match family.deliver_webhook(job).await {
            Ok(()) => Outcome::Done,
            Err(DeliveryError::Drop(why)) => {
                tracing::info!(job = job.id, reason = %why, "webhook delivery dropped");
                Outcome::Done
            }
            Err(DeliveryError::Retry(why)) => Outcome::Retry(why, family.webhook_backoff(job.attempts)),
        },
        // A newer instance may know it (rolling upgrade): leave it for them.
        other => Outcome::Retry(format!("unknown job kind {other}"), Duration::from_secs(300)),
    }
}

/// Claims and runs jobs until none is due; how many ran.
pub async fn drain(
    family: &Family,
    owner: &str,
    lease_secs: i64,
) -> Result<u64, babyshield_storage::StorageError> {
    let store = family.store();
    let mut ran = 0;
    while let Some(job) = store.claim_job(owner, now(), now() + lease_secs).await? {
        ran += 1;
        if job.attempts > job.max_attempts {
            // Its lease ran out more often than it may be tried.
            store.fail_job(job.id, owner, "lease expired on every attempt", now()).await?;
            continue;
        }
        let started = std::time::Instant::now();
        let kind = job.kind.clone();
        let outcome = run(family, &job, owner).await;
        metrics::histogram!("job_run_seconds", "kind" => kind.clone())
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Outcome::Done => {
                // A handler may have finished the job in its own transaction.
                store.finish_job(job.id, owner).await?;
                metrics::counter!("jobs_run_total", "kind" => kind, "outcome" => "done").increment(1);
            }
            Outcome::Retry(error, after) => {
                tracing::warn!(job = job.id, kind = %kind, attempts = job.attempts, error = %error, "job failed");
                let retry_at = now() + i64::try_from(after.as_secs()).unwrap_or(600);
                store.fail_job(job.id, owner, &error, retry_at).await?;
                metrics::counter!("jobs_run_total", "kind" => kind, "outcome" => "failed").increment(1);
            }
        }
    }
    Ok(ran)
}

/// A name for this worker that no other process shares.
pub fn worker_name(n: usize) -> String {
    format!("{}-{}-{n}", std::process::id(), uuid::Uuid::new_v4().simple())
}

/// Starts the workers and the purge loop of this instance.
pub fn spawn(state: &AppState) {
    let config = state.config().jobs.clone();
    let lifecycle: &Lifecycle = state.lifecycle();
    for n in 0..config.workers {
        let family = Arc::clone(state.family());
        let token = lifecycle.shutdown_token();
        let owner = worker_name(n);
        let poll = Duration::from_millis(config.poll_interval_ms);
        let lease = config.lease_secs;
        lifecycle.spawn(async move {
            loop {
                let pause = match drain(&family, &owner, lease).await {
                    Ok(_) => poll,
                    Err(e) => {
                        tracing::warn!(error = %e, "job queue unavailable");
                        poll * 5
                    }
                };
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        });
    }

    let family = Arc::clone(state.family());
    let token = lifecycle.shutdown_token();
    let every = Duration::from_secs(state.config().family.purge_interval_secs);
    let keep = config.keep_finished_days;
    lifecycle.spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tick.tick() => {
                    match family.purge_deleted_members().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(members = n, "purged deleted family members past the restore window"),
                        Err(e) => tracing::warn!(error = ?e, "family member purge failed"),
                    }
                    let before = time::OffsetDateTime::now_utc() - time::Duration::days(keep);
                    let before = before.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
                    if let Err(e) = family.store().prune_jobs(&before).await {
                        tracing::warn!(error = %e, "job prune failed");
                    }
                }
            }
        }
    });
}

/// Sets the `jobs` gauge (by kind and status) for `/metrics`.
pub async fn record_metrics(state: &AppState) {
    match state.store().job_counts().await {
        Ok(counts) => {
            for status in ["queued", "running", "done", "failed"] {
                for kind in [MATCH_RECALLS, DELIVER_WEBHOOK] {
                    let count =
                        counts.iter().find(|c| c.kind == kind && c.status == status).map_or(0, |c| c.count);
                    metrics::gauge!("jobs", "kind" => kind, "status" => status).set(count as f64);
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "job counts unavailable for metrics"),
    }
}
