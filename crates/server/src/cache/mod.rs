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
//!
//! Stampedes: concurrent misses of one key in an instance share one load
//! (the first caller loads, the others wait for its answer; if it fails or
//! its request is dropped, each waiter loads for itself). An entry is fresh
//! for 85-100 % of its class's TTL, chosen at random, so keys filled together
//! (after a restart or an import) do not all age at once; after that it
//! stays stale for half a TTL: the first request to see it stale reloads it,
//! and meanwhile every other request for the key gets the stale answer at
//! once instead of queueing behind the reload (or behind a database that is
//! slow to answer). A stale entry also answers when its reload fails. Stale
//! never crosses a generation: an import that changes the catalogue changes
//! every key.

mod config;
mod http;
pub mod key;
mod local;
mod shared;

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::body::Bytes;
use serde::Serialize;
use tokio::sync::watch;

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
    coalesced: AtomicU64,
    stale: AtomicU64,
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
            coalesced: AtomicU64::new(0),
            stale: AtomicU64::new(0),
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

/// An entry lives between this share of its class's TTL and all of it.
const MIN_TTL_SHARE: f64 = 0.85;

/// `ttl` shortened by a random 0-15 %.
pub(crate) fn jittered(ttl: Duration) -> Duration {
    ttl.mul_f64(rand::random_range(MIN_TTL_SHARE..=1.0))
}

/// Loads under way, by full key: each waiter watches for the answer.
type InFlight = Mutex<HashMap<String, watch::Receiver<Option<Entry>>>>;

/// The loader's claim on a key; dropping it (answered, failed or cancelled)
/// lets the key go, and waiters that saw no answer load for themselves.
struct Claim<'a> {
    in_flight: &'a InFlight,
    key: String,
    answer: watch::Sender<Option<Entry>>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut loads) = self.in_flight.lock() {
            loads.remove(&self.key);
        }
    }
}

enum Turn<'a> {
    Load(Claim<'a>),
    Wait(watch::Receiver<Option<Entry>>),
}

fn take_turn<'a>(in_flight: &'a InFlight, key: &str) -> Turn<'a> {
    // A poisoned map (a panic while it was held) only costs coalescing.
    let mut loads = in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(waiting) = loads.get(key) {
        return Turn::Wait(waiting.clone());
    }
    let (answer, waiting) = watch::channel(None);
    loads.insert(key.to_owned(), waiting);
    Turn::Load(Claim { in_flight, key: key.to_owned(), answer })
}

pub struct ResponseCache {
    config: CacheConfig,
    local: LocalTier,
    shared: Option<SharedTier>,
    generation: AtomicI64,
    counters: [ClassCounters; CacheClass::COUNT],
    in_flight: InFlight,
}

