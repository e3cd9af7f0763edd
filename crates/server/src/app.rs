//! Building and running the service. `Application::build` prepares
//! everything and binds the listener (port 0 in tests); `run_until` serves
//! until the shutdown signal, then drains and cleans up.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use babyshield_storage::{DatabaseSettings, Store};
use tokio::net::TcpListener;

use crate::{
    accounts::Accounts,
    config::{Config, Secrets},
    dependencies::Redis,
    import,
    rate_limit::RateLimiter,
    routes,
    state::AppState,
};

/// Largest catalogue indexed before the server listens.
const INDEX_BEFORE_LISTENING: i64 = 100_000;

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

/// Opens the database pool described by the configuration.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let settings = DatabaseSettings {
        url: config.database_url(),
        max_connections: config.database.max_connections,
        min_connections: config.database.min_connections,
        acquire_timeout: Duration::from_millis(config.database.acquire_timeout_ms),
        statement_timeout: Duration::from_millis(config.database.statement_timeout_ms),
        sqlite_mmap_mib: config.database.sqlite_mmap_mib,
        sqlite_cache_mib: config.database.sqlite_cache_mib,
        breaker: config.database.breaker,
        read_retries: config.database.read_retries,
    };
    Store::connect(&settings).await.context("cannot open the database")
}

impl Application {
    /// Resolves secrets, opens and migrates the database, loads the sample
    /// catalogue into an empty database, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        // Install the metrics recorder first: anything recorded before it
        // exists (pool gauges, hashing slots) would be lost.
        crate::telemetry::metrics_handle();
        config.validate()?;
        let secrets = Secrets::resolve(&config)?;
        let mut store = open_store(&config).await?.with_background_writes(config.ingest.priority()?);
        if config.search.in_memory_index {
            store = store.with_search_index_and_caches(babyshield_storage::recalls::SearchCaches {
                document_mib: config.search.document_cache_mib,
                term_mib: config.search.term_cache_mib,
            });
        }
        if config.database.migrate_on_start {
            let status = store.migrate().await.context("cannot migrate the database")?;
            tracing::info!(schema.version = status.applied, "database schema up to date");
        }
        if config.database.load_sample_data
            && let Some(report) =
                import::load_sample_if_empty(&store).await.context("cannot load sample data")?
        {
            tracing::info!(
                recalls = report.inserted,
                rejected = report.rejected,
                "loaded the bundled sample recalls"
            );
        }
        // A small catalogue is indexed before the first request (a few
        // seconds at 100,000 recalls); a large one by the catalogue's
        // refresher once the service listens (about 40 s per million), and
        // searches use the database until then.
        if config.search.in_memory_index {
            match store.count_recalls().await {
                Ok(count) if count <= INDEX_BEFORE_LISTENING => {
                    if let Err(e) = store.refresh_search_index().await {
                        tracing::warn!(error = %e, "search index not built yet; searches use the database until it is");
                    }
                }
                Ok(count) => tracing::info!(recalls = count, "search index builds in the background"),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot count recalls; the search index builds in the background")
                }
            }
        }
        let redis = match &config.redis.url {
            Some(url) => Some(Arc::new(
                Redis::open(url, Duration::from_millis(config.redis.timeout_ms), config.redis.breaker)
                    .context("redis.url")?,
            )),
            None => None,
        };
        let accounts = Arc::new(Accounts::new(&config, &secrets, store.clone())?);
        let address = SocketAddr::new(config.server.host, config.server.port);
        let listener =
            TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?;
        let limiter = Arc::new(RateLimiter::new(&config.rate_limit, redis.clone())?);
        let state = AppState::new(config, secrets, store, redis, limiter, accounts)?;
        if let Err(e) = state.catalogue().refresh_vocabulary().await {
            tracing::warn!(error = %e, "search vocabulary not loaded yet; typo tolerance starts with the next refresh");
        }
        if let Err(e) = state.flags().refresh().await {
            tracing::warn!(error = %e, "feature flag overrides not loaded yet; config defaults apply until the next refresh");
        }
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or SIGINT. The signal handlers are installed
    /// before the listener is announced, so no early signal is missed.
    pub async fn run(self) -> anyhow::Result<()> {
        let signal = shutdown_signal()?;
        self.run_until(signal).await
    }

    /// Serves until `signal` resolves. Then: readiness answers 503 at once,
    /// after `server.shutdown_delay_ms` the listener closes, in-flight
    /// requests get up to `server.drain_timeout_ms` to finish, background
    /// tasks are cancelled and awaited, and the pool is closed.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Application { listener, state } = self;
        let server_config = state.config().server.clone();
        let delay = Duration::from_millis(server_config.shutdown_delay_ms);
        let drain = Duration::from_millis(server_config.drain_timeout_ms);
        tracing::info!(address = %listener.local_addr()?, "listening");

        state.catalogue().spawn_refresher(state.lifecycle());
        state.accounts().spawn_purger(state.lifecycle());
        state.flags().spawn_refresher(state.lifecycle());
        crate::idempotency::spawn_purger(&state);
        crate::jobs::spawn(&state);
        crate::ingest::schedule::spawn(&state);
        // Connection info gives the client address for throttling and audit.
        let router = routes::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let lifecycle_state = state.clone();
        let stop_accepting = async move {
            signal.await;
            tracing::info!("shutdown requested: readiness now answers 503");
            lifecycle_state.lifecycle().begin_shutdown();
            tokio::time::sleep(delay).await;
            tracing::info!("no longer accepting connections; draining in-flight requests");
        };
        let server = axum::serve(listener, router).with_graceful_shutdown(stop_accepting);
        let shutdown = state.lifecycle().shutdown_token();
        let drain_deadline = async move {
            shutdown.cancelled().await;
            tokio::time::sleep(delay + drain).await;
        };
        tokio::select! {
            result = async { server.await } => result.context("server failed")?,
            _ = drain_deadline => tracing::warn!(drain_timeout_ms = server_config.drain_timeout_ms,
                "drain timeout reached; abandoning requests still in flight"),
        }

        if tokio::time::timeout(drain, state.lifecycle().join_tasks()).await.is_err() {
            tracing::warn!("background tasks did not stop within the drain timeout");
        }
        state.store().close().await;
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// Installs the SIGTERM and SIGINT handlers now and resolves on the first
/// of them.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
