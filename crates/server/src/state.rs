//! `AppState`: everything a handler needs, cheap to clone.

use std::sync::Arc;

use babyshield_storage::Store;

use crate::{
    catalogue::Catalogue,
    config::{Config, Secrets},
    dependencies::Redis,
    lifecycle::Lifecycle,
};

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    secrets: Secrets,
    store: Store,
    redis: Option<Redis>,
    lifecycle: Lifecycle,
    catalogue: Arc<Catalogue>,
}

impl AppState {
    pub fn new(config: Config, secrets: Secrets, store: Store, redis: Option<Redis>) -> AppState {
        let catalogue = Arc::new(Catalogue::new(store.clone(), &config, &secrets));
        AppState {
            inner: Arc::new(Inner {
                config,
                secrets,
                store,
                redis,
                lifecycle: Lifecycle::default(),
                catalogue,
            }),
        }
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
        self.inner.redis.as_ref()
    }

    pub fn lifecycle(&self) -> &Lifecycle {
        &self.inner.lifecycle
    }

    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.inner.catalogue
    }
}
