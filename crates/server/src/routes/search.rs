use axum::{Router, extract::State, routing::post};
use babyshield_domain::AdvancedSearch;

use crate::{cache::CachedJson, error::ApiResult, extract::ApiJson, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/search/advanced", post(advanced))
}

/// Typo-tolerant recall search with filters and cursor paging
/// (CONTRACT.md "Advanced search"). Answers are cached by the request's
/// canonical form, so different JSON spellings of one query share an entry.
#[utoipa::path(post, path = "/api/v1/search/advanced", tag = "recalls",
    request_body(content = serde_json::Value, description = "`query|product`, `keywords`, `id`, `agencies|agency`, `severity|risk_level`, `riskCategory|product_category`, `date_from`, `date_to`, `limit` (1..50), `offset`, `nextCursor`; unknown fields are rejected"),
    responses(
        (status = 200, description = "`data: {items: [RecallItem], total, limit, offset, nextCursor, hasMore}`"),
        (status = 400, description = "Validation failed (`INVALID_PARAMETERS`), unknown fields (`error.unknown`), or a forged/stale cursor (`INVALID_CURSOR`)")))]
pub async fn advanced(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<CachedJson> {
    let request = AdvancedSearch::from_json(body)?;
    Ok(CachedJson::private(state.catalogue().cached_search(&request).await?))
}
