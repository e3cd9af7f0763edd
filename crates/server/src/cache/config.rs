use serde::{Deserialize, Serialize};

use super::CacheClass;
use crate::config::ConfigError;

/// `[cache]`: the response cache for public catalogue reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Off: every request reads the database (ETags are still sent).
    pub enabled: bool,
    /// Memory the in-process tier may hold, keys and bodies counted, shared
    /// by all classes (the hot class takes what it needs).
    pub local_max_bytes: u64,
    /// How often each instance reads the catalogue generation, which bounds
    /// how long it can serve answers from before an import made by another
    /// process (`babyshield import`, another instance).
    pub generation_poll_ms: u64,
    /// Prefix of the keys in Redis. Instances that share a database must
    /// share it; deployments (or test runs) sharing one Redis with different
    /// databases must not. Change it in a release that changes the shape of
    /// a cached answer, so old and new instances do not serve each other's.
    pub key_prefix: String,
    /// Time to live per class, in seconds.
    pub agencies_ttl_secs: u64,
    pub stats_ttl_secs: u64,
    pub detail_ttl_secs: u64,
    pub barcode_ttl_secs: u64,
    pub search_ttl_secs: u64,
    pub list_ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            local_max_bytes: 64 * 1024 * 1024,
            generation_poll_ms: 500,
            key_prefix: "babyshield:cache".into(),
            agencies_ttl_secs: 3600,
            stats_ttl_secs: 60,
            detail_ttl_secs: 300,
            barcode_ttl_secs: 300,
            search_ttl_secs: 60,
            list_ttl_secs: 60,
        }
    }
}

/// A day: longer TTLs would only hide a forgotten invalidation.
const MAX_TTL_SECS: u64 = 24 * 3600;

impl CacheConfig {
    pub fn ttl_secs(&self, class: CacheClass) -> u64 {
        match class {
            CacheClass::Agencies => self.agencies_ttl_secs,
            CacheClass::Stats => self.stats_ttl_secs,
            CacheClass::Detail => self.detail_ttl_secs,
            CacheClass::Barcode => self.barcode_ttl_secs,
            CacheClass::Search => self.search_ttl_secs,
            CacheClass::List => self.list_ttl_secs,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1024 * 1024..=64 * 1024 * 1024 * 1024).contains(&self.local_max_bytes) {
            return Err(ConfigError::new("cache.local_max_bytes", "must be between 1 MiB and 64 GiB"));
        }
        if !(50..=60_000).contains(&self.generation_poll_ms) {
            return Err(ConfigError::new("cache.generation_poll_ms", "must be between 50 and 60000"));
        }
        let prefix_ok = !self.key_prefix.is_empty()
            && self.key_prefix.len() <= 64
            && self.key_prefix.bytes().all(|b| b.is_ascii_graphic() && b != b'*');
        if !prefix_ok {
            return Err(ConfigError::new(
                "cache.key_prefix",
                "must be 1 to 64 visible ASCII characters without '*'",
            ));
        }
        for class in CacheClass::ALL {
            if !(1..=MAX_TTL_SECS).contains(&self.ttl_secs(class)) {
                return Err(ConfigError::new(
                    format!("cache.{}_ttl_secs", class.as_str()),
                    format!("must be between 1 and {MAX_TTL_SECS}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_documented_ttls() {
        let config = CacheConfig::default();
        config.validate().unwrap();
        let ttls: Vec<u64> = CacheClass::ALL.iter().map(|c| config.ttl_secs(*c)).collect();
        assert_eq!(ttls, vec![3600, 60, 300, 300, 60, 60]);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let zero_ttl = CacheConfig { barcode_ttl_secs: 0, ..CacheConfig::default() };
        assert_eq!(zero_ttl.validate().unwrap_err().key, "cache.barcode_ttl_secs");
        let tiny = CacheConfig { local_max_bytes: 10, ..CacheConfig::default() };
        assert_eq!(tiny.validate().unwrap_err().key, "cache.local_max_bytes");
        let poll = CacheConfig { generation_poll_ms: 0, ..CacheConfig::default() };
        assert_eq!(poll.validate().unwrap_err().key, "cache.generation_poll_ms");
        let prefix = CacheConfig { key_prefix: "has space".into(), ..CacheConfig::default() };
        assert_eq!(prefix.validate().unwrap_err().key, "cache.key_prefix");
    }
}
