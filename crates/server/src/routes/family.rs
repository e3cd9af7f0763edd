//! `/api/v1/family/members`: a family's children and relatives. Every route
//! needs a bearer token and sees only the caller's own members; another
//! user's id is a 404.

use std::collections::HashMap;

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, post},
};

use crate::family::Page;
use crate::{
    accounts::AuthUser,
    envelope::Envelope,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    family::{Member, MemberInput, MemberPage, PageRequest},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/family/members", get(list).post(create))
        .route("/api/v1/family/members/{id}", get(detail).put(update).delete(remove))
        .route("/api/v1/family/members/{id}/restore", post(restore))
}

/// Row ids are 32 lowercase hex digits; anything else cannot exist, so it
/// is a 404 without a database query.
pub(super) fn row_id(id: &str, what: &str) -> ApiResult<String> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(id.to_string())
    } else {
        Err(ApiError::NotFound(format!("no {what} with this id")))
    }
}

/// Lists the caller's family members, oldest first; `deleted=true` lists
/// the deleted ones that can still be restored.
#[utoipa::path(get, path = "/api/v1/family/members", tag = "family", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1..100, default 20"),
           ("cursor" = Option<String>, Query, description = "nextCursor of the previous page"),
           ("deleted" = Option<bool>, Query, description = "list deleted, restorable members instead")),
    responses((status = 200, description = "A page of members", body = Page<Member>),
              (status = 401, description = "Not signed in")))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Envelope<MemberPage>> {
    let page = PageRequest::from_query(&query, &["deleted"])?;
    let deleted = match query.get("deleted").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("deleted", "must be true or false")),
    };
    Ok(Envelope(state.family().members(&user, &page, deleted).await?))
}

/// Adds a family member. Name, birth date (or age in months), relationship,
/// allergies and diet are encrypted at rest.
#[utoipa::path(post, path = "/api/v1/family/members", tag = "family", security(("bearer" = [])),
    request_body = MemberInput,
    responses((status = 201, description = "Created", body = Member),
              (status = 400, description = "A field is invalid (the message names it)"),
              (status = 409, description = "Member limit reached")))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<MemberInput>,
) -> ApiResult<(StatusCode, Envelope<Member>)> {
    Ok((StatusCode::CREATED, Envelope(state.family().create_member(&user, input).await?)))
}

#[utoipa::path(get, path = "/api/v1/family/members/{id}", tag = "family", security(("bearer" = [])),
    responses((status = 200, description = "The member", body = Member),
              (status = 404, description = "No such member of yours")))]
pub async fn detail(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Member>> {
    let id = row_id(&id, "family member")?;
    Ok(Envelope(state.family().member(&user, &id).await?))
}

/// Replaces the member's profile (send every field).
#[utoipa::path(put, path = "/api/v1/family/members/{id}", tag = "family", security(("bearer" = [])),
    request_body = MemberInput,
    responses((status = 200, description = "Updated", body = Member),
              (status = 404, description = "No such member of yours")))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<MemberInput>,
) -> ApiResult<Envelope<Member>> {
    let id = row_id(&id, "family member")?;
    Ok(Envelope(state.family().update_member(&user, &id, input).await?))
}

/// Deletes the member; it can be restored within `family.restore_window_days`
/// (30 by default), then it is purged.
#[utoipa::path(delete, path = "/api/v1/family/members/{id}", tag = "family", security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such member of yours")))]
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = row_id(&id, "family member")?;
    state.family().delete_member(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/family/members/{id}/restore", tag = "family", security(("bearer" = [])),
    responses((status = 200, description = "Restored", body = Member),
              (status = 404, description = "No deleted member of yours within the restore window")))]
pub async fn restore(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Member>> {
    let id = row_id(&id, "family member")?;
    Ok(Envelope(state.family().restore_member(&user, &id).await?))
}
