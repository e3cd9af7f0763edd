//! The recall catalogue as the API serves it: search with typo tolerance and
//! signed keyset cursors, listing, lookups. Sits between the HTTP routes and
//! the storage layer.

mod vocabulary;

use std::{sync::Arc, time::Duration};

use babyshield_domain::{
    AdvancedSearch, Gtin, Recall, RecallFilters, RecallItem,
    cursor::{CursorKey, SearchPosition, decode_cursor, encode_cursor},
};
use babyshield_storage::{
    StorageError, Store,
    recalls::{After, RecallQuery, TermGroup},
};
use serde::Serialize;
use tokio::sync::RwLock;

use crate::{
    cache::{CacheClass, Entry, ResponseCache, key},
    config::{Config, Secrets},
    dependencies::Redis,
    error::ApiError,
    lifecycle::Lifecycle,
    resilience::{Bulkhead, Entered},
};

pub use vocabulary::Vocabulary;

/// One page of results in the contract's shape.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultPage {
    pub items: Vec<RecallItem>,
    pub total: i64,
    pub limit: u32,
    pub offset: u32,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

pub struct Catalogue {
    store: Store,
    cursor_key: CursorKey,
    cursor_max_age_secs: i64,
    refresh_every: Duration,
    vocabulary: RwLock<Arc<Vocabulary>>,
    /// Catalogue generation the vocabulary was built from (-1: never built).
    vocabulary_generation: std::sync::atomic::AtomicI64,
    /// Serialized answers of the public reads, keyed by catalogue generation.
    cache: ResponseCache,
    /// Bounds the searches that reach the database (`search.max_concurrent`).
    bulkhead: Bulkhead,
    /// `search.in_memory_index`.
    index_enabled: bool,
}

impl Catalogue {
    pub fn new(store: Store, config: &Config, secrets: &Secrets, redis: Option<Arc<Redis>>) -> Catalogue {
        Catalogue {
            store,
            cursor_key: CursorKey::derive(secrets.cursor_key.expose().as_bytes()),
            cursor_max_age_secs: config.search.cursor_max_age_secs,
            refresh_every: Duration::from_secs(config.search.vocabulary_refresh_secs),
            vocabulary: RwLock::new(Arc::new(Vocabulary::default())),
            vocabulary_generation: (-1).into(),
            cache: ResponseCache::new(&config.cache, redis),
            bulkhead: Bulkhead::new(config.search.max_concurrent, config.search.max_queued),
            index_enabled: config.search.in_memory_index,
        }
    }

    pub fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// What decides which recalls a list page shows, as a search fingerprint
    /// (cursors are bound to it; cache keys use it).
    pub fn list_fingerprint(filters: &RecallFilters, limit: u32) -> [u8; 32] {
        AdvancedSearch {
            text: None,
            keywords: Vec::new(),
            id: None,
            filters: filters.clone(),
            limit,
            offset: 0,
            cursor: None,
        }
        .fingerprint()
    }

