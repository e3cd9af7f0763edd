//! The in-process tier: one moka cache for every class, bounded by the bytes
//! it holds (keys and bodies). One shared budget rather than one per class:
//! memory goes to whatever is hot.
//!
//! An entry is fresh for its class's TTL less a random 0-15 % (`jittered`),
//! then stale for half a TTL more before it is dropped: a stale entry is
//! still answered while one request refreshes it (see `get_or_load`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{body::Bytes, http::HeaderValue};
use moka::{Expiry, notification::RemovalCause, sync::Cache};

use super::{CacheClass, config::CacheConfig};

/// A cached answer: the serialized `data` of the envelope and its ETag.
#[derive(Clone)]
pub struct Entry {
    pub class: CacheClass,
    pub data: Bytes,
    pub etag: HeaderValue,
}

/// Bookkeeping moka does not hold for an entry, so weights stay honest.
const ENTRY_OVERHEAD_BYTES: usize = 96;

fn weight(key: &str, entry: &Entry) -> u32 {
    let bytes = key.len() + entry.data.len() + entry.etag.len() + ENTRY_OVERHEAD_BYTES;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// How long past its freshness an entry may still be answered, as a share
/// of its class's TTL.
const STALE_SHARE: u32 = 2; // TTL / 2

/// What the tier holds: the entry and when it stops being fresh.
#[derive(Clone)]
struct Stored {
    entry: Entry,
    fresh_until: Instant,
}

struct ClassTtl([Duration; CacheClass::COUNT]);

impl ClassTtl {
    fn lifetime(&self, stored: &Stored, now: Instant) -> Duration {
        let ttl = self.0[stored.entry.class.index()];
        stored.fresh_until.saturating_duration_since(now) + ttl / STALE_SHARE
    }
}

impl Expiry<String, Stored> for ClassTtl {
    fn expire_after_create(&self, _: &String, stored: &Stored, now: Instant) -> Option<Duration> {
        Some(self.lifetime(stored, now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        stored: &Stored,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.lifetime(stored, now))
    }
}

/// A lookup's answer: the entry, and whether it is still fresh.
pub struct Found {
    pub entry: Entry,
    pub fresh: bool,
}

/// Entries and bytes one class holds right now.
#[derive(Debug, Default, Clone, Copy)]
pub struct Occupancy {
    pub entries: u64,
    pub bytes: u64,
}

pub struct LocalTier {
    cache: Cache<String, Stored>,
    ttls: [Duration; CacheClass::COUNT],
    evictions: Arc<[AtomicU64; CacheClass::COUNT]>,
}

impl LocalTier {
    pub fn new(config: &CacheConfig) -> LocalTier {
        let evictions: Arc<[AtomicU64; CacheClass::COUNT]> = Arc::new(Default::default());
        let counted = Arc::clone(&evictions);
        let counters =
            CacheClass::ALL.map(|c| metrics::counter!("cache_evictions_total", "class" => c.as_str()));
        let ttls = CacheClass::ALL.map(|c| Duration::from_secs(config.ttl_secs(c)));
        let cache = Cache::builder()
            .max_capacity(config.local_max_bytes)
            .weigher(|key: &String, stored: &Stored| weight(key, &stored.entry))
            .expire_after(ClassTtl(ttls))
            .eviction_listener(move |_key, stored: Stored, cause: RemovalCause| {
                // Expired or pushed out for room; not replaced or invalidated.
                if cause.was_evicted() {
                    counted[stored.entry.class.index()].fetch_add(1, Ordering::Relaxed);
                    counters[stored.entry.class.index()].increment(1);
                }
            })
            .build();
        LocalTier { cache, ttls, evictions }
    }

    pub fn get(&self, key: &str) -> Option<Found> {
        let stored = self.cache.get(key)?;
        Some(Found { fresh: Instant::now() < stored.fresh_until, entry: stored.entry })
    }

    /// Stores `entry`, fresh for its class's TTL less a random 0-15 %.
    pub fn insert(&self, key: String, entry: Entry) {
        let fresh_until = Instant::now() + super::jittered(self.ttls[entry.class.index()]);
        self.cache.insert(key, Stored { entry, fresh_until });
    }

    /// Drops everything (after a generation change: the old keys can never
    /// be asked for again, so their memory is freed at once).
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }

    pub fn evictions(&self, class: CacheClass) -> u64 {
        self.evictions[class.index()].load(Ordering::Relaxed)
    }

    /// Per-class occupancy. Walks every entry: for the admin page, not for
    /// the request path.
    pub fn occupancy(&self) -> [Occupancy; CacheClass::COUNT] {
        self.cache.run_pending_tasks();
        let mut out = [Occupancy::default(); CacheClass::COUNT];
        for (key, stored) in self.cache.iter() {
            let slot = &mut out[stored.entry.class.index()];
            slot.entries += 1;
            slot.bytes += u64::from(weight(&key, &stored.entry));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(class: CacheClass, size: usize) -> Entry {
        Entry { class, data: Bytes::from(vec![b'x'; size]), etag: HeaderValue::from_static("W/\"0\"") }
    }

    #[test]
    fn memory_stays_within_the_byte_budget_and_evictions_are_counted_per_class() {
        let config = CacheConfig { local_max_bytes: 1024 * 1024, ..CacheConfig::default() };
        let tier = LocalTier::new(&config);
        for i in 0..200 {
            tier.insert(format!("detail:{i}"), entry(CacheClass::Detail, 16 * 1024));
        }
        let held = tier.occupancy()[CacheClass::Detail.index()];
        assert!(held.bytes <= 1024 * 1024, "{held:?}");
        assert!(held.entries < 200);
        assert!(tier.evictions(CacheClass::Detail) > 0);
        assert_eq!(tier.evictions(CacheClass::Barcode), 0);
    }

    #[test]
    fn clear_empties_the_tier_without_counting_evictions() {
        let tier = LocalTier::new(&CacheConfig::default());
        tier.insert("barcode:1".into(), entry(CacheClass::Barcode, 10));
        assert!(tier.get("barcode:1").is_some());
        tier.clear();
        assert!(tier.get("barcode:1").is_none());
        assert_eq!(tier.occupancy()[CacheClass::Barcode.index()].entries, 0);
        assert_eq!(tier.evictions(CacheClass::Barcode), 0);
    }
}
