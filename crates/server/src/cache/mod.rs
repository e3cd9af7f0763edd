//! Cache-aside for the public catalogue reads: agencies, statistics, recall
//! detail, barcode lookups, the recall list and search pages.
//!
//! What is cached is the serialized `data` of the envelope, so a hit is a
//! map lookup and a reference-counted clone; the envelope (whose `traceId`
//! differs per request) is written around it per response.
//!
//! Two tiers: in-process (moka, bounded by bytes) and, when `redis.url` is
//! set, Redis shared by every instance. Redis failures make the shared tier
//! act as a miss (`cache_redis_fallback_total`), never an error.
//!
//! Invalidation: every key carries the catalogue generation, which the
//! database bumps in the same transaction as every import that changes a
//! recall. An instance reads it after each import it runs itself, and polls
//! it every `cache.generation_poll_ms`, so an import by another process is
//! seen by every instance within one poll interval; until then an instance
//! may serve answers from before that import.
//! Keys: `{cache.key_prefix}:{class}:g{generation}:{key}`.

mod config;
mod http;
pub mod key;
mod local;
mod shared;

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::body::Bytes;
use serde::Serialize;

pub use config::CacheConfig;
pub use http::{CachedJson, IfNoneMatch, no_store_by_default};
pub use local::Entry;

use crate::{dependencies::Redis, error::ApiError, resilience::BreakerState};
use local::LocalTier;
use shared::SharedTier;

/// What is cached, each with its own TTL and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheClass {
    Agencies,
    Stats,
    Detail,
    Barcode,
    Search,
    List,
}

impl CacheClass {
    pub const COUNT: usize = 6;
    pub const ALL: [CacheClass; CacheClass::COUNT] = [
        CacheClass::Agencies,
        CacheClass::Stats,
        CacheClass::Detail,
        CacheClass::Barcode,
        CacheClass::Search,
        CacheClass::List,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CacheClass::Agencies => "agencies",
            CacheClass::Stats => "stats",
            CacheClass::Detail => "detail",
            CacheClass::Barcode => "barcode",
            CacheClass::Search => "search",
            CacheClass::List => "list",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-class counters: atomics for the admin page, metric handles resolved
/// once so the hit path does no registry lookup.
struct ClassCounters {
    hits: AtomicU64,
    redis_hits: AtomicU64,
    misses: AtomicU64,
    hit_metric: metrics::Counter,
    miss_metric: metrics::Counter,
}

impl ClassCounters {
    fn new(class: CacheClass) -> ClassCounters {
        let label = class.as_str();
        ClassCounters {
            hits: AtomicU64::new(0),
            redis_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            hit_metric: metrics::counter!("cache_requests_total", "class" => label, "result" => "hit"),
            miss_metric: metrics::counter!("cache_requests_total", "class" => label, "result" => "miss"),
        }
    }

    fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        self.hit_metric.increment(1);
    }

    fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.miss_metric.increment(1);
    }
}

/// Generation not read yet: nothing is cached until it is.
const UNKNOWN_GENERATION: i64 = -1;

pub struct ResponseCache {
    config: CacheConfig,
    local: LocalTier,
    shared: Option<SharedTier>,
    generation: AtomicI64,
    counters: [ClassCounters; CacheClass::COUNT],
}

impl ResponseCache {
    pub fn new(config: &CacheConfig, redis: Option<Arc<Redis>>) -> ResponseCache {
        ResponseCache {
            config: config.clone(),
            local: LocalTier::new(config),
            shared: redis.map(SharedTier::new),
            generation: AtomicI64::new(UNKNOWN_GENERATION),
            counters: CacheClass::ALL.map(ClassCounters::new),
        }
    }

