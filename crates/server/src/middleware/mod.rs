//! The middleware stack, assembled in one place. Outermost first:
//!
//! 1. `security_headers`: the OWASP secure-headers set (CSP, nosniff, frame
//!    and referrer policies, COOP/CORP, Permissions-Policy, HSTS when
//!    `http.hsts`) on every response, and no `Server` banner. Outermost so
//!    that nothing, not even a refused request id, answers without them.
//!
//!    Just inside it, `crate::cache::no_store_by_default`: every response
//!    whose handler chose no `Cache-Control` (accounts, admin, errors, even
//!    a refused request id) gets `no-store`.
//!
//! 2. `routes::v2::shape`: on `/api/v2` paths only, `X-API-Version: v2`
//!    and the v2 error envelope `{"error": {...}}` rewritten from the v1
//!    one, whatever produced the error (a handler, an extractor, the rate
//!    limiter, the timeout, a refused request id). Outside
//!    `request_context`, which sets `X-API-Version: v1`, so also outside
//!    compression: error responses are never compressed (they are small),
//!    so their bodies can be read here.
//! 3. `request_context`: request id, access log line, request metrics,
//!    `X-Request-ID` and `X-API-Version` headers, and each request's time
//!    in flight for the work that yields to requests (`crate::load`).
//! 4. `deprecation`: `Deprecation`, `Sunset` and a `successor-version`
//!    `Link` on the v1 routes that `/api/v2` supersedes.
//! 5. `cors`: only when `http.cors_allowed_origins` is not empty. Inside the
//!    request context, so preflights are logged and carry a request id.
//! 6. compression: gzip or br for bodies of at least
//!    `http.compression_min_bytes`, never for event streams, images or
//!    errors.
//! 7. `rate_limit`: the client address (trusted proxies' `X-Forwarded-For`
//!    believed), the tier of the matched route, `RateLimit-*` headers, and the
//!    `RATE_LIMITED` envelope with `Retry-After` once a quota is spent.
//! 8. `load_shed`: past `server.max_in_flight` requests in flight, 503 with
//!    `Retry-After` at once (probes and scrapes exempt). Outside the rate
//!    limiter's answer so a limited client's 429 costs no slot.
//! 9. `idempotency` (in `crate::idempotency`): on the create routes listed
//!    there, an `Idempotency-Key` runs the request once and replays its
//!    response. Outside panic and timeout, so their 5xx release the key.
//! 10. `panic`: a panicking handler answers a 500 envelope; the server lives on.
//! 11. `timeout`: a request slower than `server.request_timeout_ms` answers
//!     the contract's `TIMEOUT` envelope.
//! 12. body limit: bodies over `server.max_body_bytes` answer 413.

mod cors;
pub mod deprecation;
mod load_shed;
mod panic;
mod rate_limit;
mod request_context;
mod security_headers;
mod timeout;

use std::time::Duration;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{Extensions, HeaderMap, StatusCode, Version},
    middleware::{from_fn, from_fn_with_state},
};
use tower::util::option_layer;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{
        CompressionLayer,
        predicate::{NotForContentType, Predicate, SizeAbove},
    },
};

use crate::state::AppState;

pub use rate_limit::ClientIp;
pub use request_context::API_VERSION;

/// Wraps `router` in the whole stack. Tests call this on their own routers to
/// exercise the real middleware.
pub fn apply(router: Router, state: &AppState) -> Router {
    let request_timeout = Duration::from_millis(state.config().server.request_timeout_ms);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(state.config().server.max_in_flight));
    let http = &state.config().http;
    let compress_when = SizeAbove::new(http.compression_min_bytes.into())
        .and(NotForContentType::SSE)
        .and(NotForContentType::IMAGES)
        .and(|status: StatusCode, _: Version, _: &HeaderMap, _: &Extensions| {
            !(status.is_client_error() || status.is_server_error())
        });
    let compression = CompressionLayer::new().gzip(true).br(true).no_deflate().no_zstd();
    let security_headers = security_headers::SecurityHeaders::new(http);
    let load = std::sync::Arc::clone(state.request_load());
    router
        .layer(DefaultBodyLimit::max(state.config().server.max_body_bytes))
        .layer(from_fn(move |req, next| timeout::enforce(request_timeout, req, next)))
        .layer(CatchPanicLayer::custom(panic::respond))
        .layer(from_fn_with_state(state.clone(), crate::idempotency::guard))
        .layer(from_fn(move |req, next| load_shed::shed(slots.clone(), req, next)))
        .layer(from_fn_with_state(state.clone(), rate_limit::limit))
        .layer(compression.compress_when(compress_when))
        .layer(option_layer(cors::layer(http)))
        .layer(from_fn(deprecation::announce))
        .layer(from_fn(move |req, next| request_context::handle(load.clone(), req, next)))
        .layer(from_fn(crate::routes::v2::shape))
        .layer(from_fn(crate::cache::no_store_by_default))
        .layer(from_fn(move |req, next| security_headers.clone().apply(req, next)))
}
