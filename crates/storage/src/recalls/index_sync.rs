//! Keeps the in-memory search index (`index.rs`) equal to the database.
//!
//! Every write that changes recalls takes the next catalogue generation and
//! stamps it on the rows it writes (`recalls.change_gen`, migration 0010).
//! Writers take generations in commit order (the generation row is locked
//! until commit, and SQLite has one writer), so the rows committed after the
//! index's generation are exactly those with a larger `change_gen`:
//! - a write through this process tells the index the generation it
//!   committed; the next search finds the index behind and reads and
//!   applies those rows before it answers (read-your-writes);
//! - writes by other processes (another instance, the `import` command)
//!   are seen by [`Store::refresh_search_index`], which the server calls at
//!   every `cache.generation_poll_ms` (the same bound the response cache
//!   keeps): searches never pay a database round trip to ask;
//! - until the first build finishes, and for a query the index does not
//!   answer, search runs in SQL (`query.rs`).
//!
//! A build reads the recalls in row-id order, a chunk at a time, and takes
//! the generation read before it began: rows changed while it ran are read
//! again by the first catch-up.

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicI64, Ordering},
};

use super::index::{IndexColumns, IndexRow, IndexStats, RecallIndex};
use crate::{StorageError, Store};

/// Rows read per statement while building.
const BUILD_CHUNK: i64 = 20_000;

const COLUMNS: &str = "rid, id, recall_date, agency_code, severity, risk_category, search_title, search_body";

/// The index and the generation it reflects; shared by the clones of a Store.
#[derive(Default)]
pub(crate) struct SearchIndex {
    state: RwLock<Option<Indexed>>,
    /// One build or catch-up at a time; searches that find the index behind
    /// wait for the one running instead of each reading the same rows.
    refresh: tokio::sync::Mutex<()>,
    /// The newest catalogue generation known to be committed (by a write of
    /// this process, or read by a refresh).
    known: AtomicI64,
}

struct Indexed {
    index: RecallIndex,
    generation: i64,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("stats", &self.stats()).finish()
    }
}

impl SearchIndex {
    fn generation(&self) -> Option<i64> {
        self.read().as_ref().map(|s| s.generation)
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

    fn know(&self, generation: i64) {
        self.known.fetch_max(generation, Ordering::SeqCst);
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
    pub fn with_search_index(mut self) -> Store {
        self.search_index = Some(Arc::new(SearchIndex::default()));
        self
    }

    /// What the in-memory index holds; `None` when disabled or not built.
    pub fn search_index_stats(&self) -> Option<IndexStats> {
        self.search_index.as_ref().and_then(|s| s.stats())
    }

    /// Builds the index when it is not built yet (or when changed recalls
    /// left more dead entries than live ones, or the database's generation
    /// went back, as after a restore), otherwise applies what changed.
    pub async fn refresh_search_index(&self) -> Result<IndexRefresh, StorageError> {
        match self.search_index.clone() {
            None => Ok(IndexRefresh::Disabled),
            Some(slot) => self.bring_up_to_date(&slot).await,
        }
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

    /// Called after a write committed `generation`: the next search brings
    /// the index up to it first.
    pub(crate) fn catalogue_written(&self, generation: i64) {
        if let Some(slot) = &self.search_index {
            slot.know(generation);
        }
    }

    async fn bring_up_to_date(&self, slot: &Arc<SearchIndex>) -> Result<IndexRefresh, StorageError> {
        let _turn = slot.refresh.lock().await;
        // Read under the turn: a catch-up that ran while this one waited
        // may have moved the index past a generation read before it.
        let generation = self.catalogue_generation().await?;
        slot.know(generation);
        let (have, rebuild) = {
            let state = slot.read();
            match state.as_ref() {
                None => (0, true),
                Some(s) => {
                    let stats = s.index.stats();
                    (s.generation, s.generation > generation || stats.dead > stats.recalls.max(10_000))
                }
            }
        };
        if rebuild {
            let started = std::time::Instant::now();
            let indexed = self.build_index(generation).await?;
            let stats = indexed.index.stats();
            tracing::info!(
                recalls = stats.recalls,
                words = stats.words,
                generation,
                ms = started.elapsed().as_millis() as u64,
                "search index built"
            );
            *slot.write() = Some(indexed);
            // After a restore the database's generation is below what this
            // process knew; from now on the database's count is the truth.
            if have > generation {
                slot.known.store(generation, Ordering::SeqCst);
            }
            return Ok(IndexRefresh::Built { recalls: stats.recalls });
        }
        if have >= generation {
            return Ok(IndexRefresh::Current);
        }
        let sql = format!(
            "SELECT {COLUMNS}, change_gen FROM recalls WHERE change_gen > $1 ORDER BY change_gen, rid"
        );
        let rows: Vec<(i64, IndexRow)> = self
            .read(|| async {
                let rows: Vec<ChangedColumns> = crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(have).fetch_all(p).await?
                });
                Ok(rows.into_iter().map(split_changed).collect())
            })
            .await?;
        // Generations commit in order: every row of a generation up to the
        // newest one read here is among the rows read.
        let newest = rows.iter().map(|(g, _)| *g).max().unwrap_or(generation).max(generation);
        let count = rows.len() as u64;
        let slot = Arc::clone(slot);
        tokio::task::spawn_blocking(move || -> Result<(), StorageError> {
            let mut state = slot.write();
            let Some(indexed) = state.as_mut() else { return Ok(()) };
            for (_, row) in &rows {
                indexed.index.upsert(row).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            }
            indexed.generation = newest;
            Ok(())
        })
        .await
        .map_err(|e| StorageError::Unavailable(format!("search index update failed: {e}")))??;
        metrics::counter!("search_index_rows_applied_total").increment(count);
        Ok(IndexRefresh::CaughtUp { rows: count })
    }

    async fn build_index(&self, generation: i64) -> Result<Indexed, StorageError> {
        let mut index = RecallIndex::default();
        let mut last_rid = 0i64;
        let sql = format!("SELECT {COLUMNS} FROM recalls WHERE rid > $1 ORDER BY rid LIMIT $2");
        loop {
            let rows: Vec<IndexRow> = self
                .read(|| async {
                    let rows: Vec<IndexColumns> = crate::on_pool!(self, p => {
                        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                            .bind(last_rid)
                            .bind(BUILD_CHUNK)
                            .fetch_all(p)
                            .await?
                    });
                    Ok(rows.into_iter().map(IndexRow::from).collect())
                })
                .await?;
            let Some(last) = rows.last() else { break };
            last_rid = last.rid;
            index = tokio::task::spawn_blocking(move || -> Result<RecallIndex, StorageError> {
                for row in &rows {
                    index.upsert(row).map_err(|e| StorageError::Corrupt(e.to_string()))?;
                }
                Ok(index)
            })
            .await
            .map_err(|e| StorageError::Unavailable(format!("search index build failed: {e}")))??;
        }
        let index = tokio::task::spawn_blocking(move || {
            index.shrink();
            index
        })
        .await
        .map_err(|e| StorageError::Unavailable(format!("search index build failed: {e}")))?;
        Ok(Indexed { index, generation })
    }
}

type ChangedColumns = (i64, String, String, String, Option<String>, Option<String>, String, String, i64);

fn split_changed(c: ChangedColumns) -> (i64, IndexRow) {
    (c.8, IndexRow::from((c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7)))
}
