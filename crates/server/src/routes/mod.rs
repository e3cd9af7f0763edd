//! Every HTTP route, one module per resource, assembled here with the
//! envelope fallbacks for unknown paths (404) and wrong methods (405).

mod account;
mod admin;
mod agencies;
mod auth;
mod barcode;
mod docs;
mod family;
mod flags;
mod health;
mod metrics;
mod monitoring;
mod recalls;
mod safety;
mod search;
mod user_data;
pub(crate) mod v2;

use axum::{Router, extract::Request};

use crate::{error::ApiError, middleware, state::AppState};

pub use docs::ApiDoc;

/// The complete application: routes, fallbacks and the middleware stack.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(agencies::router())
        .merge(search::router())
        .merge(recalls::router())
        .merge(barcode::router())
        .merge(auth::router())
        .merge(account::router())
        .merge(admin::router())
        .merge(flags::router())
        .merge(family::router())
        .merge(safety::router(&state))
        .merge(monitoring::router())
        .merge(user_data::router())
        .merge(v2::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .merge(docs::router());
    middleware::apply(routes, &state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(format!("no route for {} {}", req.method(), req.uri().path()))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!("method {} is not allowed on {}", req.method(), req.uri().path()))
}
