//! The middleware stack, assembled in one place. Outermost first:
//!
//! 1. `request_context`: request id, access log line, request metrics,
//!    `X-Request-ID` and `X-API-Version` headers.
//! 2. `panic`: a panicking handler answers a 500 envelope; the server lives on.
//! 3. `timeout`: a request slower than `server.request_timeout_ms` answers
//!    the contract's `TIMEOUT` envelope.
//! 4. body limit: bodies over `server.max_body_bytes` answer 413.

mod panic;
mod request_context;
mod timeout;

use std::time::Duration;

use axum::{Router, extract::DefaultBodyLimit, middleware::from_fn};
use tower_http::catch_panic::CatchPanicLayer;

use crate::state::AppState;

pub use request_context::API_VERSION;

/// Wraps `router` in the whole stack. Tests call this on their own routers to
/// exercise the real middleware.
pub fn apply(router: Router, state: &AppState) -> Router {
    let request_timeout = Duration::from_millis(state.config().server.request_timeout_ms);
    router
        .layer(DefaultBodyLimit::max(state.config().server.max_body_bytes))
        .layer(from_fn(move |req, next| timeout::enforce(request_timeout, req, next)))
        .layer(CatchPanicLayer::custom(panic::respond))
        .layer(from_fn(request_context::handle))
}
