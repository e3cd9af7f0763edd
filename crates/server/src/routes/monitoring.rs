//! Watched products (`/api/v1/monitoring/products`), the recall alerts they
//! raise (`/api/v1/notifications`) and alert webhooks (`/api/v1/webhooks`).
//! Every route needs a bearer token and sees only the caller's rows.

use std::collections::HashMap;

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{delete, get, post},
};
use serde::Serialize;

use super::family::row_id;
use crate::family::Page;
use crate::{
    accounts::AuthUser,
    envelope::Envelope,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    family::{
        Notification, NotificationPage, PageRequest, WatchInput, WatchPage, WatchedProduct, Webhook,
        WebhookCreated, WebhookInput,
    },
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/monitoring/products", get(list_watches).post(watch))
        .route("/api/v1/monitoring/products/{id}", delete(unwatch))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/notifications/read-all", post(read_all))
        .route("/api/v1/notifications/{id}/read", post(read_one))
        .route("/api/v1/webhooks", get(list_webhooks).post(create_webhook))
        .route("/api/v1/webhooks/{id}", delete(delete_webhook))
}

#[utoipa::path(get, path = "/api/v1/monitoring/products", tag = "family", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1..100, default 20"),
           ("cursor" = Option<String>, Query, description = "nextCursor of the previous page")),
    responses((status = 200, description = "Watched products, newest first", body = Page<WatchedProduct>)))]
pub async fn list_watches(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Envelope<WatchPage>> {
    let page = PageRequest::from_query(&query, &[])?;
    Ok(Envelope(state.family().watches(&user, &page).await?))
}

/// Watches a product (a barcode, a model, or a brand with a product name)
/// and answers with its check against today's recalls. Recalls stored
/// later raise an alert, once per recall.
#[utoipa::path(post, path = "/api/v1/monitoring/products", tag = "family", security(("bearer" = [])),
    request_body = WatchInput,
    responses((status = 201, description = "Watching", body = WatchedProduct),
              (status = 400, description = "No usable barcode, model or brand + productName"),
              (status = 409, description = "Watch limit reached")))]
pub async fn watch(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<WatchInput>,
) -> ApiResult<(StatusCode, Envelope<WatchedProduct>)> {
    Ok((StatusCode::CREATED, Envelope(state.family().create_watch(&user, input).await?)))
}

#[utoipa::path(delete, path = "/api/v1/monitoring/products/{id}", tag = "family", security(("bearer" = [])),
    responses((status = 204, description = "No longer watched"), (status = 404, description = "No such product of yours")))]
pub async fn unwatch(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = row_id(&id, "watched product")?;
    state.family().delete_watch(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Recall alerts, newest first; `unread=true` for the unread ones only.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "family", security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, description = "1..100, default 20"),
           ("cursor" = Option<String>, Query, description = "nextCursor of the previous page"),
           ("unread" = Option<bool>, Query, description = "only unread alerts")),
    responses((status = 200, description = "A page of alerts", body = Page<Notification>)))]
pub async fn notifications(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Envelope<NotificationPage>> {
    let page = PageRequest::from_query(&query, &["unread"])?;
    let unread = match query.get("unread").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("unread", "must be true or false")),
    };
    Ok(Envelope(state.family().notifications(&user, &page, unread).await?))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "family", security(("bearer" = [])),
    responses((status = 200, description = "Marked read", body = Notification),
              (status = 404, description = "No such alert of yours")))]
pub async fn read_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Notification>> {
    let id = row_id(&id, "notification")?;
    Ok(Envelope(state.family().mark_read(&user, &id).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadAll {
    pub marked_read: u64,
}

#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "family", security(("bearer" = [])),
    responses((status = 200, description = "How many were marked read", body = ReadAll)))]
pub async fn read_all(State(state): State<AppState>, user: AuthUser) -> ApiResult<Envelope<ReadAll>> {
    Ok(Envelope(ReadAll { marked_read: state.family().mark_all_read(&user).await? }))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "family", security(("bearer" = [])),
    responses((status = 200, description = "Your alert webhooks", body = Vec<Webhook>)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Envelope<Vec<Webhook>>> {
    Ok(Envelope(state.family().list_webhooks(&user).await?))
}

/// Registers an https URL that receives each new alert as a signed POST
/// (`X-BabyShield-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`).
/// The secret is returned this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "family", security(("bearer" = [])),
    request_body = WebhookInput,
    responses((status = 201, description = "Registered; keep the secret", body = WebhookCreated),
              (status = 400, description = "Not an https URL, or a private destination"),
              (status = 409, description = "Webhook limit reached")))]
pub async fn create_webhook(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(input): ApiJson<WebhookInput>,
) -> ApiResult<(StatusCode, Envelope<WebhookCreated>)> {
    Ok((StatusCode::CREATED, Envelope(state.family().create_webhook(&user, input).await?)))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "family", security(("bearer" = [])),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such webhook of yours")))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = row_id(&id, "webhook")?;
    state.family().delete_webhook(&user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
