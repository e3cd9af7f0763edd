//! Family safety: children's profiles, safety checks, barcode photos,
//! watched products, recall alerts, webhooks, scan history and the data
//! export. The most sensitive data we hold: every personal value is sealed
//! with the account data keys (row id bound as associated data), every
//! query is scoped by the caller's user id (another user's id is a 404).

mod alerts;
mod config;
mod export;
mod history;
mod members;
mod paging;
mod safety;
mod scan;
mod watch;
mod webhooks;

use std::sync::Arc;

use babyshield_security::{BlindIndex, DataKeyRing};
use babyshield_storage::{Store, family::SealedColumn};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    accounts::Accounts,
    catalogue::Catalogue,
    config::{Config, Secrets},
    error::ApiError,
};

pub use alerts::{Notification, NotificationPage};
pub use config::FamilyConfig;
pub use export::UserDataExport;
pub use history::{ScanEntry, ScanPage};
pub use members::{Member, MemberInput, MemberPage};
pub use paging::{Page, PageRequest};
pub use safety::{
    AgeWarningOut, AllergenWarning, BulkItem, MatchedRecall, ProductInput, SafetyCheckRequest, SafetyReport,
};
pub use scan::{ImageScan, ScanReport};
pub use watch::{WatchInput, WatchPage, WatchedProduct};
pub(crate) use webhooks::DeliveryError;
pub use webhooks::{Webhook, WebhookCreated, WebhookInput, signature as webhook_signature};

pub struct Family {
    store: Store,
    config: FamilyConfig,
    fields: Arc<DataKeyRing>,
    index: BlindIndex,
    catalogue: Arc<Catalogue>,
    scanner: scan::Scanner,
    webhooks: webhooks::Delivery,
}

impl Family {
    pub fn new(
        config: &Config,
        secrets: &Secrets,
        store: Store,
        accounts: &Accounts,
        catalogue: Arc<Catalogue>,
    ) -> anyhow::Result<Family> {
        let index = BlindIndex::new(secrets.blind_index_key.expose().as_bytes())
            .map_err(|e| crate::config::ConfigError::new("secrets.blind_index_key", e.to_string()))?;
        Ok(Family {
            store,
            config: config.family.clone(),
            fields: accounts.field_keys(),
            index,
            catalogue,
            scanner: scan::Scanner::new(&config.family),
            webhooks: webhooks::Delivery::new(&config.family)?,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &FamilyConfig {
        &self.config
    }

    /// Seals a value as JSON, bound to `aad` (table/row/field).
    fn seal<T: Serialize>(&self, value: &T, aad: &str) -> Result<String, ApiError> {
        let json = serde_json::to_string(value).map_err(ApiError::internal)?;
        Ok(self.fields.seal(&json, aad.as_bytes()))
    }

    /// Opens a value sealed by [`seal`](Self::seal) with the same `aad`.
    fn open<T: DeserializeOwned>(&self, sealed: &str, aad: &str) -> Result<T, ApiError> {
        let json = self.fields.open(sealed, aad.as_bytes()).map_err(ApiError::internal)?;
        serde_json::from_str(&json).map_err(ApiError::internal)
    }

    /// A keyed blind index of a match key, separated by purpose so equal
    /// values of different kinds (or an email) never share an index value.
    fn blind(&self, purpose: &str, value: &str) -> String {
        self.index.compute(&format!("watch/{purpose}/{value}"))
    }
}

/// The associated data of a sealed family value: table, row and field, so
/// a value copied to another row or column does not open.
fn aad(column: SealedColumn, id: &str) -> String {
    format!("{}/{id}/{}", column.table(), column.field())
}

/// Re-seals every family value still sealed with an older data key (part
/// of `babyshield keys rotate`); how many values were re-sealed.
pub(crate) async fn reseal_family_data(store: &Store, fields: &DataKeyRing) -> Result<u64, ApiError> {
    let current = fields.current_kid().to_string();
    let mut resealed = 0;
    for column in SealedColumn::ALL {
        loop {
            let rows = store.family_sealed_with_other_key(column, &current, 500).await?;
            if rows.is_empty() {
                break;
            }
            let mut progressed = false;
            for (id, old) in rows {
                let aad = aad(column, &id);
                let plain = fields.open(&old, aad.as_bytes()).map_err(ApiError::internal)?;
                if store.reseal_family(column, &id, &old, &fields.seal(&plain, aad.as_bytes())).await? {
                    resealed += 1;
                    progressed = true;
                }
            }
            if !progressed {
                // Every row changed under us; the next pass reads them again.
                tokio::task::yield_now().await;
            }
        }
    }
    Ok(resealed)
}

/// A new row id: UUIDv7, so id order is creation order (lists page on it).
fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Checks a free-text field: trimmed, non-empty, at most `max` characters,
/// no control characters.
fn text_field(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => text_field(field, v, max).map(Some),
        None => Ok(None),
    }
}
