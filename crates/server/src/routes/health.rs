//! Health endpoints. `/health` and `/health/live` never touch a dependency;
//! `/health/ready` does, and turns 503 the moment shutdown begins.

use axum::{
    Json, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::{
    auth::OperatorAccess,
    dependencies::{self, Health},
    envelope::Envelope,
    request_id,
    state::AppState,
    telemetry,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(live))
        .route("/health/live", get(live))
        .route("/api/v1/healthz", get(live))
        .route("/health/ready", get(ready))
        .route("/health/dependencies", get(dependency_list))
        .route("/health/detailed", get(detailed))
}

/// Liveness: the process answers. Also the contract's `/api/v1/healthz`.
#[utoipa::path(get, path = "/api/v1/healthz", tag = "health",
    responses((status = 200, description = "`{ok, status, timestamp, version, service, traceId}`")))]
pub async fn live() -> Response {
    Json(json!({
        "ok": true,
        "status": "ok",
        "timestamp": now_rfc3339(),
        "version": telemetry::VERSION,
        "service": "babyshield",
        "traceId": request_id::current(),
    }))
    .into_response()
}

/// Readiness: the database (and Redis when configured) answer, and the
/// service is not shutting down.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, description = "Ready to serve"),
    (status = 503, description = "A dependency is down, or shutdown has begun; the message names it")))]
pub async fn ready(state: axum::extract::State<AppState>) -> Response {
    if state.lifecycle().is_draining() {
        return not_ready("shutting down", &[]);
    }
    let checks = dependencies::check_all(&state).await;
    let required = |name: &str| name != "redis" || state.config().redis.required;
    let down: Vec<&str> =
        checks.iter().filter(|c| c.status == Health::Down && required(c.name)).map(|c| c.name).collect();
    let public: Vec<_> = checks
        .iter()
        .map(|c| json!({"name": c.name, "status": c.status, "required": required(c.name)}))
        .collect();
    if down.is_empty() {
        Json(json!({
            "ok": true,
            "status": "ready",
            "dependencies": public,
            "traceId": request_id::current(),
        }))
        .into_response()
    } else {
        not_ready(&format!("not ready: {} down", down.join(", ")), &public)
    }
}

fn not_ready(message: &str, dependencies: &[serde_json::Value]) -> Response {
    let body = json!({
        "ok": false,
        "status": "not_ready",
        "error": {"code": "SERVICE_UNAVAILABLE", "message": message},
        "dependencies": dependencies,
        "traceId": request_id::current(),
    });
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], Json(body)).into_response()
}

/// Every dependency with its status and check latency. Always 200: this is a
/// report, readiness is the verdict.
#[utoipa::path(get, path = "/health/dependencies", tag = "health",
    responses((status = 200, description = "`data.dependencies: [{name, status, latencyMs}]`")))]
pub async fn dependency_list(state: axum::extract::State<AppState>) -> Envelope<serde_json::Value> {
    let checks = dependencies::check_all(&state).await;
    let list: Vec<_> = checks
        .iter()
        .map(|c| json!({"name": c.name, "status": c.status, "latencyMs": c.latency_ms}))
        .collect();
    Envelope(json!({ "dependencies": list }))
}

/// Operator view: version, revision, uptime, pool, migrations, dependencies
/// with their errors, and each recall source's freshness (a stale source
/// shows here and in `/metrics`, never in readiness: old data is still
/// served).
#[utoipa::path(get, path = "/health/detailed", tag = "health",
    security(("operator_token" = [])),
    responses((status = 200, description = "Detailed health"), (status = 401, description = "Operator token missing or wrong")))]
pub async fn detailed(_: OperatorAccess, state: axum::extract::State<AppState>) -> Response {
    let checks = dependencies::check_all(&state).await;
    let migrations = state.store().migration_status().await.ok();
    let all_up = checks.iter().all(|c| c.status == Health::Up);
    let ingestion = match crate::ingest::freshness(&state).await {
        Ok(sources) => {
            let stale: Vec<&str> = sources.iter().filter(|s| s.stale).map(|s| s.source).collect();
            json!({ "stale": stale, "sources": sources })
        }
        Err(e) => json!({ "error": e.to_string() }),
    };
    Envelope(json!({
        "status": if state.lifecycle().is_draining() { "shutting_down" } else if all_up { "ready" } else { "degraded" },
        "version": telemetry::VERSION,
        "gitRevision": telemetry::GIT_REVISION,
        "uptimeSeconds": (state.lifecycle().uptime_secs() * 10.0).round() / 10.0,
        "database": {
            "backend": state.store().backend().as_str(),
            "pool": state.store().stats(),
            "migrations": migrations,
        },
        "catalogue": state.catalogue().summary(),
        "dependencies": checks,
        "breakers": {
            "database": state.store().breaker_state(),
            "redis": state.redis().map(|r| r.breaker().state()),
        },
        "ingestion": ingestion,
    }))
    .into_response()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
