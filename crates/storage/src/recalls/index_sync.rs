//! Keeps the in-memory search index (`index/`) equal to the database.
//!
//! Every write that changes recalls takes the next catalogue generation and
//! stamps it on the rows it writes (`recalls.change_gen`, migration 0010).
//! Writers take generations in commit order (the generation row is locked
//! until commit, and SQLite has one writer), so the rows committed after the
//! index's generation are exactly those with a larger `change_gen`:
//! - a write through this process puts its own rows into the index before
//!   it returns when the index stands at the generation before; otherwise
//!   it tells the index the generation it committed, and the next search
//!   reads and applies the missing rows before it answers
//!   (read-your-writes). An agency pull's page hands its rows back at
//!   commit instead ([`IndexUpdate`]) and they go in while the next page
//!   is written;
//! - writes by other processes (another instance, the `import` command)
//!   are seen by [`Store::refresh_search_index`], which the server calls at
//!   every `cache.generation_poll_ms` (the same bound the response cache
//!   keeps): searches never pay a database round trip to ask. It leaves
//!   the generations this process committed to their own updates;
//! - until the first build finishes, and for a query the index does not
//!   answer, search runs in SQL (`query.rs`).
//!
//! A build reads the recalls in result order (newest date first, then id,
//! along the `recalls_by_date` index), a chunk at a time, so the index hands
//! out its document numbers in that order (`index/mod.rs`). It takes the
//! generation read before it began: rows changed while it ran are read
//! again by the first catch-up. Recalls added after the build are indexed
//! out of order; once they, or the dead versions of changed recalls,
//! outnumber the live recalls, a compaction copies the serving index into a
//! compact one beside it (live recalls only, renumbered in result order,
//! nothing read from the database or tokenized again), a part at a time
//! under the read lock. What was written meanwhile is read from the
//! database and applied beside it too; only the last rows are applied
//! under the refresh turn.

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicI64, Ordering},
};

use super::{
    documents::DocumentCache,
    index::{IndexColumns, IndexRow, IndexStats, LevelCache, RecallIndex},
};
use crate::{StorageError, Store};

/// Catch-ups of a compacted index before it takes the refresh turn.
const CATCH_UP_BESIDE_ROUNDS: usize = 3;

/// Rows read per statement while building.
const BUILD_CHUNK: i64 = 20_000;

const COLUMNS: &str =
    "rid, id, recall_date, agency_code, severity, risk_category, search_title, search_body, change_gen";

/// The index and the generation it reflects; shared by the clones of a Store.
pub(crate) struct SearchIndex {
    state: RwLock<Option<Indexed>>,
    /// One build or catch-up at a time; searches that find the index behind
    /// wait for the one running instead of each reading the same rows.
    refresh: tokio::sync::Mutex<()>,
    /// The newest catalogue generation known to be committed (by a write of
    /// this process, or read by a refresh).
    known: AtomicI64,
    /// The serving index's generation ([`NOT_BUILT`] before the first
    /// build), stored under the write lock wherever it changes (a write's
    /// last slice, a replacement), so that reading it takes no lock: the
    /// response cache asks for it on every cached search, hits included,
    /// and must not wait behind a write's hold.
    serving: AtomicI64,
    /// The newest generation a write of this process committed and handed
    /// back as an [`IndexUpdate`], applied or not: the periodic refresh
    /// leaves a database that far ahead to that update (applied, or
    /// dropped and so made `known`) instead of reading its rows back.
    handed_over: AtomicI64,
    /// Dead document numbers tolerated before a compaction, at least.
    compact_after_dead: u64,
    /// When the last compaction finished.
    compacted: std::sync::Mutex<Option<std::time::Instant>>,
    /// Times the index was replaced (built or compacted), changed under
    /// the write lock: a compaction copying between two holds of the read
    /// lock sees whether it still copies the same index.
    replaced: std::sync::atomic::AtomicU64,
    /// The documents of recent result pages (`documents.rs`).
    documents: Option<DocumentCache>,
    /// Term groups' match sets, for this index only (`index/levels.rs`):
    /// emptied whenever the index is replaced.
    levels: Option<LevelCache>,
}

