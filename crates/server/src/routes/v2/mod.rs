//! `/api/v2`: the lists and the search with cursor-only paging and a leaner
//! envelope. Each route serves what its v1 route serves, through the same
//! service calls (and, for the catalogue, the same cache entries); only the
//! shape differs:
//!
//! - success: `{"data": [...], "page": {"nextCursor", "hasMore", "limit"}}`;
//!   `nextCursor` is `null` on the last page. No `ok`, no `traceId` (the
//!   request id is the `X-Request-ID` header), no `total` and no `offset`:
//!   paging is by cursor only, and a count of every match costs a second
//!   scan that a phone scrolling a list never needs.
//! - errors: `{"error": {"code", "message", ...}}` with v1's codes and
//!   statuses, rewritten from `ApiError`'s answer by [`envelope::shape`],
//!   which also sets `X-API-Version: v2` on every `/api/v2` response.
//!
//! The v1 routes these supersede answer `Deprecation`, `Sunset` and a
//! `successor-version` link to the route here
//! (`crate::middleware::deprecation`).

mod envelope;

use std::collections::HashMap;

use axum::{
    Router,
    extract::{Query, State},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use babyshield_domain::{AdvancedSearch, SearchRequestError};

pub(crate) use envelope::shape;
pub use envelope::{List, RecallItemSchema};

use crate::{
    accounts::AuthUser,
    cache::{CachedJson, IfNoneMatch},
    envelope::Envelope,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    family::{Member, Notification, ScanEntry, WatchedProduct},
    state::AppState,
};

/// The value of `X-API-Version` on `/api/v2` responses.
pub const API_VERSION: &str = "v2";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/search", post(search))
        .route("/api/v2/recalls", get(recalls))
        .route("/api/v2/family/members", get(members))
        .route("/api/v2/monitoring/products", get(watches))
        .route("/api/v2/notifications", get(notifications))
        .route("/api/v2/scan/history", get(scan_history))
}

/// Recall search, cursor-only: the v1 advanced-search body without
/// `offset`. Same matching, order (relevance desc, recallDate desc, id asc)
/// and cursors as v1.
#[utoipa::path(post, path = "/api/v2/search", tag = "v2", operation_id = "v2_search",
    request_body(content = serde_json::Value, description = "`query|product`, `keywords`, `id`, `agencies|agency`, `severity|risk_level`, `riskCategory|product_category`, `date_from`, `date_to`, `limit` (1..50, default 20), `nextCursor` (the previous page's `page.nextCursor`). No `offset`: sending it is a 400 listing it in `error.unknown`, like any unknown field"),
    responses(
        (status = 200, description = "A page of recalls; no `total`", body = List<RecallItemSchema>),
        (status = 400, description = "Validation failed (`INVALID_PARAMETERS`), unknown fields or `offset` (`BAD_REQUEST`, `error.unknown`), or a forged/stale cursor (`INVALID_CURSOR`)")))]
pub async fn search(
    State(state): State<AppState>,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    let sent_offset = body.as_object_mut().and_then(|fields| fields.remove("offset")).is_some();
    let request = match (AdvancedSearch::from_json(body), sent_offset) {
        (Ok(request), false) => request,
        (Err(SearchRequestError::UnknownFields(mut fields)), true) => {
            fields.push("offset".into());
            fields.sort();
            return Err(ApiError::UnknownFields(fields));
        }
        (_, true) => return Err(ApiError::UnknownFields(vec!["offset".into()])),
        (Err(other), false) => return Err(other.into()),
    };
    // `offset` was refused above, so this is v1's entry for the same page.
    let entry = state.catalogue().cached_search(&request).await?;
    envelope::cached_list(CachedJson::private(entry.clone()), &entry)
}

