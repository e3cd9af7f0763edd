//! Stored recall documents of search pages, kept in memory by version,
//! decoded.
//!
//! A page from the in-memory index names its recalls by row id; their JSON
//! documents were read from the database on every search, one statement per
//! page (on SQLite a quarter of the server's CPU went to the driver's worker
//! thread and the hand-offs to it). The first pages of different searches
//! show many of the same recalls (the newest ones), so the documents read
//! are kept here, bounded by their bytes. They are kept as decoded recalls:
//! decoding 20 documents per page was a fifth of the server's CPU under a
//! search load even when every document was in memory.
//!
//! A write of recalls through this process puts the versions it committed
//! here too ([`DocumentCache::put_written`]): into an empty slot, or over an
//! older version of the same recall. A feed pull changes the newest recalls,
//! the ones first pages show; without it every page after each pull read
//! them back from the database.
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

use babyshield_domain::Recall;

/// Bookkeeping besides the recall itself, so the budget stays honest.
const ENTRY_OVERHEAD_BYTES: usize = 64;
/// Slots per MiB of budget: room for entries of 1 KiB on average (the
/// synthetic catalogue's documents are about 1.1 KiB, and an entry about
/// 1.8 KiB, so slots stay free; real notices are longer).
const SLOTS_PER_MIB: usize = 1024;

/// What an entry counts against the budget: the recall's fields, the text
/// they point to, bounded by the length of its JSON document (which adds
/// keys, quotes and escapes to the same text), and the bookkeeping.
fn entry_bytes(document_len: usize) -> usize {
    std::mem::size_of::<Recall>() + document_len + ENTRY_OVERHEAD_BYTES
}

struct Version {
    rid: i64,
    change_gen: i64,
    recall: Arc<Recall>,
    bytes: usize,
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

    /// Recall `rid` when the cached version is at least `change_gen`.
    pub(crate) fn get(&self, rid: i64, change_gen: i64) -> Option<Arc<Recall>> {
        match &*self.slot(rid) {
            Some(v) if v.rid == rid && v.change_gen >= change_gen => Some(Arc::clone(&v.recall)),
            _ => None,
        }
    }

    /// Keeps a recall as read from the database (its document was
    /// `document_len` bytes) with its generation, in place of what its slot
    /// held; not when the budget is spent.
    pub(crate) fn put(&self, rid: i64, change_gen: i64, recall: Arc<Recall>, document_len: usize) {
        self.store(rid, change_gen, recall, document_len, |_| true);
    }

    /// Keeps a version that a write of this process committed, when its slot
    /// is empty or holds an older version of the same recall: a write must
    /// not evict what searches read (a bulk load would take every slot).
    pub(crate) fn put_written(&self, rid: i64, change_gen: i64, recall: Arc<Recall>, document_len: usize) {
        self.store(rid, change_gen, recall, document_len, |held| {
            held.is_none_or(|v| v.rid == rid && v.change_gen < change_gen)
        });
    }

    fn store(
        &self,
        rid: i64,
        change_gen: i64,
        recall: Arc<Recall>,
        document_len: usize,
        replaces: impl FnOnce(Option<&Version>) -> bool,
    ) {
        let bytes = entry_bytes(document_len);
        let mut slot = self.slot(rid);
        if !replaces(slot.as_ref()) {
            return;
        }
        if let Some(old) = slot.take() {
            self.bytes.fetch_sub(old.bytes, Ordering::Relaxed);
        }
        // Reserved in one step: stores into other slots at the same time
        // cannot together pass the budget.
        let reserved = self.bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
            (b + bytes <= self.budget).then_some(b + bytes)
        });
        if reserved.is_ok() {
            *slot = Some(Version { rid, change_gen, recall, bytes });
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

    fn recall(title: &str) -> Arc<Recall> {
        let id = babyshield_domain::RecallId::parse("CPSC-1").unwrap();
        let agency = babyshield_domain::AgencyCode::parse("CPSC").unwrap();
        Arc::new(Recall::new(id, agency, title, time::macros::date!(2024 - 01 - 02)))
    }

    fn title(found: Option<Arc<Recall>>) -> Option<String> {
        found.map(|r| r.title.clone())
    }

    #[test]
    fn a_version_is_found_only_as_new_as_asked_and_the_budget_holds() {
        let cache = DocumentCache::new(1).unwrap();
        cache.put(7, 3, recall("v3"), 10);
        assert_eq!(title(cache.get(7, 3)).as_deref(), Some("v3"));
        assert_eq!(title(cache.get(7, 2)).as_deref(), Some("v3"), "a newer version serves an older index");
        assert_eq!(cache.get(7, 4).map(|_| ()), None, "the index holds a newer version");
        // Another recall in the same slot takes it.
        cache.put(7 + 1024, 1, recall("other"), 10);
        assert_eq!(cache.get(7, 0).map(|_| ()), None);
        assert_eq!(title(cache.get(7 + 1024, 1)).as_deref(), Some("other"));
        // 1 MiB: a document of 600 KiB fits, a second one does not.
        cache.put(1, 1, recall("big"), 600 * 1024);
        cache.put(2, 1, recall("big too"), 600 * 1024);
        assert!(cache.get(1, 1).is_some());
        assert_eq!(cache.get(2, 1).map(|_| ()), None);
        assert!(cache.bytes.load(Ordering::Relaxed) <= cache.budget);
        assert_eq!(DocumentCache::new(0).map(|_| ()), None);
    }

    #[test]
    fn a_write_fills_empty_slots_and_replaces_only_older_versions_of_its_recall() {
        let cache = DocumentCache::new(1).unwrap();
        cache.put_written(5, 2, recall("written"), 10);
        assert_eq!(title(cache.get(5, 2)).as_deref(), Some("written"), "an empty slot is filled");
        cache.put_written(5, 4, recall("changed"), 10);
        assert_eq!(title(cache.get(5, 4)).as_deref(), Some("changed"), "an older version is replaced");
        cache.put_written(5, 3, recall("late"), 10);
        assert_eq!(title(cache.get(5, 0)).as_deref(), Some("changed"), "a newer version stays");
        // Another recall's entry in the slot (read by a search) stays.
        cache.put(6, 1, recall("read"), 10);
        cache.put_written(6 + 1024, 9, recall("new recall"), 10);
        assert_eq!(title(cache.get(6, 1)).as_deref(), Some("read"));
        assert_eq!(cache.get(6 + 1024, 9).map(|_| ()), None);
        let held = cache.bytes.load(Ordering::Relaxed);
        assert_eq!(held, 2 * entry_bytes(10), "replacing an entry gives its bytes back");
    }
}
