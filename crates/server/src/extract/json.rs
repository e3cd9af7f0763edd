use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::Json` with rejections mapped to the error envelope: wrong content
/// type (415), malformed JSON (400, with line and column), body over the limit
/// (413), unknown fields (400 with `error.unknown`), wrong field types (400).
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(map_rejection(rejection)),
        }
    }
}

fn map_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("expected a JSON body with Content-Type: application/json".into())
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(format!("malformed JSON: {}", innermost(&e)))
        }
        JsonRejection::JsonDataError(e) => {
            let detail = innermost(&e);
            match unknown_field(&detail) {
                Some(field) => ApiError::UnknownFields(vec![field]),
                None => ApiError::BadRequest(format!("invalid JSON body: {detail}")),
            }
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("request body is larger than the limit".into())
        }
        other => ApiError::BadRequest(format!("cannot read request body: {}", other.body_text())),
    }
}

/// The deepest error message: serde's, with line and column, without axum's
/// generic prefix.
fn innermost(err: &dyn std::error::Error) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// serde's "[path: ]unknown field `x`, expected ..." -> `x`.
fn unknown_field(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}
