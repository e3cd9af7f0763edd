//! `[family]`: limits and windows of the family features.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FamilyConfig {
    /// Family members per account (deleted ones count until purged).
    pub max_members: i64,
    /// Days a deleted member can be restored before the purge removes it.
    pub restore_window_days: i64,
    /// How often the purge of deleted members and old jobs runs.
    pub purge_interval_secs: u64,
    /// Watched products per account.
    pub max_watched_products: i64,
    /// Scan-history entries kept per account (oldest dropped beyond).
    pub scan_history_keep: i64,
    /// Webhooks per account.
    pub max_webhooks: i64,
    /// Allow webhook URLs on loopback or private networks, and plain
    /// `http://` (tests and lab setups only: otherwise a webhook could
    /// reach the operator's internal services).
    pub webhook_allow_private: bool,
    /// Time limit of one webhook delivery.
    pub webhook_timeout_ms: u64,
    /// Largest photo accepted by `POST /api/v1/scan/image`.
    pub scan_max_bytes: usize,
    /// Largest photo in pixels (checked from the header, before decoding).
    pub scan_max_pixels: u64,
    /// Photos decoded at once; more wait (bounded by `scan_queue`).
    pub scan_concurrency: usize,
    /// Photos waiting for a decoder before new ones are refused with 503.
    pub scan_queue: usize,
    /// Time limit of one photo decode.
    pub scan_timeout_ms: u64,
    /// Barcodes per `POST /api/v1/search/bulk`.
    pub bulk_max_barcodes: usize,
}

impl Default for FamilyConfig {
    fn default() -> Self {
        FamilyConfig {
            max_members: 20,
            restore_window_days: 30,
            purge_interval_secs: 3_600,
            max_watched_products: 500,
            scan_history_keep: 1_000,
            max_webhooks: 5,
            webhook_allow_private: false,
            webhook_timeout_ms: 5_000,
            scan_max_bytes: 8 * 1024 * 1024,
            scan_max_pixels: 40_000_000,
            scan_concurrency: 2,
            scan_queue: 64,
            scan_timeout_ms: 10_000,
            bulk_max_barcodes: 50,
        }
    }
}

impl FamilyConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("family.max_members", self.max_members),
            ("family.restore_window_days", self.restore_window_days),
            ("family.max_watched_products", self.max_watched_products),
            ("family.scan_history_keep", self.scan_history_keep),
            ("family.max_webhooks", self.max_webhooks),
        ];
        for (key, value) in positive {
            if value <= 0 {
                return Err(ConfigError::new(key, "must be greater than 0"));
            }
        }
        for (key, value) in [
            ("family.purge_interval_secs", self.purge_interval_secs),
            ("family.webhook_timeout_ms", self.webhook_timeout_ms),
            ("family.scan_timeout_ms", self.scan_timeout_ms),
            ("family.scan_max_pixels", self.scan_max_pixels),
        ] {
            if value == 0 {
                return Err(ConfigError::new(key, "must be greater than 0"));
            }
        }
        if self.scan_concurrency == 0 {
            return Err(ConfigError::new("family.scan_concurrency", "must be greater than 0"));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.scan_max_bytes) {
            return Err(ConfigError::new("family.scan_max_bytes", "must be between 1024 and 67108864"));
        }
        if !(1..=500).contains(&self.bulk_max_barcodes) {
            return Err(ConfigError::new("family.bulk_max_barcodes", "must be between 1 and 500"));
        }
        Ok(())
    }
}
