//! `/api/v1/admin/*`: admin-only views and actions (403 for users).

use std::collections::HashMap;

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use babyshield_storage::accounts::{AuditFilter, AuditRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    accounts::RequestMeta,
    auth::{Admin, OperatorAccess},
    envelope::Envelope,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/ingest/runs", get(ingest_runs))
        .route("/api/v1/admin/ingest/runs/{id}/quarantine", get(ingest_quarantine))
        .route("/api/v1/admin/ingest/{source}", post(ingest_trigger))
        .route("/api/v1/admin/audit", get(audit))
        .route("/api/v1/admin/users/{id}/restore", post(restore))
        .route("/api/v1/admin/users/{id}/role", put(set_role))
        .route("/api/v1/admin/cache", get(cache))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    items: Vec<AuditRow>,
    next_cursor: Option<String>,
    has_more: bool,
}

const AUDIT_PARAMS: &[&str] = &["action", "actor", "target", "limit", "cursor"];

/// The audit trail, newest first, filtered by action, actor or target;
/// `cursor` is the `nextCursor` of the previous page.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])),
    params(("action" = Option<String>, Query, description = "e.g. login, register, refresh_token_reuse"),
           ("actor" = Option<String>, Query, description = "user id, cli or system"),
           ("target" = Option<String>, Query, description = "user id"),
           ("limit" = Option<u32>, Query, description = "1..200, default 50"),
           ("cursor" = Option<String>, Query, description = "nextCursor of the previous page")),
    responses((status = 200, description = "`data: {items, nextCursor, hasMore}`"), (status = 403, description = "Not an admin")))]
pub async fn audit(
    State(state): State<AppState>,
    meta: RequestMeta,
    Admin(admin): Admin,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Envelope<AuditPage>> {
    let mut unknown: Vec<String> =
        params.keys().filter(|k| !AUDIT_PARAMS.contains(&k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ApiError::UnknownFields(unknown));
    }
    let text =
        |k: &str| params.get(k).map(|v| v.chars().take(200).collect::<String>()).filter(|v| !v.is_empty());
    let limit = match params.get("limit") {
        None => 50,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "must be an integer between 1 and 200"))?,
    };
    let before_seq = params
        .get("cursor")
        .map(|c| {
            c.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::InvalidCursor("cursor is malformed".into()))
        })
        .transpose()?;
    let filter =
        AuditFilter { action: text("action"), actor: text("actor"), target: text("target"), before_seq };
    let mut items = state.accounts().audit_page(&meta, &admin, &filter, limit + 1).await?;
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = has_more.then(|| items.last().map(|r| r.seq.to_string())).flatten();
    Ok(Envelope(AuditPage { items, next_cursor, has_more }))
}

/// Restores a soft-deleted account within the retention period.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/restore", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Restored"), (status = 404, description = "No deleted account with this id")))]
pub async fn restore(
    State(state): State<AppState>,
    meta: RequestMeta,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> ApiResult<Envelope<serde_json::Value>> {
    if id.len() > 64 {
        return Err(ApiError::invalid("id", "is not an account id"));
    }
    state.accounts().restore_account(&meta, &admin, &id).await?;
    Ok(Envelope(json!({ "restored": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: String,
}

/// Grants or removes the admin role.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/role", tag = "admin", security(("bearer" = [])),
    request_body(content = serde_json::Value, description = "`{role: \"user\"|\"admin\"}`"),
    responses((status = 200, description = "Changed"), (status = 404, description = "No such account")))]
pub async fn set_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    Admin(admin): Admin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    if id.len() > 64 {
        return Err(ApiError::invalid("id", "is not an account id"));
    }
    state.accounts().set_role(&meta, &admin, &id, &body.role).await?;
    Ok(Envelope(json!({ "role": body.role })))
}

/// The response cache per class (hits, misses, hit ratio, entries, bytes,
/// TTL) since this instance started, and the catalogue generation in use.
#[utoipa::path(get, path = "/api/v1/admin/cache", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "`data: {enabled, generation, localMaxBytes, redis, classes: {<class>: {hits, misses, hitRatio, redisHits, evictions, entries, bytes, ttlSecs}}}`"),
              (status = 403, description = "Not an admin")))]
