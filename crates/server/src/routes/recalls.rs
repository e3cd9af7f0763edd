use std::collections::HashMap;

use axum::{
    Router,
    extract::{Path, Query, State},
    routing::get,
};
use babyshield_domain::{
    AgencyCode, RecallFilters, RecallId, RiskCategory, Severity,
    search::{DEFAULT_LIMIT, MAX_CURSOR_LEN, MAX_LIMIT},
    ymd,
};

use crate::{
    cache::{CacheClass, CachedJson, IfNoneMatch},
    error::{ApiError, ApiResult},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/recalls", get(list))
        .route("/api/v1/recalls/stats", get(stats))
        .route("/api/v1/recall/{*id}", get(detail))
}

/// One recall in the detail shape. Ids may contain `/` (EU Safety Gate).
#[utoipa::path(get, path = "/api/v1/recall/{id}", tag = "recalls",
    params(("id" = String, Path, description = "Recall id, `[A-Za-z0-9/_\\-.]+`"),
           ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer")),
    responses((status = 200, description = "`data`: the recall detail; `ETag`"),
              (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
              (status = 404, description = "No such recall")))]
pub async fn detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    conditional: IfNoneMatch,
) -> ApiResult<CachedJson> {
    let id = RecallId::parse(&id).map_err(|e| ApiError::invalid("id", e))?;
    let catalogue = state.catalogue();
    let load = async {
        catalogue
            .recall(id.as_str())
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no recall with id {}", id.as_str())))
    };
    let entry = catalogue.cache().get_or_load(CacheClass::Detail, id.as_str(), load).await?;
    Ok(conditional.answer(entry))
}

/// Recall list, newest first, with filters and cursor paging.
#[utoipa::path(get, path = "/api/v1/recalls", tag = "recalls",
    params(
        ("agency" = Option<String>, Query, description = "Agency code; comma-separated for several"),
        ("severity" = Option<String>, Query, description = "low|medium|high|critical"),
        ("riskCategory" = Option<String>, Query, description = "drug|device|food|cosmetic|supplement|toy|baby_product|other"),
        ("date_from" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("date_to" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"),
        ("limit" = Option<u32>, Query, description = "1..50, default 20"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer")),
    responses((status = 200, description = "`data: {items, total, limit, offset, nextCursor, hasMore}`; `ETag`"),
              (status = 304, description = "Unchanged since the `If-None-Match` ETag")))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    conditional: IfNoneMatch,
) -> ApiResult<CachedJson> {
    let (filters, cursor, limit) = parse_list_params(params)?;
    let entry = state.catalogue().cached_list(filters, cursor.as_deref(), limit).await?;
    Ok(conditional.answer(entry))
}

/// Dashboard figures: counts by agency, severity, category and month, and
/// the newest recall per agency.
#[utoipa::path(get, path = "/api/v1/recalls/stats", tag = "recalls",
    params(("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer")),
    responses((status = 200, description = "`data: {total, byAgency, bySeverity, byCategory, byMonth, newestByAgency}`; `ETag`"),
              (status = 304, description = "Unchanged since the `If-None-Match` ETag")))]
pub async fn stats(State(state): State<AppState>, conditional: IfNoneMatch) -> ApiResult<CachedJson> {
    let store = state.store();
    let load = async { Ok::<_, ApiError>(store.recall_stats().await?) };
    let entry = state.catalogue().cache().get_or_load(CacheClass::Stats, "all", load).await?;
    Ok(conditional.answer(entry))
}

const LIST_PARAMS: &[&str] =
    &["agency", "severity", "riskCategory", "date_from", "date_to", "limit", "cursor"];

pub(super) fn parse_list_params(
    params: HashMap<String, String>,
) -> ApiResult<(RecallFilters, Option<String>, u32)> {
    let mut unknown: Vec<String> =
        params.keys().filter(|k| !LIST_PARAMS.contains(&k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ApiError::UnknownFields(unknown));
    }
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut filters = RecallFilters::default();
    if let Some(list) = get("agency") {
        for code in list.split(',') {
            filters.agencies.push(AgencyCode::parse(code).map_err(|e| ApiError::invalid("agency", e))?);
        }
    }
    if let Some(v) = get("severity") {
        filters.severity = Some(v.parse::<Severity>().map_err(|e| ApiError::invalid("severity", e))?);
    }
    if let Some(v) = get("riskCategory") {
        filters.risk_category =
            Some(v.parse::<RiskCategory>().map_err(|e| ApiError::invalid("riskCategory", e))?);
    }
    let date = |k: &str| -> ApiResult<_> {
        get(k).map(|v| ymd::parse(v).ok_or_else(|| ApiError::invalid(k, "expected YYYY-MM-DD"))).transpose()
    };
    filters.date_from = date("date_from")?;
    filters.date_to = date("date_to")?;
    if let (Some(from), Some(to)) = (filters.date_from, filters.date_to)
        && from > to
    {
        return Err(ApiError::invalid("date_from", "must not be after date_to"));
    }
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::invalid("limit", format!("must be an integer between 1 and {MAX_LIMIT}"))
        })?,
    };
    let cursor = get("cursor").map(str::to_string);
    if cursor.as_ref().is_some_and(|c| c.len() > MAX_CURSOR_LEN) {
        return Err(ApiError::InvalidCursor("cursor is malformed".into()));
    }
    Ok((filters, cursor, limit))
}
