//! The middleware: claim the key, run the request once, store or release.

use std::net::SocketAddr;

use axum::{
    body::{Body, to_bytes},
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use babyshield_storage::idempotency::{Claim, ClaimTimes, StoredKey};

use super::{HEADER, covers, now, parse_key, replay, request_hash};
use crate::{error::ApiError, middleware::ClientIp, state::AppState};

/// Passes through everything but a covered route with the header.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let Some(route) = route.filter(|r| covers(req.method(), r)) else {
        return next.run(req).await;
    };
    let Some(value) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    let key = match parse_key(value) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    once(&state, &route, key, req, next).await.unwrap_or_else(IntoResponse::into_response)
}

async fn once(
    state: &AppState,
    route: &str,
    key: String,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, state.config().server.max_body_bytes).await.map_err(body_error)?;
    let scope = scope(state, &parts, route);
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let hash = request_hash(&parts.method, path, &body);
    let times = claim_times(state);
    match state.store().claim_idempotency_key(&scope, &key, &hash, times).await? {
        Claim::Claimed => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            Ok(finish(state, &scope, &key, response).await)
        }
        Claim::Existing(stored) => answer_existing(state, &scope, &key, &hash, stored),
    }
}

/// The caller, and what it called: a key means nothing across routes.
fn scope(state: &AppState, parts: &Parts, route: &str) -> String {
    let user = bearer(parts).and_then(|token| state.accounts().token_subject(token));
    let caller = match user {
        Some(user_id) => format!("user:{user_id}"),
        None => {
            let ip = parts
                .extensions
                .get::<ClientIp>()
                .map(|c| c.0)
                .or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()));
            match ip {
                Some(ip) => format!("client:{}", state.accounts().client_hash(ip)),
                None => "client:unknown".into(),
            }
        }
    };
    format!("{caller} {} {route}", parts.method)
}

fn bearer(parts: &Parts) -> Option<&str> {
    crate::auth::bearer_token(&parts.headers)
}

fn claim_times(state: &AppState) -> ClaimTimes {
    let config = state.config();
    let now = now();
    // The request timeout bounds the handler and the statement timeout the
    // write after it: a placeholder older than both is an instance that died.
    let lease_ms = config.server.request_timeout_ms + config.database.statement_timeout_ms;
    let lease = i64::try_from(lease_ms.div_ceil(1000)).unwrap_or(i64::MAX / 2) + 5;
    let ttl = i64::try_from(config.idempotency.ttl_secs).unwrap_or(i64::MAX / 2);
    ClaimTimes { now, expires_at: now + ttl, abandoned_before: now - lease }
}

/// Stores a 2xx or 4xx for replay; releases the key after a 5xx.
async fn finish(state: &AppState, scope: &str, key: &str, response: Response) -> Response {
    let status = response.status();
    let store = state.store();
    if status.is_server_error() {
        if let Err(e) = store.release_idempotency_key(scope, key).await {
            tracing::warn!(error = %e, "idempotency key not released after a server error");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            let _ = store.release_idempotency_key(scope, key).await;
            return ApiError::internal(format!("cannot buffer the response to store it: {e}"))
                .into_response();
        }
    };
    let headers = replay::encode_headers(&parts.headers);
    let sealed = replay::seal_body(state.accounts(), scope, key, &body);
    let code = i32::from(status.as_u16());
    if let Err(e) = store.complete_idempotency_key(scope, key, code, &headers, &sealed).await {
        // The client has its answer; a retry within the lease gets 409, then
        // runs again. Nothing better is possible without the database.
        tracing::warn!(error = %e, "idempotent response not stored");
    }
    Response::from_parts(parts, Body::from(body))
}

fn answer_existing(
    state: &AppState,
    scope: &str,
    key: &str,
    hash: &str,
    stored: StoredKey,
) -> Result<Response, ApiError> {
    if stored.request_hash != hash {
        metrics::counter!("idempotency_refusals_total", "reason" => "mismatch").increment(1);
        let mut response = ApiError::InvalidParameters(
            "Idempotency-Key was already used for a different request; use a new key for a new request"
                .into(),
        )
        .into_response();
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    }
    let Some(status) = stored.status else {
        metrics::counter!("idempotency_refusals_total", "reason" => "in_progress").increment(1);
        let mut response =
            ApiError::Conflict("a request with this Idempotency-Key is in progress; retry shortly".into())
                .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(response);
    };
    metrics::counter!("idempotency_replays_total").increment(1);
    replay::response(state.accounts(), scope, key, status, stored.headers.as_deref(), stored.body.as_deref())
}

fn body_error(error: axum::Error) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return ApiError::PayloadTooLarge("request body is larger than the limit".into());
        }
        source = e.source();
    }
    ApiError::BadRequest(format!("cannot read request body: {error}"))
}
