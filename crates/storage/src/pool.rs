use std::{future::Future, path::Path, str::FromStr, sync::Arc, time::Duration};

use babyshield_resilience::{
    BreakerConfig, BreakerState, CircuitBreaker, RetryBudget, RetryPolicy, ThreadPriority,
    lower_current_thread,
};

use sqlx::{
    ConnectOptions, Connection, PgPool, SqliteConnection, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::StorageError;

/// How to reach the database. Built from the `[database]` config section.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` or `postgres://user@host:port/db`.
    pub url: String,
    pub max_connections: u32,
    pub min_connections: u32,
    /// Longest a request waits for a pooled connection before answering 503.
    pub acquire_timeout: Duration,
    /// Longest one statement may run (server-side on PostgreSQL; on SQLite the
    /// lock wait, and the caller stops waiting after this long).
    pub statement_timeout: Duration,
    /// SQLite: how much of the file to read through a memory map (page reads
    /// without a syscall each; mapped pages count in RSS but are page cache).
    pub sqlite_mmap_mib: u64,
    /// SQLite: page cache per connection, in MiB.
    pub sqlite_cache_mib: u64,
    /// Failures (unavailable database) that open the database breaker.
    pub breaker: BreakerConfig,
    /// Retries of idempotent reads after a transient failure.
    pub read_retries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[doc(hidden)]
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database handle shared by the whole service (cheap to clone).
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    statement_timeout: Duration,
    max_connections: u32,
    guard: Arc<Guard>,
    /// The in-memory search index, when enabled (`recalls/index_sync.rs`).
    pub(crate) search_index: Option<Arc<crate::recalls::SearchIndex>>,
    /// Detail and barcode lookups, and result pages' documents, share
    /// queries when they arrive together.
    pub(crate) point_reads: Arc<crate::recalls::PointReads>,
    /// SQLite: the connection of writes nobody waits for, at a lower
    /// priority ([`Store::with_background_writes`]).
    pub(crate) background: Option<Arc<BackgroundWriter>>,
    /// PostgreSQL: the full-text indexes' pending lists, merged beside the
    /// writer (`recalls/pending_lists.rs`).
    pub(crate) pending_lists: Arc<crate::recalls::PendingLists>,
}

/// Writes nobody waits for (an agency pull's pages) on SQLite: one
/// connection of their own whose thread runs at a lower priority. sqlx runs
/// each SQLite connection on a thread of its own, which executes every
/// statement (and SQLite's full-text indexing and merging with them), and a
/// thread inherits its creator's priority: the connection is opened from a
/// thread that lowered its own. Opened when first needed, and again after
/// a write on it failed.
pub(crate) struct BackgroundWriter {
    priority: ThreadPriority,
    options: SqliteConnectOptions,
    connection: tokio::sync::Mutex<Option<SqliteConnection>>,
}

impl std::fmt::Debug for BackgroundWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundWriter").field("priority", &self.priority).finish_non_exhaustive()
    }
}

impl BackgroundWriter {
    /// The connection, opened if there is none; held until the guard drops.
    pub(crate) async fn connection(
        &self,
    ) -> Result<tokio::sync::MappedMutexGuard<'_, SqliteConnection>, StorageError> {
        let mut slot = self.connection.lock().await;
        if slot.is_none() {
            *slot = Some(self.open().await?);
        }
        Ok(tokio::sync::MutexGuard::map(slot, |c| c.as_mut().expect("opened above")))
    }

    /// Forgets the connection after a failed write (the next write opens a
    /// new one): a failure part-way may leave it in a state not worth
    /// reasoning about.
    pub(crate) async fn discard(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            let _ = connection.close().await;
        }
    }

    async fn open(&self) -> Result<SqliteConnection, StorageError> {
        let (options, priority) = (self.options.clone(), self.priority);
        let runtime = tokio::runtime::Handle::current();
        let (done, opened) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("sqlite-background-open".into())
            .spawn(move || {
                if !lower_current_thread(priority) {
                    tracing::debug!(?priority, "could not lower the background writer's priority");
                }
                let _ = done.send(runtime.block_on(options.connect()));
            })
            .map_err(|e| StorageError::Unavailable(format!("cannot start the background writer: {e}")))?;
        let opened = opened
            .await
            .map_err(|_| StorageError::Unavailable("the background writer did not open".into()))?;
        Ok(opened?)
    }
}

/// What keeps a failing database from being hammered: the breaker, and a
/// retry policy for idempotent reads bounded by a retry budget.
#[derive(Debug)]
struct Guard {
    breaker: CircuitBreaker,
    retry: RetryPolicy,
    budget: RetryBudget,
}

/// A snapshot of the connection pool for health pages and metrics.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub in_use: u32,
    pub max: u32,
}

