//! `AppState`: everything a handler needs, cheap to clone.

use std::sync::Arc;

use babyshield_storage::Store;

use crate::{
    accounts::Accounts,
    catalogue::Catalogue,
    config::{Config, Secrets},
    dependencies::Redis,
    family::Family,
    flags::Flags,
    ingest::Ingest,
    lifecycle::Lifecycle,
    load::RequestLoad,
    rate_limit::RateLimiter,
};

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    secrets: Secrets,
    store: Store,
    redis: Option<Arc<Redis>>,
    limiter: Arc<RateLimiter>,
    lifecycle: Lifecycle,
    catalogue: Arc<Catalogue>,
    accounts: Arc<Accounts>,
    flags: Arc<Flags>,
    family: Arc<Family>,
    ingest: Arc<Ingest>,
    request_load: Arc<RequestLoad>,
}

impl AppState {
    pub fn new(
        config: Config,
        secrets: Secrets,
        store: Store,
        redis: Option<Arc<Redis>>,
        limiter: Arc<RateLimiter>,
        accounts: Arc<Accounts>,
    ) -> anyhow::Result<AppState> {
        let catalogue = Arc::new(Catalogue::new(store.clone(), &config, &secrets, redis.clone()));
        let family =
            Arc::new(Family::new(&config, &secrets, store.clone(), &accounts, Arc::clone(&catalogue))?);
        let lifecycle = Lifecycle::default();
        let flags = Arc::new(Flags::new(store.clone(), &config.flags));
        let request_load = Arc::new(RequestLoad::default());
        let ingest = Arc::new(
            Ingest::new(
                &config.ingest,
                store.clone(),
                Some(Arc::clone(&catalogue)),
                lifecycle.shutdown_token(),
            )?
            .yielding_to(Arc::clone(&request_load)),
        );
        Ok(AppState {
            inner: Arc::new(Inner {
                config,
                secrets,
                store,
                redis,
                limiter,
                lifecycle,
                catalogue,
                accounts,
                flags,
                family,
                ingest,
                request_load,
            }),
        })
    }

    /// Family safety: members, checks, scans, watched products, alerts.
    pub fn family(&self) -> &Arc<Family> {
        &self.inner.family
    }

    /// Requests' time in flight, which pulls give way to.
    pub fn request_load(&self) -> &Arc<RequestLoad> {
        &self.inner.request_load
    }

    /// Pulls of the agencies' feeds (scheduled and triggered).
    pub fn ingest(&self) -> &Arc<Ingest> {
        &self.inner.ingest
    }

    pub fn accounts(&self) -> &Arc<Accounts> {
        &self.inner.accounts
    }

    /// Feature flags: config defaults with admins' overrides.
    pub fn flags(&self) -> &Arc<Flags> {
        &self.inner.flags
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn redis(&self) -> Option<&Redis> {
        self.inner.redis.as_deref()
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    pub fn lifecycle(&self) -> &Lifecycle {
        &self.inner.lifecycle
    }

    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.inner.catalogue
    }
}
