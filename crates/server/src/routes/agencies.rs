use axum::{Router, extract::State, routing::get};

use crate::{
    cache::{CacheClass, CachedJson, IfNoneMatch},
    error::{ApiError, ApiResult},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agencies", get(list))
}

/// The 42 agencies whose recalls BabyShield serves.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "recalls",
    params(("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer")),
    responses((status = 200, description = "`data: [{code, name, country, website}]`; `ETag`"),
              (status = 304, description = "Unchanged since the `If-None-Match` ETag")))]
pub async fn list(State(state): State<AppState>, conditional: IfNoneMatch) -> ApiResult<CachedJson> {
    let store = state.store();
    let entry = state
        .catalogue()
        .cache()
        .get_or_load(CacheClass::Agencies, "all", async { Ok::<_, ApiError>(store.agencies().await?) })
        .await?;
    Ok(conditional.answer(entry))
}