impl ResponseCache {
    pub fn new(config: &CacheConfig, redis: Option<Arc<Redis>>) -> ResponseCache {
        ResponseCache {
            config: config.clone(),
            local: LocalTier::new(config),
            shared: redis.map(SharedTier::new),
            generation: AtomicI64::new(UNKNOWN_GENERATION),
            counters: CacheClass::ALL.map(ClassCounters::new),
            in_flight: Mutex::new(HashMap::new()),
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
            // Old keys are asked for again only by the searches answered
            // while the search index catches up with the new generation
            // (`get_or_load_as_of`): free their memory now.
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
        self.get_or_load_as_of(class, key, None, load).await
    }

    /// [`ResponseCache::get_or_load`] for answers that reflect the catalogue
    /// as of `answers_as_of` when that is older than the generation read
    /// from the database: the in-memory search index applies a committed
    /// write a moment after the database has it, and a search answered in
    /// between would otherwise be kept under the new generation until the
    /// next one. Keyed by the older generation, it is replaced as soon as
    /// the index catches up.
    pub async fn get_or_load_as_of<T, F>(
        &self,
        class: CacheClass,
        key: &str,
        answers_as_of: Option<i64>,
        load: F,
    ) -> Result<Entry, ApiError>
    where
        T: Serialize,
        F: Future<Output = Result<T, ApiError>>,
    {
        let generation = answers_as_of.map_or(self.generation(), |as_of| as_of.min(self.generation()));
        if !self.config.enabled || generation == UNKNOWN_GENERATION {
            return serialize(class, &load.await?);
        }
        let counters = &self.counters[class.index()];
        let full_key = format!("{}:{}:g{generation}:{key}", self.config.key_prefix, class.as_str());
        let mut stale = None;
        if let Some(found) = self.local.get(&full_key) {
            if found.fresh {
                counters.hit();
                return Ok(found.entry);
            }
            stale = Some(found.entry);
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
        let claim = match take_turn(&self.in_flight, &full_key) {
            Turn::Load(claim) => Some(claim),
            Turn::Wait(mut waiting) => {
                if let Some(entry) = stale {
                    // Another request is reloading it: answer at once.
                    counters.hit();
                    counters.stale.fetch_add(1, Ordering::Relaxed);
                    return Ok(entry);
                }
                // Err: the loader failed or was dropped without an answer.
                if let Ok(answer) = waiting.wait_for(Option::is_some).await
                    && let Some(entry) = answer.clone()
                {
                    counters.hit();
                    counters.coalesced.fetch_add(1, Ordering::Relaxed);
                    return Ok(entry);
                }
                None
            }
        };
        counters.miss();
        let loaded = match load.await {
            Ok(loaded) => loaded,
            Err(e) => match stale {
                Some(entry) => {
                    tracing::warn!(error = %e, cache.class = class.as_str(), "cache reload failed; answering the stale entry");
                    counters.stale.fetch_add(1, Ordering::Relaxed);
                    return Ok(entry);
                }
                None => return Err(e),
            },
        };
        let entry = serialize(class, &loaded)?;
        self.local.insert(full_key.clone(), entry.clone());
        if let Some(claim) = claim {
            // Waiters are answered before the shared tier's round trip.
            claim.answer.send_replace(Some(entry.clone()));
            drop(claim);
        }
        if let Some(shared) = &self.shared {
            let ttl = jittered(Duration::from_secs(self.config.ttl_secs(class)));
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
                    coalesced: counters.coalesced.load(Ordering::Relaxed),
                    stale: counters.stale.load(Ordering::Relaxed),
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
    /// Hits answered by another request's load of the same key, which they
    /// waited for; included in `hits`.
    pub coalesced: u64,
    /// Stale entries answered while another request reloaded them
    /// (included in `hits`) or because their reload failed (counted as
    /// misses).
    pub stale: u64,
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

    /// A load that counts its runs and answers when `release` fires.
    fn gated_load(
        runs: &Arc<AtomicU64>,
        release: &watch::Receiver<bool>,
        value: &str,
    ) -> impl Future<Output = Result<String, ApiError>> + use<> {
        let (runs, mut release, value) = (Arc::clone(runs), release.clone(), value.to_string());
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            release.wait_for(|open| *open).await.map_err(ApiError::internal)?;
            Ok(value)
        }
    }

    /// Spawns a search lookup of "crib" whose load, if it runs, is `gated_load`.
    fn spawn_gated_lookup(
        cache: &Arc<ResponseCache>,
        runs: &Arc<AtomicU64>,
        release: &watch::Receiver<bool>,
        value: &str,
    ) -> tokio::task::JoinHandle<Result<Entry, ApiError>> {
        let (cache, load) = (Arc::clone(cache), gated_load(runs, release, value));
        tokio::spawn(async move { cache.get_or_load(CacheClass::Search, "crib", load).await })
    }

    /// Returns once some gated load has begun.
    async fn until_a_load_runs(runs: &AtomicU64) {
        while runs.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_share_one_load() {
        let cache = Arc::new(cache());
        let runs = Arc::new(AtomicU64::new(0));
        let (open, release) = watch::channel(false);
        let lookups: Vec<_> =
            (0..20).map(|i| spawn_gated_lookup(&cache, &runs, &release, &format!("answer {i}"))).collect();
        // On this single-threaded runtime each yield polls every spawned
        // lookup once: the first starts the load, the others wait for it.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        open.send_replace(true);
        let mut answers = Vec::new();
        for lookup in lookups {
            answers.push(lookup.await.unwrap().unwrap().data);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one load for twenty concurrent misses");
        assert!(answers.iter().all(|a| *a == answers[0]));
        let search = &cache.report().classes["search"];
        assert_eq!((search.misses, search.hits, search.coalesced), (1, 19, 19));
        assert!(cache.in_flight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn waiters_load_for_themselves_when_the_first_load_is_dropped() {
        let cache = Arc::new(cache());
        let runs = Arc::new(AtomicU64::new(0));
        let (_never, stuck) = watch::channel(false);
        let first = spawn_gated_lookup(&cache, &runs, &stuck, "never");
        until_a_load_runs(&runs).await;
        let second = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.get_or_load(CacheClass::Search, "crib", async { Ok("second") }).await }
        });
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!second.is_finished(), "the second lookup waits for the first load");
        // The first request goes away (its client disconnected).
        first.abort();
        let answer = second.await.unwrap().unwrap();
        assert_eq!(&answer.data[..], b"\"second\"");
        assert!(cache.in_flight.lock().unwrap().is_empty());
        // And the answer it loaded is cached.
        let again = cache.get_or_load(CacheClass::Search, "crib", async { Ok("third") }).await.unwrap();
        assert_eq!(again.data, answer.data);
    }

    /// A cache whose search entries are fresh for at most 2 s (1.7 s at the
    /// least), then stale for 1 s more.
    fn short_lived() -> Arc<ResponseCache> {
        let cache = ResponseCache::new(&CacheConfig { search_ttl_secs: 2, ..CacheConfig::default() }, None);
        cache.observe_generation(3);
        Arc::new(cache)
    }

    async fn wait_until_stale(cache: &ResponseCache, key: &str) {
        let full_key = format!("babyshield:cache:search:g3:{key}");
        while cache.local.get(&full_key).is_some_and(|found| found.fresh) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(cache.local.get(&full_key).is_some(), "the entry should be stale, not gone");
    }

    #[tokio::test]
    async fn a_stale_entry_answers_at_once_while_one_request_reloads_it() {
        let cache = short_lived();
        cache.get_or_load(CacheClass::Search, "crib", async { Ok("v1") }).await.unwrap();
        wait_until_stale(&cache, "crib").await;

        let runs = Arc::new(AtomicU64::new(0));
        let (open, release) = watch::channel(false);
        let reload = spawn_gated_lookup(&cache, &runs, &release, "v2");
        until_a_load_runs(&runs).await;
        // While it reloads, others get the stale answer without loading.
        for _ in 0..5 {
            let answer = cache
                .get_or_load(CacheClass::Search, "crib", async {
                    Err::<String, _>(ApiError::internal("must not load"))
                })
                .await
                .unwrap();
            assert_eq!(&answer.data[..], b"\"v1\"");
        }
        open.send_replace(true);
        assert_eq!(&reload.await.unwrap().unwrap().data[..], b"\"v2\"");
        let fresh = cache.get_or_load(CacheClass::Search, "crib", async { Ok("v3") }).await.unwrap();
        assert_eq!(&fresh.data[..], b"\"v2\"");
        let search = &cache.report().classes["search"];
        assert_eq!((search.stale, search.misses, runs.load(Ordering::SeqCst)), (5, 2, 1));
    }

    #[tokio::test]
    async fn a_stale_entry_answers_when_its_reload_fails_and_a_missing_one_does_not() {
        let cache = short_lived();
        cache.get_or_load(CacheClass::Search, "crib", async { Ok("v1") }).await.unwrap();
        wait_until_stale(&cache, "crib").await;
        let answer = cache
            .get_or_load(CacheClass::Search, "crib", async {
                Err::<String, _>(ApiError::internal("database down"))
            })
            .await
            .unwrap();
        assert_eq!(&answer.data[..], b"\"v1\"");
        let missing = cache
            .get_or_load(CacheClass::Search, "cot", async {
                Err::<String, _>(ApiError::internal("database down"))
            })
            .await;
        assert!(missing.is_err());
    }

    #[test]
    fn entries_live_between_85_and_100_percent_of_their_ttl_at_random() {
        let ttl = Duration::from_secs(60);
        let lives: Vec<Duration> = (0..200).map(|_| jittered(ttl)).collect();
        assert!(lives.iter().all(|l| *l >= ttl.mul_f64(MIN_TTL_SHARE) && *l <= ttl));
        let spread = lives.iter().max().unwrap().saturating_sub(*lives.iter().min().unwrap());
        assert!(
            spread > Duration::from_secs(5),
            "200 draws over 9 s should spread more than 5 s: {spread:?}"
        );
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
