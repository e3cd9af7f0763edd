//! The BabyShield HTTP service: configuration, application state, routes,
//! middleware, telemetry and lifecycle. `main.rs` in the `babyshield` crate
//! only parses the command line and calls into here.

pub mod accounts;
mod app;
mod auth;
pub mod cache;
pub mod catalogue;
pub mod config;
pub mod dependencies;
mod envelope;
mod error;
mod extract;
pub mod family;
pub mod flags;
pub mod idempotency;
pub mod import;
pub mod ingest;
pub mod jobs;
mod lifecycle;
pub mod load;
pub mod mail;
pub mod middleware;
pub mod rate_limit;
mod request_id;
pub mod resilience;
pub mod routes;
mod state;
pub mod telemetry;
pub mod tls;

pub use app::{Application, open_store};
pub use error::ApiError;
pub use state::AppState;