/// A committed write's rows and documents for the in-memory search index,
/// not applied yet: [`Store::write_prepared_in_background`] hands it back
/// so that a caller writing batch after batch (an agency pull) applies one
/// batch while the database writes the next, and [`Store::index_written`]
/// applies it. Until then searches answer as before the write: the index
/// moves from one committed generation to the next, never past one it has
/// not applied. Dropped unapplied (a pull interrupted between the two),
/// it tells the index its generation was committed, and the next search
/// reads the rows back from the database.
#[must_use = "apply it with Store::index_written; dropped, the next search reads its rows back"]
pub struct IndexUpdate {
    /// `None` when there is no index, nothing was written, or it was applied.
    slot: Option<Arc<SearchIndex>>,
    generation: i64,
    rows: Vec<IndexRow>,
    documents: Vec<super::write::WrittenDocument>,
}

impl Drop for IndexUpdate {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.know(self.generation);
        }
    }
}

struct Indexed {
    index: RecallIndex,
    generation: i64,
}

impl Indexed {
    /// Applies changed rows and moves to `generation`.
    fn apply(&mut self, rows: &[IndexRow], generation: i64) -> Result<(), StorageError> {
        self.upsert_all(rows)?;
        self.generation = generation;
        Ok(())
    }

    fn upsert_all(&mut self, rows: &[IndexRow]) -> Result<(), StorageError> {
        upsert_rows(&mut self.index, rows)
    }
}

fn upsert_rows(index: &mut RecallIndex, rows: &[IndexRow]) -> Result<(), StorageError> {
    for row in rows {
        index.upsert(row).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    }
    Ok(())
}

/// Runs index work on the blocking pool: applying or building takes
/// milliseconds to seconds of CPU that must not stall the async threads.
async fn off_async<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Unavailable(format!("search index work failed: {e}")))
}

/// Document numbers a compaction copies per hold of the read lock: a write
/// waits for at most one such part.
const COMPACT_POSTINGS_PER_HOLD: usize = 100_000;

/// Changed rows applied per hold of the write lock.
const APPLY_SLICE: usize = 128;

/// Least time between two compactions: under back-to-back bulk updates a
/// compaction per pull would double the CPU an ingest costs.
const COMPACT_AT_MOST_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Memory for result pages' recalls unless configured
/// (`search.document_cache_mib`): about 55,000 recalls of the synthetic
/// catalogue (1.8 KiB each, decoded; `documents.rs`).
pub const DEFAULT_DOCUMENT_CACHE_MIB: u64 = 96;

/// Memory for term groups' match sets unless configured
/// (`search.term_cache_mib`; `index/levels.rs`): at a million recalls a
/// group takes 500 KiB (four sets of a million bits), so about 130 groups.
pub const DEFAULT_TERM_CACHE_MIB: u64 = 64;

/// The memory of the caches beside the in-memory index, in MiB (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCaches {
    /// Result pages' recalls (`search.document_cache_mib`).
    pub document_mib: u64,
    /// Term groups' match sets (`search.term_cache_mib`).
    pub term_mib: u64,
}

impl Default for SearchCaches {
    fn default() -> Self {
        SearchCaches { document_mib: DEFAULT_DOCUMENT_CACHE_MIB, term_mib: DEFAULT_TERM_CACHE_MIB }
    }
}

/// [`SearchIndex::serving`] before the first build.
const NOT_BUILT: i64 = i64::MIN;

/// Dead document numbers (old versions of changed recalls) tolerated
/// before a compaction, at least; beyond that, as many as live ones.
const COMPACT_AFTER_DEAD: u64 = 10_000;

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("stats", &self.stats()).finish()
    }
}

impl SearchIndex {
    fn new(compact_after_dead: u64, caches: SearchCaches) -> SearchIndex {
        SearchIndex {
            state: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            known: AtomicI64::new(0),
            serving: AtomicI64::new(NOT_BUILT),
            handed_over: AtomicI64::new(0),
            compact_after_dead,
            compacted: std::sync::Mutex::new(None),
            replaced: std::sync::atomic::AtomicU64::new(0),
            documents: DocumentCache::new(caches.document_mib),
            levels: LevelCache::new(caches.term_mib),
        }
    }

