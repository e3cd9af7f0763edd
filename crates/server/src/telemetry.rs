//! Logs and metrics. Logs: one subscriber, JSON or readable, never personal
//! data. Metrics: one Prometheus recorder per process, rendered at `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Installs the global log subscriber. Later calls are ignored, so tests may
/// build several applications in one process.
pub fn init_logging(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(false).with_span_list(false))
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
    // Already installed (a second app in the same test process): keep it.
    let _ = result;
}

/// Latency buckets in seconds: fine-grained where the service should live.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process-wide Prometheus recorder (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("bucket list is non-empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            metrics::describe_counter!(
                "http_requests_total",
                "HTTP requests answered, by method, route and status"
            );
            metrics::describe_histogram!(
                "http_request_duration_seconds",
                metrics::Unit::Seconds,
                "HTTP request latency, by method, route and status"
            );
            metrics::describe_histogram!(
                "search_index_write_hold_seconds",
                metrics::Unit::Seconds,
                "Time each write into the in-memory search index held searches out"
            );
            metrics::describe_histogram!(
                "ingest_page_pause_seconds",
                metrics::Unit::Seconds,
                "Pauses a pull made after a page while requests kept every core busy, by source"
            );
            metrics::describe_counter!(
                "search_term_cache_requests_total",
                "Term groups' match sets a search found in the term cache (hit), extended by recalls indexed since (extended) or computed (miss)"
            );
            metrics::describe_gauge!("http_requests_in_flight", "HTTP requests being served now");
            metrics::describe_gauge!("db_pool_connections", "Database pool connections, by state");
            metrics::describe_gauge!("db_pool_max_connections", "Database pool size limit");
            metrics::describe_gauge!("babyshield_build_info", "Build of the running binary (always 1)");
            metrics::describe_gauge!("babyshield_uptime_seconds", "Seconds since the service started");
            handle
        })
        .clone()
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision the binary was built from (set by build.rs).
pub const GIT_REVISION: &str = env!("BABYSHIELD_GIT_REVISION");
