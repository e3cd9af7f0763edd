use axum::{Router, extract::State, routing::get};
use babyshield_storage::recalls::AgencyRow;

use crate::{envelope::Envelope, error::ApiResult, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agencies", get(list))
}

/// The 42 agencies whose recalls BabyShield serves.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "recalls",
    responses((status = 200, description = "`data: [{code, name, country, website}]`")))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Envelope<Vec<AgencyRow>>> {
    Ok(Envelope(state.store().agencies().await?))
}
