use std::any::Any;

use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Turns a handler panic into the contract's opaque 500 envelope. The panic
/// message is logged (with the request id), never sent to the client.
pub(super) fn respond(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    metrics::counter!("http_handler_panics_total").increment(1);
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}
