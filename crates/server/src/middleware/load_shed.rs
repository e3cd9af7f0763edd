//! A global bound on requests in flight. Past it, requests are refused at
//! once with 503 and `Retry-After` instead of queueing until everyone times
//! out. Liveness probes and metrics scrapes are never refused.

use std::sync::Arc;

use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Semaphore;

use crate::error::ApiError;

const EXEMPT: &[&str] = &["/health", "/health/live", "/api/v1/healthz", "/metrics"];

pub(super) async fn shed(slots: Arc<Semaphore>, req: Request, next: Next) -> Response {
    if EXEMPT.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let Ok(_permit) = slots.try_acquire_owned() else {
        metrics::counter!("http_requests_shed_total").increment(1);
        return ApiError::Unavailable {
            public: "the service is at capacity; retry in a moment".into(),
            cause: "global in-flight limit reached".into(),
        }
        .into_response();
    };
    next.run(req).await
}