/// Recall list, newest first, cursor-only; the filters of
/// `GET /api/v1/recalls`.
#[utoipa::path(get, path = "/api/v2/recalls", tag = "v2", operation_id = "v2_list_recalls",
    params(
        ("agency" = Option<String>, Query, description = "Agency code; comma-separated for several"),
        ("severity" = Option<String>, Query, description = "low|medium|high|critical"),
        ("riskCategory" = Option<String>, Query, description = "drug|device|food|cosmetic|supplement|toy|baby_product|other"),
        ("date_from" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("date_to" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("limit" = Option<u32>, Query, description = "1..50, default 20"),
        ("cursor" = Option<String>, Query, description = "`page.nextCursor` of the previous page"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer")),
    responses((status = 200, description = "A page of recalls; `ETag`", body = List<RecallItemSchema>),
              (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
              (status = 400, description = "A filter is invalid, an unknown parameter, or `INVALID_CURSOR`")))]
pub async fn recalls(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    conditional: IfNoneMatch,
) -> ApiResult<Response> {
    let (filters, cursor, limit) = super::recalls::parse_list_params(params)?;
    let entry = state.catalogue().cached_list(filters, cursor.as_deref(), limit).await?;
    envelope::cached_list(conditional.answer(entry.clone()), &entry)
}

/// The caller's family members, oldest first; `deleted=true` lists the
/// deleted ones that can still be restored.
#[utoipa::path(get, path = "/api/v2/family/members", tag = "v2", operation_id = "v2_list_family_members", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1..100, default 20"),
           ("cursor" = Option<String>, Query, description = "`page.nextCursor` of the previous page"),
           ("deleted" = Option<bool>, Query, description = "list deleted, restorable members instead")),
    responses((status = 200, description = "A page of members", body = List<Member>),
              (status = 400, description = "Invalid `limit`, unknown parameter, or `INVALID_CURSOR`"),
              (status = 401, description = "Not signed in")))]
pub async fn members(
    State(state): State<AppState>,
    user: AuthUser,
    query: Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let Envelope(page) = super::family::list(State(state), user, query).await?;
    Ok(List::from(page).into_response())
}

/// The caller's watched products, newest first.
#[utoipa::path(get, path = "/api/v2/monitoring/products", tag = "v2", operation_id = "v2_list_watched_products", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1..100, default 20"),
           ("cursor" = Option<String>, Query, description = "`page.nextCursor` of the previous page")),
    responses((status = 200, description = "A page of watched products", body = List<WatchedProduct>),
              (status = 400, description = "Invalid `limit`, unknown parameter, or `INVALID_CURSOR`"),
              (status = 401, description = "Not signed in")))]
pub async fn watches(
    State(state): State<AppState>,
    user: AuthUser,
    query: Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let Envelope(page) = super::monitoring::list_watches(State(state), user, query).await?;
    Ok(List::from(page).into_response())
}

/// The caller's recall alerts, newest first; `unread=true` for the unread
/// ones only.
#[utoipa::path(get, path = "/api/v2/notifications", tag = "v2", operation_id = "v2_list_notifications", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1..100, default 20"),
           ("cursor" = Option<String>, Query, description = "`page.nextCursor` of the previous page"),
           ("unread" = Option<bool>, Query, description = "only unread alerts")),
    responses((status = 200, description = "A page of alerts", body = List<Notification>),
              (status = 400, description = "Invalid `limit`, unknown parameter, or `INVALID_CURSOR`"),
              (status = 401, description = "Not signed in")))]
pub async fn notifications(
    State(state): State<AppState>,
    user: AuthUser,
    query: Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let Envelope(page) = super::monitoring::notifications(State(state), user, query).await?;
    Ok(List::from(page).into_response())
}

/// The caller's checks and scans (when scan history is on), newest first.
#[utoipa::path(get, path = "/api/v2/scan/history", tag = "v2", operation_id = "v2_list_scan_history", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1..100, default 20"),
           ("cursor" = Option<String>, Query, description = "`page.nextCursor` of the previous page")),
    responses((status = 200, description = "A page of checks and scans", body = List<ScanEntry>),
              (status = 400, description = "Invalid `limit`, unknown parameter, or `INVALID_CURSOR`"),
              (status = 401, description = "Not signed in")))]
pub async fn scan_history(
    State(state): State<AppState>,
    user: AuthUser,
    query: Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let Envelope(page) = super::user_data::history(State(state), user, query).await?;
    Ok(List::from(page).into_response())
}
