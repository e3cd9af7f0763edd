//! The contract's success envelope: `{"ok": true, "data": ..., "traceId": ...}`.

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::request_id;

/// Wraps a handler's result in the success envelope.
pub struct Envelope<T>(pub T);

#[derive(Serialize)]
struct Body<'a, T> {
    ok: bool,
    data: &'a T,
    #[serde(rename = "traceId")]
    trace_id: String,
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        Json(Body { ok: true, data: &self.0, trace_id: request_id::current() }).into_response()
    }
}
