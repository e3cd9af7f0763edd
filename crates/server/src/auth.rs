//! Access guards: the signed-in user (bearer access token with a live
//! session), admins, and the operator token for operator pages.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};
use sha2::{Digest, Sha256};

use crate::{
    accounts::{AuthUser, RequestMeta},
    error::ApiError,
    request_id,
    state::AppState,
};

/// The token of an `Authorization: Bearer <token>` header (scheme in
/// either case). The one parser every layer uses.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

fn bearer(parts: &Parts) -> Option<&str> {
    bearer_token(&parts.headers)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::Unauthorized("sign in required (Authorization: Bearer ...)".into()))?;
        state.accounts().authenticate(token).await
    }
}

/// `Option<AuthUser>`: None without an Authorization header; a header with
/// a bad or revoked token is still a 401 (never silently anonymous).
impl axum::extract::OptionalFromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.get(axum::http::header::AUTHORIZATION).is_none() {
            return Ok(None);
        }
        <AuthUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await.map(Some)
    }
}

/// A signed-in admin; users get 403.
pub struct Admin(pub AuthUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.is_admin() { Ok(Admin(user)) } else { Err(ApiError::Forbidden("admins only".into())) }
    }
}

impl FromRequestParts<AppState> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        // The rate-limit layer resolved the client behind trusted proxies.
        let ip = parts
            .extensions
            .get::<crate::middleware::ClientIp>()
            .map(|c| c.0)
            .or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()));
        Ok(RequestMeta { request_id: request_id::current(), ip })
    }
}

/// Proof that the request may see operator pages: the operator token
/// (`Authorization: Bearer <token>`) or an admin's access token.
pub struct OperatorAccess;

impl FromRequestParts<AppState> for OperatorAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = bearer(parts)
            .ok_or_else(|| ApiError::Unauthorized("operator token or admin sign-in required".into()))?;
        if constant_time_eq(presented, state.secrets().operator_token.expose()) {
            return Ok(OperatorAccess);
        }
        match state.accounts().authenticate(presented).await {
            Ok(user) if user.is_admin() => Ok(OperatorAccess),
            Ok(_) => Err(ApiError::Forbidden("admins only".into())),
            Err(_) => Err(ApiError::Unauthorized("operator token is not valid".into())),
        }
    }
}

/// Compares digests so timing reveals neither length nor common prefix.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
