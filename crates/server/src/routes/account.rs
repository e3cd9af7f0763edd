//! `DELETE /api/v1/account` and the legacy deletion route it replaces.

use axum::{
    Router,
    extract::State,
    http::StatusCode,
    routing::{delete, post},
};

use crate::{
    accounts::{AuthUser, RequestMeta},
    error::{ApiError, ApiResult},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/account", delete(delete_account))
        .route("/api/v1/user/data/delete", post(legacy_delete))
}

/// Deletes the account (needs a sign-in within the last 15 minutes). The
/// same token is refused right after; data is purged after the retention.
#[utoipa::path(delete, path = "/api/v1/account", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in"),
              (status = 403, description = "Sign in again first (the login is not recent)")))]
pub async fn delete_account(
    State(state): State<AppState>,
    meta: RequestMeta,
    user: AuthUser,
) -> ApiResult<StatusCode> {
    state.accounts().delete_account(&meta, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deprecated: answers 410 pointing at `DELETE /api/v1/account`.
#[utoipa::path(post, path = "/api/v1/user/data/delete", tag = "auth",
    responses((status = 410, description = "Gone; use DELETE /api/v1/account")))]
pub async fn legacy_delete() -> ApiError {
    ApiError::Gone("this route was removed; use DELETE /api/v1/account".into())
}