    pub fn generation(&self) -> i64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.config.generation_poll_ms)
    }

    /// Takes a generation read from the database. Generations only grow, so
    /// a read that raced with a newer one cannot move the cache back.
    pub fn observe_generation(&self, generation: i64) {
        let previous = self.generation.fetch_max(generation, Ordering::AcqRel);
        if generation > previous {
            self.generation_changed(previous, generation);
        }
    }

    /// Takes a generation lower than the current one, after it was read
    /// more than once (a database restored from a backup).
    pub fn reset_generation(&self, generation: i64) {
        let previous = self.generation.swap(generation, Ordering::AcqRel);
        if previous != generation {
            self.generation_changed(previous, generation);
        }
    }

    fn generation_changed(&self, previous: i64, generation: i64) {
        if previous != UNKNOWN_GENERATION {
            // Old keys can never be asked for again: free their memory now.
            self.local.clear();
        }
        tracing::debug!(cache.generation = generation, "catalogue generation changed");
    }

    /// The cached answer for `class`/`key`, or `load`'s, serialized and
    /// stored in both tiers. Errors are returned, never cached.
    pub async fn get_or_load<T, F>(&self, class: CacheClass, key: &str, load: F) -> Result<Entry, ApiError>
    where
        T: Serialize,
        F: Future<Output = Result<T, ApiError>>,
    {
        let generation = self.generation();
        if !self.config.enabled || generation == UNKNOWN_GENERATION {
            return serialize(class, &load.await?);
        }
        let counters = &self.counters[class.index()];
        let full_key = format!("{}:{}:g{generation}:{key}", self.config.key_prefix, class.as_str());
        if let Some(entry) = self.local.get(&full_key) {
            counters.hit();
            return Ok(entry);
        }
        if let Some(shared) = &self.shared
            && let Some(data) = shared.get(&full_key).await
        {
            counters.hit();
            counters.redis_hits.fetch_add(1, Ordering::Relaxed);
            let entry = Entry { class, etag: http::etag_for(&data), data };
            self.local.insert(full_key, entry.clone());
            return Ok(entry);
        }
        counters.miss();
        let entry = serialize(class, &load.await?)?;
        self.local.insert(full_key.clone(), entry.clone());
        if let Some(shared) = &self.shared {
            let ttl = Duration::from_secs(self.config.ttl_secs(class));
            shared.set(&full_key, &entry.data, ttl).await;
        }
        Ok(entry)
    }

    /// What `GET /api/v1/admin/cache` shows.
    pub fn report(&self) -> CacheReport {
        let occupancy = self.local.occupancy();
        let classes = CacheClass::ALL
            .iter()
            .map(|&class| {
                let counters = &self.counters[class.index()];
                let hits = counters.hits.load(Ordering::Relaxed);
                let misses = counters.misses.load(Ordering::Relaxed);
                let lookups = hits + misses;
                let held = occupancy[class.index()];
                let report = ClassReport {
                    hits,
                    misses,
                    hit_ratio: if lookups == 0 { 0.0 } else { hits as f64 / lookups as f64 },
                    redis_hits: counters.redis_hits.load(Ordering::Relaxed),
                    evictions: self.local.evictions(class),
                    entries: held.entries,
                    bytes: held.bytes,
                    ttl_secs: self.config.ttl_secs(class),
                };
                (class.as_str(), report)
            })
            .collect();
        CacheReport {
            enabled: self.config.enabled,
            generation: self.generation(),
            local_max_bytes: self.config.local_max_bytes,
            redis: self.shared.as_ref().map(|s| s.redis().breaker().state()),
            classes,
        }
    }
}

fn serialize<T: Serialize>(class: CacheClass, value: &T) -> Result<Entry, ApiError> {
    let data = Bytes::from(
        serde_json::to_vec(value)
            .map_err(|e| ApiError::Internal(format!("cannot serialize a {} answer: {e}", class.as_str())))?,
    );
    Ok(Entry { class, etag: http::etag_for(&data), data })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassReport {
    pub hits: u64,
    pub misses: u64,
    /// Hits over lookups since start (0 before the first lookup).
    pub hit_ratio: f64,
    /// Hits answered by Redis (after a local miss); included in `hits`.
    pub redis_hits: u64,
    /// Entries the in-process tier dropped for room or age.
    pub evictions: u64,
    pub entries: u64,
    pub bytes: u64,
    pub ttl_secs: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheReport {
    pub enabled: bool,
    /// The catalogue generation in this instance's keys (-1: not read yet).
    pub generation: i64,
    pub local_max_bytes: u64,
    /// The Redis breaker (`closed` means the shared tier is in use); null
    /// without Redis.
    pub redis: Option<BreakerState>,
    pub classes: BTreeMap<&'static str, ClassReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ResponseCache {
        let cache = ResponseCache::new(&CacheConfig::default(), None);
        cache.observe_generation(3);
        cache
    }

    async fn load(cache: &ResponseCache, value: &str) -> Entry {
        let value = value.to_string();
        cache.get_or_load(CacheClass::Detail, "R-1", async move { Ok(value) }).await.unwrap()
    }

    #[tokio::test]
    async fn the_second_lookup_is_a_hit_and_keeps_the_first_answer() {
        let cache = cache();
        let first = load(&cache, "first").await;
        let second = load(&cache, "second").await;
        assert_eq!(second.data, first.data);
        assert_eq!(&second.data[..], b"\"first\"");
        let detail = &cache.report().classes["detail"];
        assert_eq!((detail.hits, detail.misses, detail.entries), (1, 1, 1));
        assert_eq!(detail.hit_ratio, 0.5);
    }

    #[tokio::test]
    async fn a_newer_generation_misses_and_an_older_read_cannot_move_it_back() {
        let cache = cache();
        load(&cache, "old").await;
        cache.observe_generation(4);
        assert_eq!(&load(&cache, "new").await.data[..], b"\"new\"");
        cache.observe_generation(3);
        assert_eq!(cache.generation(), 4);
        assert_eq!(&load(&cache, "newer").await.data[..], b"\"new\"");
        cache.reset_generation(1);
        assert_eq!(&load(&cache, "restored").await.data[..], b"\"restored\"");
    }

    #[tokio::test]
    async fn errors_are_not_cached_and_nothing_is_before_the_generation_is_known() {
        let cache = ResponseCache::new(&CacheConfig::default(), None);
        load(&cache, "a").await;
        assert_eq!(&load(&cache, "b").await.data[..], b"\"b\"", "generation unknown: no caching");
        cache.observe_generation(0);
        let failed = cache
            .get_or_load(CacheClass::Detail, "R-1", async {
                Err::<String, _>(ApiError::NotFound("no".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(&load(&cache, "c").await.data[..], b"\"c\"");
    }
}
