//! PostgreSQL: merging the full-text indexes' pending lists beside the
//! writer instead of in it.
//!
//! A row written into a GIN index with `fastupdate` (the two search-vector
//! indexes of `recalls`) first goes into the index's pending list; the
//! backend whose insert takes the list past `gin_pending_list_limit`
//! (1 MB, migration 0012) then merges the whole list into the index before
//! its statement goes on. An agency pull or an import has one writer, so
//! that merge stopped the write: 9 % of the machine's CPU during a pull of
//! changed recalls, all of it on the writer's path.
//!
//! While a recall write is in progress ([`PendingLists::writing`]), another
//! connection runs `gin_clean_pending_list` on both indexes every
//! [`PAUSE`], and once more after the last write ends. A backend that
//! finds the list full while that merge runs does not wait for it
//! (PostgreSQL skips the merge when another backend is doing it; the merge
//! goes on until the list is empty, rows written meanwhile included). One
//! task merges, however many writes there are. Measured in
//! `docs/PERFORMANCE.md` ("Stop 27").
//!
//! The task's state is four atomics. Writers and the task each write one
//! (`active`, `busy`) and then read the other, so those accesses are
//! sequentially consistent: with weaker orderings both could read the old
//! value, and a write would begin just as the task ends, unmerged.
//!
//! The function needs the indexes' owner (as VACUUM does). A database role
//! that does not own them gets one warning and the merge is not tried
//! again: the writer merges as before.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use sqlx::PgPool;

/// Merges both search indexes' pending lists, returning how many pages of
/// each it emptied.
const MERGE: &str = "SELECT gin_clean_pending_list('recalls_search'::regclass), \
                     gin_clean_pending_list('recalls_search_title'::regclass)";

/// PostgreSQL's "insufficient privilege" (not the indexes' owner).
const NOT_OWNER: &str = "42501";

/// How long the merging task waits between merges while a write is in
/// progress. Each merge also takes a while; a writer at 12,000 recalls/s
/// adds well under the 1 MB limit in between.
const PAUSE: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
pub(crate) struct PendingLists {
    /// Recall writes in progress.
    active: AtomicUsize,
    /// A write ended since the last merge began: one more merge is due.
    requested: AtomicBool,
    /// The merging task is running (at most one).
    busy: AtomicBool,
    /// The role may not merge (not the owner): never tried again.
    refused: AtomicBool,
}

/// The merging task's hold on `busy`.
struct Claim<'a> {
    busy: &'a AtomicBool,
    held: bool,
}

impl Claim<'_> {
    fn release(&mut self) {
        self.held = false;
        self.busy.store(false, Ordering::SeqCst);
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if self.held {
            self.release();
        }
    }
}

/// A recall write in progress; its end asks for one more merge.
pub(crate) struct Writing<'a> {
    lists: &'a PendingLists,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        // Asked before the count falls, so the task never sees no writer
        // and nothing asked in between.
        self.lists.requested.store(true, Ordering::SeqCst);
        self.lists.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PendingLists {
    /// Marks a recall write as in progress until the guard is dropped
    /// (after its commit or rollback), merging the pending lists on other
    /// connections of `pool` meanwhile and once after. Returns at once.
    pub(crate) fn writing(self: &Arc<Self>, pool: &PgPool) -> Writing<'_> {
        self.active.fetch_add(1, Ordering::SeqCst);
        if !self.refused.load(Ordering::SeqCst) && self.start() {
            let lists = Arc::clone(self);
            let pool = pool.clone();
            tokio::spawn(async move { lists.run(&pool).await });
        }
        Writing { lists: self }
    }

    async fn run(&self, pool: &PgPool) {
        // Clears `busy` if the task ends early (dropped at shutdown, or a
        // panic), so that a later write starts a new one.
        let mut claim = Claim { busy: &self.busy, held: true };
        loop {
            loop {
                let writing = self.active.load(Ordering::SeqCst) > 0;
                let asked = self.requested.swap(false, Ordering::SeqCst);
                if (!writing && !asked) || self.refused.load(Ordering::SeqCst) {
                    break;
                }
                self.merge(pool).await;
                if writing {
                    tokio::time::sleep(PAUSE).await;
                }
            }
            claim.release();
            // A write that began between the last check and the line above
            // found the task busy: carry on for it, unless a new task has
            // started.
            if !self.due() || !self.start() {
                return;
            }
            claim.held = true;
        }
    }

    /// Whether a merge is still wanted: a write in progress or just ended.
    fn due(&self) -> bool {
        !self.refused.load(Ordering::SeqCst)
            && (self.active.load(Ordering::SeqCst) > 0 || self.requested.load(Ordering::SeqCst))
    }

    /// Marks the task as running; false when it already is.
    fn start(&self) -> bool {
        self.busy.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_ok()
    }

    async fn merge(&self, pool: &PgPool) {
        match sqlx::query_as::<_, (i64, i64)>(MERGE).fetch_one(pool).await {
            Ok((search, title)) => {
                metrics::counter!("db_full_text_pending_pages_merged_total", "index" => "recalls_search")
                    .increment(search.max(0) as u64);
                metrics::counter!("db_full_text_pending_pages_merged_total", "index" => "recalls_search_title")
                    .increment(title.max(0) as u64);
            }
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(NOT_OWNER) => {
                self.refused.store(true, Ordering::SeqCst);
                tracing::warn!(
                    "the database role does not own the full-text indexes: their pending lists are merged by \
                     the writer (slower recall writes)"
                );
            }
            // The next write asks again; the writer merges when the list is
            // full either way.
            Err(e) => tracing::debug!(error = %e, "merging the full-text indexes' pending lists failed"),
        }
    }

    /// Waits until no write is in progress and no merge is running or due.
    pub(crate) async fn settled(&self) {
        while self.busy.load(Ordering::SeqCst) || self.due() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
