//! `/metrics`: Prometheus text exposition.

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};

use crate::{state::AppState, telemetry};

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

/// Refreshes the gauges that are read rather than counted (pool, uptime),
/// then renders everything recorded so far.
async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.store().stats();
    metrics::gauge!("db_pool_connections", "state" => "idle").set(pool.idle as f64);
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(pool.in_use as f64);
    metrics::gauge!("db_pool_max_connections").set(pool.max as f64);
    metrics::gauge!("babyshield_uptime_seconds").set(state.lifecycle().uptime_secs());
    metrics::gauge!(
        "babyshield_build_info",
        "version" => telemetry::VERSION,
        "git_revision" => telemetry::GIT_REVISION,
        "database" => state.store().backend().as_str()
    )
    .set(1.0);
    state.catalogue().record_metrics();
    crate::jobs::record_metrics(&state).await;
    crate::ingest::record_metrics(&state).await;
    let handle = telemetry::metrics_handle();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}
