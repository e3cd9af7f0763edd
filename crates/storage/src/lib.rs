//! Persistence for BabyShield.
//!
//! One [`Store`] talks to either an embedded SQLite file or a PostgreSQL server.
//! SQL that both dialects accept is written once (with `$N` placeholders, which
//! SQLite understands too); the parts that differ (full-text search, schema DDL)
//! live in one clearly named place per backend.

pub mod accounts;
mod coalesce;
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

/// Opens a PostgreSQL transaction that a cancelled caller cannot leave open.
/// sqlx 0.9 counts a transaction only once BEGIN's round trip is over, so a
/// caller dropped during it (a client that disconnects, a timeout) sent the
/// connection back to the pool still inside the transaction, and the next
/// borrower's statements ran in it: writes failed in a search's read-only
/// snapshot, or ran in a transaction nobody would commit (sqlx issue 4393,
/// fixed after 0.9.0). BEGIN therefore runs in a task of its own: a caller
/// dropped meanwhile drops the finished transaction, which rolls it back.
#[doc(hidden)]
pub async fn begin_postgres(
    pool: &sqlx::PgPool,
    statement: Option<&'static str>,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    })
    .await
    .map_err(|_| sqlx::Error::WorkerCrashed)?
}

/// A read-only snapshot for reads made of several statements (a search's
/// count and its pages agree even while recalls are written).
pub(crate) trait BeginSnapshot {
    type Db: sqlx::Database;
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginSnapshot for sqlx::SqlitePool {
    type Db = sqlx::Sqlite;
    /// A deferred transaction reads one snapshot of the WAL database.
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN").await
    }
}

impl BeginSnapshot for sqlx::PgPool {
    type Db = sqlx::Postgres;
    async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        begin_postgres(self, Some("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")).await
    }
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
                let mut $tx = $crate::begin_postgres(p, None).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
    // The same, on SQLite on `$background` (an `Option<&BackgroundWriter>`)
    // when there is one. A failed write there discards that connection.
    ($store:expr, unlocked $tx:ident, on $background:expr => $body:expr) => {
        match ($store.pool(), $background) {
            ($crate::Pool::Sqlite(_), Some(background)) => {
                $store.ensure_available()?;
                let mut connection = background.connection().await?;
                let written: Result<_, $crate::StorageError> = async {
                    let mut $tx = sqlx::Connection::begin_with(&mut *connection, "BEGIN IMMEDIATE").await?;
                    let out = $body;
                    $tx.commit().await?;
                    Ok(out)
                }
                .await;
                drop(connection);
                if written.is_err() {
                    background.discard().await;
                }
                written?
            }
            _ => $crate::in_write_tx!($store, unlocked $tx => $body),
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
                let mut $tx = $crate::begin_postgres(p, None).await?;
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
