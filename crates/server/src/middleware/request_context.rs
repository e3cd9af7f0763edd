use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::ApiError, load::RequestLoad, request_id};

/// Version of the public API this server speaks, on every response.
pub const API_VERSION: &str = "v1";

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");
static X_API_VERSION: HeaderName = HeaderName::from_static("x-api-version");

/// Gives the request its id, serves it, then logs one line and records
/// metrics and its time in flight (`load`).
pub(super) async fn handle(load: Arc<RequestLoad>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());

    let inbound = inbound_id(&req);
    let (id, refused) = match inbound {
        Some(Ok(id)) => (id, None),
        Some(Err(message)) => (request_id::generate(), Some(message)),
        None => (request_id::generate(), None),
    };

    let in_flight = InFlight::begin(load, started);
    let mut response = request_id::scope(id.clone(), async {
        match refused {
            Some(message) => ApiError::BadRequest(message).into_response(),
            None => next.run(req).await,
        }
    })
    .await;
    drop(in_flight);

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    headers.insert(X_API_VERSION.clone(), HeaderValue::from_static(API_VERSION));

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let labels = [("method", method.to_string()), ("route", route.clone()), ("status", status.to_string())];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());

    // The route template, never the raw path or query: they can carry
    // personal data (emails, barcodes of what a family owns).
    tracing::info!(
        http.method = %method,
        http.route = %route,
        http.status = status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %id,
        "request"
    );
    response
}

/// A request being served: counted in `http_requests_in_flight` and, when
/// it ends, its time in flight added to the load. Also when it ends by
/// being dropped (the client went away, hyper drops the handler's future),
/// which is most often when the server is overloaded.
struct InFlight {
    load: Arc<RequestLoad>,
    started: Instant,
    gauge: metrics::Gauge,
}

impl InFlight {
    fn begin(load: Arc<RequestLoad>, started: Instant) -> InFlight {
        let gauge = metrics::gauge!("http_requests_in_flight");
        gauge.increment(1.0);
        InFlight { load, started, gauge }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
        self.load.record(self.started.elapsed());
    }
}

/// The client's request id, if it sent one: `Ok` when usable, `Err` with the
/// reason when not.
fn inbound_id(req: &Request) -> Option<Result<String, String>> {
    let (name, value) = [&X_REQUEST_ID, &X_CORRELATION_ID]
        .into_iter()
        .find_map(|name| req.headers().get(name).map(|v| (name, v)))?;
    let checked = value
        .to_str()
        .map_err(|_| "must be visible ASCII".to_string())
        .and_then(|v| request_id::validate(v).map(|_| v.to_string()));
    Some(checked.map_err(|reason| format!("invalid {name} header: {reason}")))
}
