//! Stored recall documents of search pages, kept in memory by version.
//!
//! A page from the in-memory index names its recalls by row id; their JSON
//! documents were read from the database on every search, one statement per
//! page (on SQLite a quarter of the server's CPU went to the driver's worker
//! thread and the hand-offs to it). The first pages of different searches
//! show many of the same recalls (the newest ones), so the documents read
//! are kept here, bounded by their bytes.
//!
//! An entry is keyed by the row id and remembers the generation that wrote
//! that version (`recalls.change_gen`, as read with the document). The index
//! knows the generation of the version it holds, and a lookup only accepts
//! an entry at least that new: a recall changed by any process is read
//! again as soon as the index has its new version, and nothing has to be
//! invalidated (a version stays right forever; old ones are evicted by
//! size). Until then the page shows the version the index searched, which
//! is the staleness the index already has (one refresh, 500 ms).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

/// Bookkeeping besides the document's bytes, so the budget stays honest.
const ENTRY_OVERHEAD_BYTES: usize = 64;
/// Slots per MiB of budget: room for documents of 1 KiB on average (the
/// synthetic catalogue's are about 1.1 KiB, real notices longer).
const SLOTS_PER_MIB: usize = 1024;

struct Version {
    rid: i64,
    change_gen: i64,
    doc: Arc<str>,
}

/// Direct-mapped: recall `rid` can only be in slot `rid % slots`, and a new
/// document takes its slot. Row ids are dense, so neighbours never collide;
/// a lookup or a store is one uncontended lock, where a cache that tracks
/// recency cost more to fill than it saved when most pages were new (every
/// search different: 56 % of documents found, and slower than no cache).
pub(crate) struct DocumentCache {
    slots: Box<[Mutex<Option<Version>>]>,
    bytes: AtomicUsize,
    budget: usize,
}

impl DocumentCache {
    /// A cache holding at most `mib` MiB of documents; `None` for 0.
    pub(crate) fn new(mib: u64) -> Option<DocumentCache> {
        let mib = usize::try_from(mib).ok().filter(|m| *m > 0)?;
        Some(DocumentCache {
            slots: (0..mib.saturating_mul(SLOTS_PER_MIB)).map(|_| Mutex::new(None)).collect(),
            bytes: AtomicUsize::new(0),
            budget: mib.saturating_mul(1024 * 1024),
        })
    }

    fn slot(&self, rid: i64) -> std::sync::MutexGuard<'_, Option<Version>> {
        let i = rid.rem_euclid(self.slots.len() as i64) as usize;
        // A panic cannot leave a slot half-written: take its value.
        self.slots[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The document of recall `rid` when the cached version is at least
    /// `change_gen`.
    pub(crate) fn get(&self, rid: i64, change_gen: i64) -> Option<Arc<str>> {
        match &*self.slot(rid) {
            Some(v) if v.rid == rid && v.change_gen >= change_gen => Some(Arc::clone(&v.doc)),
            _ => None,
        }
    }

    /// Keeps a document as read from the database with its generation, in
    /// place of what its slot held; not when the budget is spent.
    pub(crate) fn put(&self, rid: i64, change_gen: i64, doc: Arc<str>) {
        let size = doc.len() + ENTRY_OVERHEAD_BYTES;
        let mut slot = self.slot(rid);
        if let Some(old) = slot.take() {
            self.bytes.fetch_sub(old.doc.len() + ENTRY_OVERHEAD_BYTES, Ordering::Relaxed);
        }
        // Reserved in one step: stores into other slots at the same time
        // cannot together pass the budget.
        let reserved = self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
            (b + size <= self.budget).then_some(b + size)
        });
        if reserved.is_ok() {
            *slot = Some(Version { rid, change_gen, doc });
        }
    }

    /// Counts one page's lookups (`search_document_cache_requests_total`).
    pub(crate) fn record(hits: usize, misses: usize) {
        metrics::counter!("search_document_cache_requests_total", "outcome" => "hit").increment(hits as u64);
        metrics::counter!("search_document_cache_requests_total", "outcome" => "miss")
            .increment(misses as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_found_only_as_new_as_asked_and_the_budget_holds() {
        let cache = DocumentCache::new(1).unwrap();
        cache.put(7, 3, "{\"v\":3}".into());
        assert_eq!(cache.get(7, 3).as_deref(), Some("{\"v\":3}"));
        assert_eq!(cache.get(7, 2).as_deref(), Some("{\"v\":3}"), "a newer version serves an older index");
        assert_eq!(cache.get(7, 4), None, "the index holds a newer version");
        // Another recall in the same slot takes it.
        cache.put(7 + 1024, 1, "{}".into());
        assert_eq!(cache.get(7, 0), None);
        assert_eq!(cache.get(7 + 1024, 1).as_deref(), Some("{}"));
        // 1 MiB: a document of 600 KiB fits, a second one does not.
        let big: Arc<str> = "x".repeat(600 * 1024).into();
        cache.put(1, 1, Arc::clone(&big));
        cache.put(2, 1, big);
        assert!(cache.get(1, 1).is_some());
        assert_eq!(cache.get(2, 1), None);
        assert!(cache.bytes.load(Ordering::Relaxed) <= cache.budget);
        assert_eq!(DocumentCache::new(0).map(|_| ()), None);
    }
}