    /// A slot of the search bulkhead, or a 503 when it and its queue are full.
    async fn enter(&self) -> Result<Entered<'_>, ApiError> {
        self.bulkhead.enter().await.ok_or_else(|| {
            metrics::counter!("search_shed_total").increment(1);
            ApiError::Unavailable {
                public: "too many searches are running, retry shortly".into(),
                cause: "search bulkhead full".into(),
            }
        })
    }

    /// A slot of the search bulkhead for a query the database will answer;
    /// none for one the in-memory index answers (a short computation and
    /// one read of the page's documents, which cannot pile up statements).
    async fn enter_for(&self, query: &RecallQuery) -> Result<Option<Entered<'_>>, ApiError> {
        if self.store.search_index_answers(query) { Ok(None) } else { self.enter().await.map(Some) }
    }

    /// `POST /api/v1/search/advanced`.
    pub async fn search(&self, request: &AdvancedSearch) -> Result<ResultPage, ApiError> {
        let vocabulary = self.vocabulary.read().await.clone();
        let groups = request
            .terms()
            .into_iter()
            .map(|term| TermGroup { variants: vocabulary.typo_variants(&term), term })
            .collect();
        let query = RecallQuery {
            groups,
            id: request.id.as_ref().map(|id| id.as_str().to_string()),
            filters: request.filters.clone(),
        };
        let _slot = self.enter_for(&query).await?;
        self.page(&query, request.fingerprint(), request.cursor.as_deref(), request.offset, request.limit)
            .await
    }

    /// A search page from the response cache, loaded on a miss. v1 and v2
    /// share the entry of a page (v2 never has an offset).
    pub async fn cached_search(&self, request: &AdvancedSearch) -> Result<Entry, ApiError> {
        let key = key::page(&request.fingerprint(), request.limit, request.offset, request.cursor.as_deref());
        self.cached_from_index(CacheClass::Search, &key, self.search(request)).await
    }

    /// A recall-list page from the response cache, loaded on a miss; shared
    /// by v1 and v2.
    pub async fn cached_list(
        &self,
        filters: RecallFilters,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Entry, ApiError> {
        let key = key::page(&Catalogue::list_fingerprint(&filters, limit), limit, 0, cursor);
        self.cached_from_index(CacheClass::List, &key, self.list(filters, cursor, limit)).await
    }

    /// A page the in-memory search index answers, from the response cache:
    /// kept under the generation the index answers as of, which trails the
    /// database's while a pull's page is applied.
    async fn cached_from_index(
        &self,
        class: CacheClass,
        key: &str,
        load: impl Future<Output = Result<ResultPage, ApiError>>,
    ) -> Result<Entry, ApiError> {
        let as_of = self.store.search_index_generation();
        self.cache.get_or_load_as_of(class, key, as_of, load).await
    }

    /// `GET /api/v1/recalls`: newest first, filtered.
    pub async fn list(
        &self,
        filters: RecallFilters,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ResultPage, ApiError> {
        let fingerprint = Catalogue::list_fingerprint(&filters, limit);
        let query = RecallQuery { groups: Vec::new(), id: None, filters };
        self.page(&query, fingerprint, cursor, 0, limit).await
    }

    async fn page(
        &self,
        query: &RecallQuery,
        fingerprint: [u8; 32],
        cursor: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<ResultPage, ApiError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let after = match cursor {
            Some(token) => {
                if offset != 0 {
                    return Err(ApiError::invalid("offset", "cannot be combined with nextCursor"));
                }
                let position =
                    decode_cursor(&self.cursor_key, token, &fingerprint, now, self.cursor_max_age_secs)
                        .map_err(|e| ApiError::InvalidCursor(e.to_string()))?;
                Some(After { score: position.score, recall_date: position.recall_date, id: position.id })
            }
            None => None,
        };
        let page = self.store.search_recalls(query, after.as_ref(), offset, limit + 1).await?;
        let has_more = page.items.len() > limit as usize;
        let rows = &page.items[..page.items.len().min(limit as usize)];
        let next_cursor = match (has_more, rows.last()) {
            (true, Some(last)) => Some(encode_cursor(
                &self.cursor_key,
                &fingerprint,
                &SearchPosition {
                    score: last.score,
                    recall_date: last.recall_date.clone(),
                    id: last.recall.id.as_str().to_string(),
                },
                now,
            )),
            _ => None,
        };
        let max_score = query.max_score() as f64;
        let with_relevance = !query.groups.is_empty();
        let items = rows
            .iter()
            .map(|row| {
                let mut item = RecallItem::from(&*row.recall);
                if with_relevance {
                    item.relevance_score = Some(((row.score as f64 / max_score) * 1000.0).round() / 1000.0);
                }
                item
            })
            .collect();
        Ok(ResultPage { items, total: page.total, limit, offset, next_cursor, has_more })
    }

    /// The recalls whose text best matches `text` (relevance order), as
    /// full records: the candidates of a safety check.
    pub async fn candidates(&self, text: &str, limit: u32) -> Result<Vec<Recall>, ApiError> {
        let vocabulary = self.vocabulary.read().await.clone();
        let groups: Vec<TermGroup> = babyshield_domain::parse_terms(Some(text), &[])
            .into_iter()
            .map(|term| TermGroup { variants: vocabulary.typo_variants(&term), term })
            .collect();
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let query = RecallQuery { groups, id: None, filters: RecallFilters::default() };
        let _slot = self.enter_for(&query).await?;
        let page = self.store.search_recalls(&query, None, 0, limit).await?;
        Ok(page.items.into_iter().map(|row| std::sync::Arc::unwrap_or_clone(row.recall)).collect())
    }

    pub async fn recall(&self, id: &str) -> Result<Option<Recall>, StorageError> {
        self.store.recall_by_id(id).await
    }

    pub async fn recalls_for_barcode(&self, gtin: &Gtin) -> Result<Vec<Recall>, StorageError> {
        self.store.recalls_by_gtin(gtin).await
    }

    /// Rebuilds the vocabulary when the catalogue changed since it was built,
    /// and moves the response cache to the current generation (so answers
    /// after an import run through this process are fresh at once).
    pub async fn refresh_vocabulary(&self) -> Result<bool, StorageError> {
        use std::sync::atomic::Ordering;
        let generation = self.store.catalogue_generation().await?;
        self.cache.observe_generation(generation);
        if generation == self.vocabulary_generation.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let words = self.store.search_vocabulary().await?;
        let vocabulary = Arc::new(
            tokio::task::spawn_blocking(move || Vocabulary::new(words))
                .await
                .map_err(|e| StorageError::Unavailable(format!("vocabulary build failed: {e}")))?,
        );
        *self.vocabulary.write().await = vocabulary;
        self.vocabulary_generation.store(generation, Ordering::SeqCst);
        Ok(true)
    }

    /// Keeps the vocabulary and the cache generation current (other
    /// instances and the `import` command write too) until shutdown.
    pub fn spawn_refresher(self: &Arc<Self>, lifecycle: &Lifecycle) {
        self.spawn_generation_watch(lifecycle);
        self.spawn_index_refresher(lifecycle);
        let catalogue = Arc::clone(self);
        let shutdown = lifecycle.shutdown_token();
        lifecycle.spawn(async move {
            let mut tick = tokio::time::interval(catalogue.refresh_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = catalogue.refresh_vocabulary().await {
                            tracing::warn!(error = %e, "search vocabulary refresh failed");
                        }
                    }
                }
            }
        });
    }

    /// Keeps the in-memory search index current with writes of other
    /// processes (this process's own writes reach it at once), builds it
    /// when it was not built at start, and compacts it when changed recalls
    /// crowd it; at the generation poll's pace, in a task of its own so a
    /// build does not hold up the cache's generation.
    fn spawn_index_refresher(self: &Arc<Self>, lifecycle: &Lifecycle) {
        if !self.index_enabled {
            return;
        }
        let catalogue = Arc::clone(self);
        let shutdown = lifecycle.shutdown_token();
        lifecycle.spawn(async move {
            let mut tick = tokio::time::interval(catalogue.cache.poll_interval());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let refresh = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    refresh = catalogue.store.refresh_search_index() => refresh,
                };
                match refresh {
                    Ok(_) => failing = false,
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "search index refresh failed; searches use the database until it is built");
                        }
                        failing = true;
                    }
                }
            }
        });
    }

    /// Reads the catalogue generation every `cache.generation_poll_ms`: how
    /// an import by another process reaches this instance's cache. A lower
    /// value is believed once it is read twice in a row (a restored
    /// database), never from a single read that raced with an import.
    fn spawn_generation_watch(self: &Arc<Self>, lifecycle: &Lifecycle) {
        let catalogue = Arc::clone(self);
        let shutdown = lifecycle.shutdown_token();
        lifecycle.spawn(async move {
            let mut tick = tokio::time::interval(catalogue.cache.poll_interval());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut lower_seen: Option<i64> = None;
            let mut failing = false;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let generation = match catalogue.store.catalogue_generation().await {
                    Ok(generation) => generation,
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "cannot read the catalogue generation; the cache keeps the last one");
                        }
                        failing = true;
                        continue;
                    }
                };
                failing = false;
                if generation >= catalogue.cache.generation() {
                    lower_seen = None;
                    catalogue.cache.observe_generation(generation);
                } else if lower_seen == Some(generation) {
                    tracing::warn!(cache.generation = generation, "catalogue generation went back; cache reset");
                    catalogue.cache.reset_generation(generation);
                    lower_seen = None;
                } else {
                    lower_seen = Some(generation);
                }
            }
        });
    }

    pub fn summary(&self) -> serde_json::Value {
        let generation = self.vocabulary_generation.load(std::sync::atomic::Ordering::SeqCst);
        let words = self.vocabulary.try_read().map(|v| v.len()).ok();
        let index = self.store.search_index_stats();
        serde_json::json!({ "generation": generation, "vocabularyWords": words, "searchIndex": index })
    }

    pub fn record_metrics(&self) {
        if let Ok(vocabulary) = self.vocabulary.try_read() {
            metrics::gauge!("search_vocabulary_words").set(vocabulary.len() as f64);
        }
        let generation = self.vocabulary_generation.load(std::sync::atomic::Ordering::SeqCst);
        metrics::gauge!("catalogue_generation").set(generation as f64);
        if let Some(index) = self.store.search_index_stats() {
            metrics::gauge!("search_index_recalls").set(index.recalls as f64);
            metrics::gauge!("search_index_dead").set(index.dead as f64);
            metrics::gauge!("search_index_unordered").set(index.unordered as f64);
            metrics::gauge!("search_index_words").set(index.words as f64);
        }
    }
}