pub async fn cache(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Envelope<crate::cache::CacheReport>> {
    // Walks every cached entry: off the async workers.
    let catalogue = std::sync::Arc::clone(state.catalogue());
    let report = tokio::task::spawn_blocking(move || catalogue.cache().report())
        .await
        .map_err(|e| ApiError::Internal(format!("cache report failed: {e}")))?;
    Ok(Envelope(report))
}

/// Recent ingestion runs, newest first (`?source=cpsc&limit=50`).
#[utoipa::path(get, path = "/api/v1/admin/ingest/runs", tag = "admin", security(("bearer" = [])),
    params(("source" = Option<String>, Query, description = "cpsc, fda-food, fda-drug, fda-device, health-canada"),
           ("limit" = Option<u32>, Query, description = "1..200, default 50")),
    responses((status = 200, description = "`data: [{id, source, origin, startedAt, finishedAt, status, pages, fetched, inserted, updated, unchanged, quarantined, error}]`; `status` is running, succeeded or failed, `finishedAt` null while running"),
              (status = 403, description = "Not an admin")))]
pub async fn ingest_runs(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Envelope<Vec<babyshield_storage::ingest::IngestRun>>> {
    let mut unknown: Vec<String> =
        params.keys().filter(|k| !["source", "limit"].contains(&k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ApiError::UnknownFields(unknown));
    }
    let source = params
        .get("source")
        .map(|s| {
            babyshield_ingest::Source::parse(s)
                .map(|s| s.as_str())
                .map_err(|e| ApiError::invalid("source", e))
        })
        .transpose()?;
    let limit = admin_limit(params.get("limit"))?;
    Ok(Envelope(state.store().ingest_runs(source, limit).await?))
}

/// The records a run quarantined, with their errors.
#[utoipa::path(get, path = "/api/v1/admin/ingest/runs/{id}/quarantine", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "`data: [{sourceId, error}]`"), (status = 403, description = "Not an admin")))]
pub async fn ingest_quarantine(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Path(id): Path<i64>,
) -> ApiResult<Envelope<Vec<babyshield_storage::ingest::Quarantined>>> {
    Ok(Envelope(state.store().ingest_quarantine(id, 1000).await?))
}

/// Starts a pull of the source's feed now (it runs in the background; follow
/// it in `GET /api/v1/admin/ingest/runs`). Admins or the operator token.
#[utoipa::path(post, path = "/api/v1/admin/ingest/{source}", tag = "admin",
    security(("bearer" = []), ("operator_token" = [])),
    params(("source" = String, Path, description = "cpsc, fda-food, fda-drug, fda-device, health-canada")),
    responses((status = 202, description = "`data: {runId, source, status: \"running\"}`"),
              (status = 401, description = "No operator token or admin sign-in"),
              (status = 403, description = "Not an admin"),
              (status = 404, description = "No such source"),
              (status = 409, description = "A pull of the source is running (its lease is held), or the source has no `base_url` configured")))]
pub async fn ingest_trigger(
    State(state): State<AppState>,
    _access: OperatorAccess,
    Path(source): Path<String>,
) -> ApiResult<Response> {
    use crate::ingest::StartError;
    let source = babyshield_ingest::Source::parse(&source).map_err(|e| ApiError::NotFound(e.to_string()))?;
    let started = state.ingest().start(source, "admin").await.map_err(|e| match e {
        StartError::NotConfigured(_) | StartError::Running(_) => ApiError::Conflict(e.to_string()),
        StartError::Storage(e) => ApiError::from(e),
    })?;
    let run_id = started.run_id;
    let ingest = std::sync::Arc::clone(state.ingest());
    state.lifecycle().spawn(async move {
        if let Err(e) = ingest.run(started).await {
            tracing::warn!(source = %source, run = run_id, error = %e, "could not record the end of a pull");
        }
    });
    let body = json!({ "runId": run_id, "source": source.as_str(), "status": "running" });
    Ok((StatusCode::ACCEPTED, Envelope(body)).into_response())
}

fn admin_limit(value: Option<&String>) -> ApiResult<i64> {
    match value {
        None => Ok(50),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "must be an integer between 1 and 200")),
    }
}