    fn generation(&self) -> Option<i64> {
        Some(self.serving.load(Ordering::SeqCst)).filter(|&generation| generation != NOT_BUILT)
    }

    pub(crate) fn stats(&self) -> Option<IndexStats> {
        self.read().as_ref().map(|s| s.index.stats())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Indexed>> {
        // A panic while holding the lock cannot leave a half-applied row
        // (upsert validates before it changes anything), so a poisoned lock
        // still guards a usable index.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Indexed>> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `rows` a slice at a time, so searches (which see the index
    /// only between slices) never wait behind a whole page of rows, then
    /// moves to `generation`. Searches that must see these rows wait on the
    /// refresh turn, which the caller holds.
    ///
    /// A slice's words are looked up under the read lock, beside the
    /// searches; the write lock is held only to add document numbers to
    /// their lists (`search_index_write_hold_seconds`).
    fn apply_sliced(&self, rows: &[IndexRow], generation: i64) -> Result<(), StorageError> {
        // Words found in the index, by the index they were found in.
        let mut found = std::collections::HashMap::new();
        let mut found_in = None;
        for slice in rows.chunks(APPLY_SLICE) {
            let (resolved, serial) = {
                let state = self.read();
                let Some(indexed) = state.as_ref() else { return Ok(()) };
                let serial = self.replaced.load(Ordering::SeqCst);
                if found_in.replace(serial) != Some(serial) {
                    found.clear();
                }
                let resolved: Vec<_> =
                    slice.iter().map(|row| indexed.index.resolve_remembering(row, &mut found)).collect();
                (resolved, serial)
            };
            let mut state = self.write();
            let held = std::time::Instant::now();
            let Some(indexed) = state.as_mut() else { return Ok(()) };
            // Word numbers belong to the index they were looked up in.
            let applied = if self.replaced.load(Ordering::SeqCst) == serial {
                (slice.iter().zip(&resolved))
                    .try_for_each(|(row, words)| indexed.index.upsert_resolved(row, words))
                    .map_err(|e| StorageError::Corrupt(e.to_string()))
            } else {
                indexed.upsert_all(slice)
            };
            drop(state);
            metrics::histogram!("search_index_write_hold_seconds").record(held.elapsed().as_secs_f64());
            applied?;
        }
        if let Some(indexed) = self.write().as_mut() {
            indexed.generation = generation;
            self.serving.store(generation, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Swaps in a new index. The old one is freed outside the lock and off
    /// the async threads: freeing millions of posting lists takes long
    /// enough (hundreds of milliseconds at a million recalls) to stall
    /// every search waiting for the lock.
    fn replace(&self, indexed: Indexed) {
        let old = {
            let mut state = self.write();
            self.replaced.fetch_add(1, Ordering::SeqCst);
            if let Some(levels) = &self.levels {
                levels.clear();
            }
            self.serving.store(indexed.generation, Ordering::SeqCst);
            state.replace(indexed)
        };
        if let Some(old) = old {
            drop(tokio::task::spawn_blocking(move || drop(old)));
        }
    }

    /// A compact copy of the serving index (`RecallIndex::start_compaction`)
    /// at the generation it stood at when the copy began; `None` when it
    /// is not built or was replaced meanwhile. The read lock is held for
    /// the documents and filter lists, then for about
    /// [`COMPACT_POSTINGS_PER_HOLD`] document numbers at a time, so writes
    /// (which wait for readers) get in between. Rows a write was applying
    /// when the copy began may be in it; they are read again with the
    /// generation's catch-up, and an upsert replaces a recall's version.
    fn compacted(&self) -> Option<Indexed> {
        let (mut compaction, generation, serial) = {
            let state = self.read();
            let indexed = state.as_ref()?;
            let serial = self.replaced.load(Ordering::SeqCst);
            (indexed.index.start_compaction(), indexed.generation, serial)
        };
        loop {
            let state = self.read();
            let indexed = state.as_ref()?;
            if self.replaced.load(Ordering::SeqCst) != serial {
                return None;
            }
            if indexed.index.copy_words(&mut compaction, COMPACT_POSTINGS_PER_HOLD) {
                break;
            }
        }
        // Every list of the copy was made to size: no `shrink` pass.
        Some(Indexed { index: compaction.finish(), generation })
    }

    fn know(&self, generation: i64) {
        self.known.fetch_max(generation, Ordering::SeqCst);
    }

    /// The document cache of result pages, unless it is turned off.
    pub(crate) fn documents(&self) -> Option<&DocumentCache> {
        self.documents.as_ref()
    }

    /// The cache of term groups' match sets, unless it is turned off.
    pub(crate) fn term_levels(&self) -> Option<&LevelCache> {
        self.levels.as_ref()
    }

    /// Runs `f` over the index, if it is built.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&RecallIndex) -> T) -> Option<T> {
        self.read().as_ref().map(|s| f(&s.index))
    }
}

/// What [`Store::refresh_search_index`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexRefresh {
    /// Not enabled on this store.
    Disabled,
    /// Built from every recall.
    Built {
        recalls: u64,
    },
    /// Copied compact (only live recalls, all in result order) and caught up.
    Compacted {
        recalls: u64,
    },
    /// Applied the rows changed since the index's generation.
    CaughtUp {
        rows: u64,
    },
    Current,
}

impl Store {
    /// Answers searches from an in-memory index (built by the first
    /// [`Store::refresh_search_index`]) instead of the database's full-text
    /// indexes. Clones made afterwards share it.
    pub fn with_search_index(self) -> Store {
        self.with_search_index_and_caches(SearchCaches::default())
    }

    /// [`Store::with_search_index`] with the memory of the caches beside it
    /// (`search.document_cache_mib`, `search.term_cache_mib`).
    pub fn with_search_index_and_caches(mut self, caches: SearchCaches) -> Store {
        self.search_index = Some(Arc::new(SearchIndex::new(COMPACT_AFTER_DEAD, caches)));
        self
    }

    /// [`Store::with_search_index`], compacting once `dead` old versions or
    /// out-of-order additions (and as many as live recalls) accumulate;
    /// tests use small values.
    #[doc(hidden)]
    pub fn with_search_index_compacting_after(mut self, dead: u64) -> Store {
        self.search_index = Some(Arc::new(SearchIndex::new(dead, SearchCaches::default())));
        self
    }

    /// Whether the in-memory index is built and answers this query (it
    /// leaves exact-id queries and more term groups than have tiers to SQL).
    pub fn search_index_answers(&self, query: &super::RecallQuery) -> bool {
        self.search_index.as_ref().is_some_and(|slot| slot.generation().is_some())
            && query.id.is_none()
            && query.groups.len() <= super::tiers::MAX_TIERED_GROUPS
    }

    /// The catalogue generation the in-memory index answers as of: every
    /// write up to it is in, none after it. `None` when disabled or not
    /// built. During an agency pull it trails the database's by the page
    /// being applied.
    pub fn search_index_generation(&self) -> Option<i64> {
        self.search_index.as_ref().and_then(|s| s.generation())
    }

    /// What the in-memory index holds; `None` when disabled or not built.
    pub fn search_index_stats(&self) -> Option<IndexStats> {
        self.search_index.as_ref().and_then(|s| s.stats())
    }

    /// Builds the index when it is not built yet (or when the database's
    /// generation went back, as after a restore), otherwise applies what
    /// changed; then, when changed recalls left more dead document numbers
    /// than there are live ones, or more recalls were added out of result
    /// order than that, builds a compact index beside the current one, which
    /// keeps answering until the new one replaces it. The server runs this
    /// in the background at every `cache.generation_poll_ms`.
    pub async fn refresh_search_index(&self) -> Result<IndexRefresh, StorageError> {
        let Some(slot) = self.search_index.clone() else {
            return Ok(IndexRefresh::Disabled);
        };
        // Asked without the refresh turn first: a write that finds the turn
        // taken leaves its rows to be read back by the next search, so the
        // turn is taken only when the database is ahead of the index (or
        // behind it, after a restore), and not for the generations this
        // process committed and has yet to apply: an agency pull applies a
        // page's rows beside the next page's write, and a refresh reading
        // them back first made every search wait for it.
        let unchanged = match slot.generation() {
            Some(have) if have == slot.known.load(Ordering::SeqCst) => {
                let database = self.catalogue_generation().await?;
                database == have || (database > have && database <= slot.handed_over.load(Ordering::SeqCst))
            }
            _ => false,
        };
        let refresh = if unchanged { IndexRefresh::Current } else { self.bring_up_to_date(&slot).await? };
        let crowded = slot.stats().is_some_and(|s| {
            let most = s.recalls.max(slot.compact_after_dead);
            s.dead > most || s.unordered > most
        });
        let recently =
            |at: &Option<std::time::Instant>| at.is_some_and(|at| at.elapsed() < COMPACT_AT_MOST_EVERY);
        if crowded && !recently(&slot.compacted.lock().unwrap_or_else(|e| e.into_inner())) {
            return self.compact(&slot).await;
        }
        Ok(refresh)
    }

    /// The index with every generation known to this process applied;
    /// `None` when disabled or not built yet.
    pub(crate) async fn current_search_index(&self) -> Result<Option<Arc<SearchIndex>>, StorageError> {
        let Some(slot) = self.search_index.clone() else {
            return Ok(None);
        };
        let Some(have) = slot.generation() else {
            return Ok(None);
        };
        if have < slot.known.load(Ordering::SeqCst) {
            self.bring_up_to_date(&slot).await?;
        }
        Ok(Some(slot))
    }

    /// Applies a write of this process that committed `update.generation`:
    /// its recalls go to the search pages' document cache where their slots
    /// allow (`DocumentCache::put_written`), and its rows to the index.
    /// When the index stands at the generation before, the rows go
    /// straight in (no read back from the database) and the generation
    /// moves; otherwise (another process wrote in between, or a build or
    /// catch-up is running) the next search catches up from the database.
    /// Either way the write's caller finds its rows searchable when this
    /// returns, and searches never wait for the rows of a write they could
    /// not have known about.
    pub async fn index_written(&self, update: IndexUpdate) {
        self.apply_written(update, None).await
    }

    /// [`Store::index_written`] for an update nobody waits on (an agency
    /// pull applies each page's beside its next page's write): when a
    /// catch-up or the last step of a compaction holds the refresh turn,
    /// it waits for the turn, up to `patience`, instead of leaving its rows
    /// for the next search to read back while every search waits. Until
    /// then searches answer as before the write. A first build holds the
    /// turn for seconds (about 40 per million recalls); past `patience`
    /// the rows are left to the searches as by [`Store::index_written`].
    pub async fn index_written_waiting(&self, update: IndexUpdate, patience: std::time::Duration) {
        self.apply_written(update, Some(patience)).await
    }

    async fn apply_written(&self, mut update: IndexUpdate, patience: Option<std::time::Duration>) {
        let Some(slot) = update.slot.take() else { return };
        let (generation, rows, documents) =
            (update.generation, std::mem::take(&mut update.rows), std::mem::take(&mut update.documents));
        // Versions are keyed by generation, so they are right whatever the
        // index holds yet.
        if let Some(cache) = slot.documents() {
            for written in documents {
                cache.put_written(written.rid, generation, written.recall, written.document_len);
            }
        }
        // A write never waits for the index: while a build or catch-up holds
        // the turn (a first build takes about 40 s per million recalls) the
        // rows are left to the next search or refresh, which read them back.
        // A pull's update, which nobody waits on, waits up to `patience`.
        let turn = match patience {
            None => slot.refresh.try_lock().ok(),
            Some(patience) => tokio::time::timeout(patience, slot.refresh.lock()).await.ok(),
        };
        let Some(turn) = turn else {
            metrics::counter!("search_index_writes_left_to_searches_total").increment(1);
            slot.know(generation);
            return;
        };
        if slot.generation() == Some(generation - 1) {
            let count = rows.len() as u64;
            let applying = Arc::clone(&slot);
            match off_async(move || applying.apply_sliced(&rows, generation)).await.and_then(|r| r) {
                Ok(()) => metrics::counter!("search_index_rows_applied_total").increment(count),
                Err(e) => {
                    tracing::warn!(error = %e, "search index: written recalls not indexed; the next search reads them back")
                }
            }
        }
        drop(turn);
        slot.know(generation);
    }

    /// The index's share of a write that committed `generation`, to apply
    /// with [`Store::index_written`].
    pub(crate) fn index_update(
        &self,
        generation: i64,
        rows: Vec<IndexRow>,
        documents: Vec<super::write::WrittenDocument>,
    ) -> IndexUpdate {
        let slot = self.search_index.clone().filter(|_| generation > 0);
        if let Some(slot) = &slot {
            slot.handed_over.fetch_max(generation, Ordering::SeqCst);
        }
        IndexUpdate { slot, generation, rows, documents }
    }

    async fn bring_up_to_date(&self, slot: &Arc<SearchIndex>) -> Result<IndexRefresh, StorageError> {
        let _turn = slot.refresh.lock().await;
        // Read under the turn: a catch-up that ran while this one waited
        // may have moved the index past a generation read before it.
        let generation = self.catalogue_generation().await?;
        slot.know(generation);
        let have = slot.generation();
        if have.is_none_or(|have| have > generation) {
            let indexed = self.build_index(generation).await?;
            let recalls = indexed.index.stats().recalls;
            slot.replace(indexed);
            // After a restore the database's generation is below what this
            // process knew; from now on the database's count is the truth.
            if have.is_some() {
                slot.known.store(generation, Ordering::SeqCst);
            }
            return Ok(IndexRefresh::Built { recalls });
        }
        let have = have.unwrap_or_default();
        if have >= generation {
            return Ok(IndexRefresh::Current);
        }
        let (rows, newest) = self.changes_since(have, generation).await?;
        let count = rows.len() as u64;
        let slot = Arc::clone(slot);
        off_async(move || slot.apply_sliced(&rows, newest)).await??;
        metrics::counter!("search_index_rows_applied_total").increment(count);
        Ok(IndexRefresh::CaughtUp { rows: count })
    }

    /// Copies the serving index into a compact one while it serves (see
    /// [`SearchIndex::compacted`]), catches the copy up with what was
    /// written meanwhile, and swaps it in.
    async fn compact(&self, slot: &Arc<SearchIndex>) -> Result<IndexRefresh, StorageError> {
        let started = std::time::Instant::now();
        let copying = Arc::clone(slot);
        let Some(mut fresh) = off_async(move || copying.compacted()).await? else {
            // Replaced (rebuilt) while it was being copied: nothing to do.
            return Ok(IndexRefresh::Current);
        };
        // What was written during the copy is applied outside the turn
        // first: while the turn is held, writes cannot put their rows into
        // the serving index and searches wait for them to be read back, and
        // an ingest writes thousands of rows during a build of a large
        // catalogue. Under the turn only the last few are left.
        for _ in 0..CATCH_UP_BESIDE_ROUNDS {
            let now = self.catalogue_generation().await?;
            if now <= fresh.generation {
                break;
            }
            let (rows, newest) = self.changes_since(fresh.generation, now).await?;
            fresh = off_async(move || fresh.apply(&rows, newest).map(|()| fresh)).await??;
        }
        let _turn = slot.refresh.lock().await;
        let now = self.catalogue_generation().await?;
        if now > fresh.generation {
            let (rows, newest) = self.changes_since(fresh.generation, now).await?;
            fresh = off_async(move || fresh.apply(&rows, newest).map(|()| fresh)).await??;
        }
        let recalls = fresh.index.stats().recalls;
        slot.replace(fresh);
        *slot.compacted.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
        tracing::info!(recalls, ms = started.elapsed().as_millis() as u64, "search index compacted");
        metrics::counter!("search_index_compactions_total").increment(1);
        Ok(IndexRefresh::Compacted { recalls })
    }

    /// The rows written after generation `have`, with the generation the
    /// index reaches once they are applied (at least `known`).
    async fn changes_since(&self, have: i64, known: i64) -> Result<(Vec<IndexRow>, i64), StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM recalls WHERE change_gen > $1 ORDER BY change_gen, rid");
        let rows: Vec<IndexColumns> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(have).fetch_all(p).await?
                }))
            })
            .await?;
        // Generations commit in order: every row of a generation up to the
        // newest one read here is among the rows read.
        let newest = rows.iter().map(|c| c.8).max().unwrap_or(known).max(known);
        Ok((rows.into_iter().map(IndexRow::from).collect(), newest))
    }

    async fn build_index(&self, generation: i64) -> Result<Indexed, StorageError> {
        let started = std::time::Instant::now();
        let mut index = RecallIndex::default();
        // Keyset over (recall_date DESC, id): the first chunk has no
        // position yet.
        let mut position: Option<(String, String)> = None;
        let first = format!("SELECT {COLUMNS} FROM recalls ORDER BY recall_date DESC, id LIMIT $1");
        let next = format!(
            "SELECT {COLUMNS} FROM recalls WHERE recall_date <= $1 AND (recall_date < $1 OR id > $2) \
             ORDER BY recall_date DESC, id LIMIT $3"
        );
        loop {
            let rows: Vec<IndexRow> = self
                .read(|| async {
                    let rows: Vec<IndexColumns> = crate::on_pool!(self, p => {
                        match &position {
                            None => sqlx::query_as(sqlx::AssertSqlSafe(first.clone())).bind(BUILD_CHUNK),
                            Some((date, id)) => sqlx::query_as(sqlx::AssertSqlSafe(next.clone()))
                                .bind(date.clone())
                                .bind(id.clone())
                                .bind(BUILD_CHUNK),
                        }
                        .fetch_all(p)
                        .await?
                    });
                    Ok(rows.into_iter().map(IndexRow::from).collect())
                })
                .await?;
            let Some(last) = rows.last() else { break };
            position = Some((last.recall_date.clone(), last.id.clone()));
            index = off_async(move || upsert_rows(&mut index, &rows).map(|()| index)).await??;
        }
        let index = off_async(move || {
            index.shrink();
            index
        })
        .await?;
        let stats = index.stats();
        tracing::info!(
            recalls = stats.recalls,
            words = stats.words,
            generation,
            ms = started.elapsed().as_millis() as u64,
            "search index built"
        );
        Ok(Indexed { index, generation })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use babyshield_domain::Recall;

    use super::*;
    use crate::recalls::PreparedRecalls;

    /// A pull's page update waits for a refresh turn held by someone else
    /// instead of leaving its rows to the searches, while searches keep
    /// answering as before it; past its patience it leaves them as
    /// `index_written` does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_update_waits_for_the_refresh_turn_up_to_its_patience() {
        let dir = std::env::temp_dir().join(format!("bs-index-turn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store =
            Store::connect(&crate::pool::test_sqlite_settings(&dir)).await.unwrap().with_search_index();
        store.migrate().await.unwrap();
        assert!(matches!(store.refresh_search_index().await.unwrap(), IndexRefresh::Built { .. }));
        let slot = store.search_index.clone().unwrap();
        let write = |id: &str| {
            let line = format!(
                r#"{{"id": "{id}", "agencyCode": "CPSC", "title": "Quokka crib", "recallDate": "2024-05-01"}}"#
            );
            let batch =
                PreparedRecalls::new(vec![Recall::from_json_line(&line).unwrap()], store.backend()).unwrap();
            let store = store.clone();
            async move { store.write_prepared_in_background(batch).await.unwrap().1 }
        };
        let before = slot.generation().unwrap();

        // Waits while the turn is held, and applies the rows itself.
        let update = write("CPSC-80001").await;
        let turn = slot.refresh.lock().await;
        let applying = tokio::spawn({
            let store = store.clone();
            async move { store.index_written_waiting(update, Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!applying.is_finished());
        assert_eq!(slot.generation(), Some(before), "searches answer as before the write");
        assert_eq!(slot.known.load(Ordering::SeqCst), before, "and do not wait for a read-back");
        drop(turn);
        applying.await.unwrap();
        assert_eq!(slot.generation(), Some(before + 1));
        assert_eq!(store.search_index_stats().unwrap().recalls, 1);

        // Past its patience the rows are left to the next search.
        let update = write("CPSC-80002").await;
        let turn = slot.refresh.lock().await;
        store.index_written_waiting(update, Duration::from_millis(20)).await;
        assert_eq!(slot.generation(), Some(before + 1));
        assert_eq!(slot.known.load(Ordering::SeqCst), before + 2);
        drop(turn);
        assert!(store.current_search_index().await.unwrap().is_some());
        assert_eq!(slot.generation(), Some(before + 2), "the next search read the rows back");
        assert_eq!(store.search_index_stats().unwrap().recalls, 2);

        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
