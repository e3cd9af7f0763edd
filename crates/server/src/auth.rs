//! Access guards. For now one: the operator token that protects operator
//! pages (`/health/detailed`). Account roles replace it when they exist.

use axum::{extract::FromRequestParts, http::request::Parts};
use sha2::{Digest, Sha256};

use crate::{error::ApiError, state::AppState};

/// Proof that the request carries the operator token
/// (`Authorization: Bearer <token>`).
pub struct OperatorAccess;

impl FromRequestParts<AppState> for OperatorAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized("operator token required (Authorization: Bearer ...)".into())
            })?;
        if constant_time_eq(presented.trim(), state.secrets().operator_token.expose()) {
            Ok(OperatorAccess)
        } else {
            Err(ApiError::Unauthorized("operator token is not valid".into()))
        }
    }
}

/// Compares digests so timing reveals neither length nor common prefix.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter().zip(db.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
