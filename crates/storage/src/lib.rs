//! Persistence for BabyShield.
//!
//! One [`Store`] talks to either an embedded SQLite file or a PostgreSQL server.
//! SQL that both dialects accept is written once (with `$N` placeholders, which
//! SQLite understands too); the parts that differ (full-text search, schema DDL)
//! live in one clearly named place per backend.

mod error;
mod migrations;
mod pool;
pub mod recalls;

pub use error::StorageError;
pub use migrations::MigrationStatus;
pub use pool::{Backend, DatabaseSettings, PoolStats, Store};

/// Runs `$body` with `$p` bound to the concrete pool of `$store`, once per
/// backend. The body is compiled twice, so the same query text and decoding
/// serve SQLite and PostgreSQL without a dynamic driver.
#[macro_export]
#[doc(hidden)]
macro_rules! on_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match $store.pool() {
            $crate::Pool::Sqlite($p) => $body,
            $crate::Pool::Postgres($p) => $body,
        }
    };
}

#[doc(hidden)]
pub use pool::Pool;
