//! The user's own data: the full export, preferences, and the opt-in scan
//! history.

use std::collections::HashMap;

use axum::{
    Router,
    extract::{Query, State},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::{Deserialize, Serialize};

use crate::family::{Page, ScanEntry};
use crate::{
    accounts::{AuthUser, RequestMeta},
    envelope::Envelope,
    error::ApiResult,
    extract::ApiJson,
    family::{PageRequest, ScanPage, UserDataExport},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/user/data/export", get(export))
        .route("/api/v1/user/preferences", get(preferences).put(set_preferences))
        .route("/api/v1/scan/history", get(history).delete(clear_history))
}

/// Everything BabyShield holds about you, decrypted, as one JSON document:
/// account, family members (also deleted, restorable ones), watched
/// products, alerts, scan history, webhooks and your security events.
#[utoipa::path(get, path = "/api/v1/user/data/export", tag = "family", security(("bearer" = [])),
    responses((status = 200, description = "The export", body = UserDataExport)))]
pub async fn export(State(state): State<AppState>, meta: RequestMeta, user: AuthUser) -> ApiResult<Response> {
    let export = state.family().export(state.accounts(), &meta, &user).await?;
    let mut response = Envelope(export).into_response();
    response
        .headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response.headers_mut().insert(
        axum::http::header::CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static("attachment; filename=\"babyshield-export.json\""),
    );
    Ok(response)
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Preferences {
    /// Keep a history of your safety checks and scans (off by default;
    /// turning it off deletes the history).
    pub scan_history: bool,
}

#[utoipa::path(get, path = "/api/v1/user/preferences", tag = "family", security(("bearer" = [])),
    responses((status = 200, description = "Your preferences", body = Preferences)))]
pub async fn preferences(State(state): State<AppState>, user: AuthUser) -> ApiResult<Envelope<Preferences>> {
    Ok(Envelope(Preferences { scan_history: state.family().scan_history_enabled(&user).await? }))
}

#[utoipa::path(put, path = "/api/v1/user/preferences", tag = "family", security(("bearer" = [])),
    request_body = Preferences,
    responses((status = 200, description = "Saved", body = Preferences)))]
pub async fn set_preferences(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<Preferences>,
) -> ApiResult<Envelope<Preferences>> {
    state.family().set_scan_history(&user, input.scan_history).await?;
    Ok(Envelope(input))
}

#[utoipa::path(get, path = "/api/v1/scan/history", tag = "family", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1..100, default 20"),
           ("cursor" = Option<String>, Query, description = "nextCursor of the previous page")),
    responses((status = 200, description = "Your checks and scans, newest first", body = Page<ScanEntry>)))]
pub async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Envelope<ScanPage>> {
    let page = PageRequest::from_query(&query, &[])?;
    Ok(Envelope(state.family().scan_history(&user, &page).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cleared {
    pub deleted: u64,
}

#[utoipa::path(delete, path = "/api/v1/scan/history", tag = "family", security(("bearer" = [])),
    responses((status = 200, description = "History deleted", body = Cleared)))]
pub async fn clear_history(State(state): State<AppState>, user: AuthUser) -> ApiResult<Envelope<Cleared>> {
    Ok(Envelope(Cleared { deleted: state.family().clear_scan_history(&user).await? }))
}