impl Store {
    /// Opens the pool. Connections are made lazily so the service starts (and
    /// reports "not ready") even while the database is down.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Store, StorageError> {
        let backend = Backend::from_url(&settings.url).ok_or_else(|| {
            StorageError::Unavailable("database.url must start with sqlite: or postgres://".into())
        })?;
        let pool = match backend {
            Backend::Sqlite => {
                configure_sqlite_library();
                let options = SqliteConnectOptions::from_str(&settings.url)
                    .map_err(|e| StorageError::Unavailable(format!("database.url: {e}")))?;
                if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_dir(dir)?;
                }
                let options = options
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL in WAL mode syncs the log at every commit: a committed
                    // recall, account or audit row survives a power cut.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(settings.statement_timeout)
                    .foreign_keys(true)
                    .pragma("temp_store", "memory")
                    // Read pages through a memory map instead of a read()
                    // syscall each: search touches many rows per query.
                    .pragma("mmap_size", (settings.sqlite_mmap_mib * 1024 * 1024).to_string())
                    // Page cache per connection (64 MiB by default). Reads
                    // through the map do not fill it; writes do: a batch of
                    // recalls touches several B-trees and FTS segments, and
                    // with 8 MiB it re-read its own pages (+22 % recalls/s at
                    // 64 MiB). Negative: a size in KiB, not in pages.
                    .pragma("cache_size", format!("-{}", settings.sqlite_cache_mib * 1024))
                    // Checkpoint the write-ahead log every 10,000 pages (about
                    // 40 MB) instead of 1,000: a page written by several
                    // batches in between is copied back to the database once,
                    // not once per batch (+25 % recalls/s imported).
                    .pragma("wal_autocheckpoint", "10000");
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .min_connections(settings.min_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(options)
                    .await?;
                Pool::Sqlite(pool)
            }
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(&settings.url)
                    .map_err(|e| StorageError::Unavailable(format!("database.url: {e}")))?
                    .application_name("babyshield")
                    .options([("statement_timeout", settings.statement_timeout.as_millis().to_string())]);
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .min_connections(settings.min_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_lazy_with(options);
                Pool::Postgres(pool)
            }
        };
        let guard = Guard {
            breaker: CircuitBreaker::new("database", settings.breaker),
            retry: RetryPolicy {
                max_retries: settings.read_retries,
                base: Duration::from_millis(20),
                cap: Duration::from_millis(250),
            },
            // One retry per ten reads at most, ten saved up for a burst.
            budget: RetryBudget::new(0.1, 10),
        };
        Ok(Store {
            pool,
            statement_timeout: settings.statement_timeout,
            max_connections: settings.max_connections,
            guard: Arc::new(guard),
            search_index: None,
            point_reads: Arc::new(crate::recalls::PointReads::new(point_reads_in_flight(
                settings.max_connections,
            ))),
            background: None,
            pending_lists: Arc::default(),
        })
    }

    /// Runs writes made with [`Store::upsert_prepared_in_background`] at
    /// `priority`. On SQLite they get a connection of their own whose
    /// thread runs at that priority; on PostgreSQL the work of a write is
    /// the database server's, which has no per-session priority, and they
    /// use the pool.
    pub fn with_background_writes(mut self, priority: ThreadPriority) -> Store {
        self.background = match (&self.pool, priority) {
            (_, ThreadPriority::Normal) | (Pool::Postgres(_), _) => None,
            (Pool::Sqlite(pool), priority) => Some(Arc::new(BackgroundWriter {
                priority,
                options: (*pool.connect_options())
                    .clone()
                    .thread_name(|id| format!("sqlite-background-{id}")),
                connection: tokio::sync::Mutex::new(None),
            })),
        };
        self
    }

    #[doc(hidden)]
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Round trip to the database (`SELECT 1`), bounded by `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StorageError> {
        let probe =
            async { crate::on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ())) };
        match tokio::time::timeout(timeout, probe).await {
            Ok(result) => result.map_err(StorageError::from),
            Err(_) => Err(StorageError::timeout(timeout)),
        }
    }

    pub fn stats(&self) -> PoolStats {
        let (size, idle) = crate::on_pool!(self, p => (p.size(), p.num_idle() as u32));
        PoolStats { size, idle, in_use: size.saturating_sub(idle), max: self.max_connections }
    }

    /// Refreshes the planner's statistics after a bulk change (imports).
    pub async fn analyze(&self) -> Result<(), StorageError> {
        match self.pool() {
            Pool::Sqlite(p) => {
                sqlx::query("PRAGMA optimize").execute(p).await?;
            }
            Pool::Postgres(p) => {
                sqlx::query("ANALYZE recalls, recall_gtins").execute(p).await?;
            }
        }
        Ok(())
    }

    /// Waits for in-flight queries (and, on PostgreSQL, for the pending-list
    /// merge that recall writes asked for) and closes every connection.
    pub async fn close(&self) {
        self.pending_lists.settled().await;
        if let Some(background) = &self.background {
            background.discard().await;
        }
        crate::on_pool!(self, p => p.close().await)
    }

    /// The database circuit breaker's state, for health pages and metrics.
    pub fn breaker_state(&self) -> BreakerState {
        self.guard.breaker.state()
    }

    /// Refuses at once while the breaker is open (writes call this first).
    /// Only checks: a write never takes the half-open trial, which reads
    /// run and report.
    pub fn ensure_available(&self) -> Result<(), StorageError> {
        if self.guard.breaker.refusing() {
            Err(StorageError::Unavailable("database circuit breaker is open".into()))
        } else {
            Ok(())
        }
    }

    /// Feeds an outcome to the breaker: only "unavailable" counts as failure.
    fn record<T>(&self, result: &Result<T, StorageError>) {
        match result {
            Err(StorageError::Unavailable(_)) => self.guard.breaker.record_failure(),
            _ => self.guard.breaker.record_success(),
        }
    }

    /// One attempt, bounded by the statement timeout (a stuck database turns
    /// into a 503 instead of a hung request) and guarded by the breaker.
    pub(crate) async fn timed<T>(
        &self,
        fut: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        if !self.guard.breaker.allow() {
            return Err(StorageError::Unavailable("database circuit breaker is open".into()));
        }
        // The server-side timeout fires first on PostgreSQL; this one is the
        // backstop (and the only one for SQLite). Allow for pool acquisition.
        let limit = self.statement_timeout + Duration::from_millis(250);
        let result = tokio::time::timeout(limit, fut).await.unwrap_or(Err(StorageError::timeout(limit)));
        self.record(&result);
        result
    }

    /// An idempotent read: like [`Store::timed`], retried after a transient
    /// failure with full-jitter backoff while the retry budget allows.
    pub(crate) async fn read<T, F, Fut>(&self, op: F) -> Result<T, StorageError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, StorageError>>,
    {
        self.guard.budget.deposit();
        let mut attempt = 0;
        loop {
            let result = self.timed(op()).await;
            let transient = matches!(&result, Err(StorageError::Unavailable(_)));
            if !transient || attempt >= self.guard.retry.max_retries || !self.guard.budget.try_withdraw() {
                return result;
            }
            attempt += 1;
            metrics::counter!("db_read_retries_total").increment(1);
            tokio::time::sleep(self.guard.retry.backoff(attempt)).await;
        }
    }
}

/// Shared lookup queries of one kind running at once: one per core (the
/// queries are CPU work on this machine or the database's), at least two so
/// that one slow query does not hold up every lookup, and never more than
/// the pool's connections.
fn point_reads_in_flight(max_connections: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    cores.max(2).min(max_connections.max(1) as usize)
}

/// Process-wide SQLite settings, applied once before the first connection
/// (SQLite accepts them only before it initializes). Memory statistics off:
/// with them on, every allocation and free inside SQLite takes one global
/// mutex, so a request thread freeing a row's values waited for whichever
/// thread held it, such as a pull's writer that a lower priority had
/// just preempted. Nothing here reads SQLite's memory statistics.
fn configure_sqlite_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called before this process opens any
        // SQLite connection (the Once above, run before the pool's first
        // connect); SQLITE_CONFIG_MEMSTATUS takes one int. Called after
        // initialization it returns SQLITE_MISUSE and changes nothing.
        let code = unsafe {
            libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int)
        };
        if code != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(code, "SQLite was initialized already; its memory statistics stay on");
        }
    });
}

fn create_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StorageError::Unavailable(format!("cannot create {}: {e}", dir.display())))
}

/// A small SQLite database in `dir` for the crate's unit tests.
#[cfg(test)]
pub(crate) fn test_sqlite_settings(dir: &std::path::Path) -> DatabaseSettings {
    DatabaseSettings {
        url: format!("sqlite://{}", dir.join("test.db").display()),
        max_connections: 2,
        min_connections: 0,
        acquire_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(5),
        sqlite_mmap_mib: 0,
        sqlite_cache_mib: 2,
        breaker: BreakerConfig { failures: 5, window_secs: 30, open_secs: 5 },
        read_retries: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_keeps_no_memory_statistics() {
        let dir = std::env::temp_dir().join(format!("bs-memstatus-{}", std::process::id()));
        let store = Store::connect(&test_sqlite_settings(&dir)).await.unwrap();
        store.ping(Duration::from_secs(5)).await.unwrap();
        // With statistics on, SQLite counts every byte it holds (its page
        // cache and schema at least); off, the counter stays at zero.
        // SAFETY: reads a process-wide counter.
        assert_eq!(unsafe { libsqlite3_sys::sqlite3_memory_used() }, 0);
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
