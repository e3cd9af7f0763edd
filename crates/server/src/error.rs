//! The one error type of the HTTP layer. Every failure becomes the contract's
//! error envelope; 4xx messages tell the client what was wrong, 5xx bodies are
//! opaque and the cause is logged once, here, with the request id.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use babyshield_storage::StorageError;
use serde_json::json;

use crate::request_id;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// A field failed validation.
    #[error("{0}")]
    InvalidParameters(String),
    /// Fields the endpoint does not know.
    #[error("unknown fields: {}", .0.join(", "))]
    UnknownFields(Vec<String>),
    #[error("{0}")]
    InvalidCursor(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed input that cannot be processed (an unreadable photo).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    #[error("{0}")]
    Gone(String),
    #[error("request took too long")]
    Timeout,
    /// A dependency cannot serve; the client may retry after a moment.
    #[error("{public}")]
    Unavailable { public: String, cause: String },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        ApiError::InvalidParameters(format!("{field}: {message}"))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidParameters(_) | ApiError::UnknownFields(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::InvalidCursor(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The contract's error code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) | ApiError::UnknownFields(_) | ApiError::UnsupportedMediaType(_) => {
                "BAD_REQUEST"
            }
            ApiError::InvalidParameters(_) | ApiError::Unprocessable(_) => "INVALID_PARAMETERS",
            ApiError::InvalidCursor(_) => "INVALID_CURSOR",
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "BAD_REQUEST",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Gone(_) => "NOT_FOUND",
            ApiError::Timeout => "TIMEOUT",
            ApiError::Unavailable { .. } => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }
}

impl From<babyshield_domain::SearchRequestError> for ApiError {
    fn from(err: babyshield_domain::SearchRequestError) -> Self {
        match err {
            babyshield_domain::SearchRequestError::UnknownFields(fields) => ApiError::UnknownFields(fields),
            babyshield_domain::SearchRequestError::Invalid { field, message } => {
                ApiError::invalid(&field, message)
            }
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Unavailable(cause) => {
                ApiError::Unavailable { public: "the database is unavailable, retry shortly".into(), cause }
            }
            StorageError::Conflict(cause) => {
                tracing::debug!(cause, "storage conflict");
                ApiError::Conflict("the change conflicts with existing data".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let trace_id = request_id::current();
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(request_id = %trace_id, error.cause = %cause, "request failed");
                "internal error".to_string()
            }
            ApiError::Unavailable { public, cause } => {
                tracing::warn!(request_id = %trace_id, error.cause = %cause, "dependency unavailable");
                public.clone()
            }
            other => other.to_string(),
        };
        let mut error = json!({ "code": self.code(), "message": message });
        if let ApiError::UnknownFields(fields) = &self {
            error["unknown"] = json!(fields);
        }
        let body = json!({ "ok": false, "error": error, "traceId": trace_id });
        let mut response = (status, axum::Json(body)).into_response();
        match &self {
            ApiError::Unavailable { .. } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RateLimited { retry_after_secs, .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(&1).to_owned()));
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
