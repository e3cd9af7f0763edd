//! Persistence for BabyShield.
//!
//! One [`Store`] talks to either an embedded SQLite file or a PostgreSQL server.
//! SQL that both dialects accept is written once (with `$N` placeholders, which
//! SQLite understands too); the parts that differ (full-text search, schema DDL)
//! live in one clearly named place per backend.

pub mod accounts;
mod error;
pub mod family;
pub mod flags;
pub mod idempotency;
pub mod ingest;
pub mod jobs;
mod migrations;
mod pool;
pub mod recalls;

pub use babyshield_resilience::{BreakerConfig, BreakerState};
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

/// Runs `$body` inside a write transaction and commits it; an error (`?`)
/// inside the body rolls everything back. SQLite takes the write lock up
/// front (`BEGIN IMMEDIATE`) so read-then-write bodies never fail on a lock
/// upgrade; PostgreSQL takes an advisory lock so audit rows chain in order
/// across instances.
#[macro_export]
#[doc(hidden)]
macro_rules! in_write_tx {
    // Without the audit lock: writes that chain no audit row (recall imports).
    ($store:expr, unlocked $tx:ident => $body:expr) => {
        match $store.pool() {
            $crate::Pool::Sqlite(p) => {
                $store.ensure_available()?;
                let mut $tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::Pool::Postgres(p) => {
                $store.ensure_available()?;
                let mut $tx = p.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
    ($store:expr, $tx:ident => $body:expr) => {
        match $store.pool() {
            $crate::Pool::Sqlite(p) => {
                $store.ensure_available()?;
                let mut $tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::Pool::Postgres(p) => {
                $store.ensure_available()?;
                let mut $tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(7262)").execute(&mut *$tx).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

#[doc(hidden)]
pub use pool::Pool;

pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
