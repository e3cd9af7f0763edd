//! Feature flags: defined with their defaults in `[flags]`, overridden at
//! runtime by admins (`/api/v1/admin/flags`), persisted in the database.
//! Every instance keeps the overrides in memory and re-reads them every
//! `flags.refresh_ms`, so a change made on one instance is seen on all of
//! them within that time; the instance that made it sees it at once.
//!
//! Built-in flags (their defaults are in [`BUILT_IN`]):
//! - `auth.registration_open` (on): `POST /api/v1/auth/register` answers 403
//!   "registration is closed" while it is off.

mod bucket;
mod config;

use std::{
    collections::BTreeMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use babyshield_storage::{StorageError, Store, flags::FlagOverride};
use serde::Serialize;

pub use bucket::bucket;
pub use config::{FlagValue, FlagsConfig};

use crate::lifecycle::Lifecycle;

/// Whether new accounts may be created.
pub const REGISTRATION_OPEN: &str = "auth.registration_open";

/// Flags the code consults, with the defaults used when the configuration
/// does not mention them.
pub const BUILT_IN: &[(&str, FlagValue)] = &[(REGISTRATION_OPEN, FlagValue::Enabled(true))];

/// An admin's override of a flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Override {
    pub value: FlagValue,
    pub updated_at: String,
    pub updated_by: String,
}

/// A flag as the admin page shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagView {
    pub name: String,
    pub default: FlagValue,
    #[serde(rename = "override")]
    pub overridden: Option<Override>,
    pub effective: FlagValue,
}

pub struct Flags {
    store: Store,
    defaults: BTreeMap<String, FlagValue>,
    overrides: RwLock<BTreeMap<String, Override>>,
    refresh_every: Duration,
    /// Last refresh succeeded; failures are logged once, not every tick.
    healthy: AtomicBool,
}

impl Flags {
    pub fn new(store: Store, config: &FlagsConfig) -> Flags {
        Flags {
            store,
            defaults: config.flags.clone(),
            overrides: RwLock::default(),
            refresh_every: Duration::from_millis(config.refresh_ms),
            healthy: AtomicBool::new(true),
        }
    }

    /// The value in force: the override, else the default; `None` for a
    /// flag the configuration does not define.
    pub fn value(&self, name: &str) -> Option<FlagValue> {
        let overridden = self.read_overrides().get(name).map(|o| o.value);
        overridden.or_else(|| self.defaults.get(name).copied())
    }

    /// Whether the capability behind `name` is on for `subject` (a user id,
    /// or the client address when anonymous). An unknown flag is off.
    pub fn is_enabled(&self, name: &str, subject: &str) -> bool {
        match self.value(name) {
            Some(FlagValue::Enabled(on)) => on,
            Some(FlagValue::Percent(percent)) => bucket(name, subject) < percent,
            None => {
                tracing::debug!(flag = name, "unknown feature flag consulted; treated as off");
                false
            }
        }
    }

    pub fn list(&self) -> Vec<FlagView> {
        self.defaults.keys().filter_map(|name| self.view(name)).collect()
    }

    pub fn view(&self, name: &str) -> Option<FlagView> {
        let default = *self.defaults.get(name)?;
        let overridden = self.read_overrides().get(name).cloned();
        let effective = overridden.as_ref().map(|o| o.value).unwrap_or(default);
        Some(FlagView { name: name.to_string(), default, overridden, effective })
    }

    /// Stores an override (`None` removes it) and applies it here at once.
    pub async fn set(&self, name: &str, value: Option<FlagValue>, by: &str) -> Result<(), StorageError> {
        match value {
            None => {
                self.store.clear_flag_override(name).await?;
            }
            Some(FlagValue::Enabled(on)) => self.store.set_flag_override(name, Some(on), None, by).await?,
            Some(FlagValue::Percent(p)) => {
                self.store.set_flag_override(name, None, Some(i32::from(p)), by).await?
            }
        }
        self.refresh().await
    }

    /// Re-reads every override from the database.
    pub async fn refresh(&self) -> Result<(), StorageError> {
        let rows = self.store.flag_overrides().await?;
        let fresh: BTreeMap<String, Override> = rows.into_iter().filter_map(parse_override).collect();
        *self.overrides.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    /// Refreshes every `flags.refresh_ms` until shutdown. While the database
    /// is unreachable the last values read stay in force.
    pub fn spawn_refresher(self: &Arc<Self>, lifecycle: &Lifecycle) {
        let flags = Arc::clone(self);
        let shutdown = lifecycle.shutdown_token();
        lifecycle.spawn(async move {
            let mut tick = tokio::time::interval(flags.refresh_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => match flags.refresh().await {
                        Ok(()) => {
                            if !flags.healthy.swap(true, Ordering::Relaxed) {
                                tracing::info!("feature flag overrides readable again");
                            }
                        }
                        Err(e) => {
                            if flags.healthy.swap(false, Ordering::Relaxed) {
                                tracing::warn!(error = %e, "feature flag overrides not refreshed; keeping the last values");
                            }
                        }
                    },
                }
            }
        });
    }

    fn read_overrides(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Override>> {
        self.overrides.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn parse_override(row: FlagOverride) -> Option<(String, Override)> {
    let value = match (row.enabled, row.percent) {
        (Some(on), None) => FlagValue::Enabled(on),
        (None, Some(p)) => FlagValue::Percent(u8::try_from(p).ok().filter(|p| *p <= 100)?),
        _ => {
            tracing::warn!(flag = %row.name, "malformed feature flag override ignored");
            return None;
        }
    };
    Some((row.name, Override { value, updated_at: row.updated_at, updated_by: row.updated_by }))
}
