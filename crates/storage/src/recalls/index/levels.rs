//! A term group's three levels (`tiers.rs`: whole title word, partial title
//! match, elsewhere) as bitsets, and the cache that keeps them between
//! searches (`search.term_cache_mib`).
//!
//! Computing them was the largest part of a search at a million recalls:
//! the posting lists of every word a group matches (the term, each word it
//! is a prefix of, its typo variants) united into three sets of one bit per
//! document, 128 KiB each. Searches share terms far more often than whole
//! requests ("crib" with or without a filter, on page one or three, in
//! another app's spelling), so the levels are kept by term group.
//!
//! Nothing has to be invalidated when recalls are written. A group's levels
//! change only by the documents indexed after they were computed: document
//! numbers only grow, a word's lists only gain numbers at their end, no
//! word is ever removed while an index lives (a new word's numbers are all
//! new), and a changed recall gets a new number while its old one leaves
//! `live`, which the levels do not read. So an entry remembers how many
//! documents it covers, and a search after a write extends a copy of it by
//! the documents added since instead of computing it again. The owner
//! empties the cache when it replaces the index (a build or a compaction
//! numbers everything anew).

use std::{
    collections::HashMap,
    ops::Bound,
    sync::{Arc, Mutex},
};

use super::{
    RecallIndex, Word,
    bits::{Bits, Summarized},
};
use crate::recalls::{dialect::MIN_PREFIX_LEN, query::TermGroup, tiers::Level};

/// The levels of one term group over the document numbers below `docs`,
/// each with its summary (which words hold members).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GroupLevels {
    whole: Summarized,
    partial: Summarized,
    elsewhere: Summarized,
    /// Every match of the group: the union of the three, which each search
    /// intersects with the other groups' and the filters.
    any: Bits,
    pub(super) docs: u32,
}

impl GroupLevels {
    pub(super) fn level(&self, level: Level) -> &Summarized {
        match level {
            Level::Whole => &self.whole,
            Level::Partial => &self.partial,
            Level::Elsewhere => &self.elsewhere,
        }
    }

    pub(super) fn any(&self) -> &Bits {
        &self.any
    }

    fn bytes(&self) -> usize {
        [&self.whole, &self.partial, &self.elsewhere].iter().map(|set| set.bytes()).sum::<usize>()
            + self.any.bytes()
    }
}

impl RecallIndex {
    /// The levels of `group`, from `cache` when it has them (extended by
    /// the documents indexed since, if any), else computed (and kept).
    pub(super) fn levels(&self, group: &TermGroup, cache: Option<&LevelCache>) -> Arc<GroupLevels> {
        let Some(cache) = cache else {
            return Arc::new(self.group_levels(group, None));
        };
        let docs = self.docs.len() as u32;
        let cached = cache.get(group);
        let counted = |outcome: &'static str| {
            metrics::counter!("search_term_cache_requests_total", "outcome" => outcome).increment(1);
        };
        if let Some(levels) = cached.as_ref().filter(|levels| levels.docs == docs) {
            counted("hit");
            return Arc::clone(levels);
        }
        // Only levels over fewer documents are extended (the cache is emptied
        // with the index they were computed on, so none covers more).
        let base = cached.as_deref().filter(|levels| levels.docs < docs);
        counted(if base.is_some() { "extended" } else { "miss" });
        let levels = Arc::new(self.group_levels(group, base));
        cache.put(group, Arc::clone(&levels));
        levels
    }

    /// The levels of `group` over every document of the index: `base`'s
    /// (computed by this index over its first `base.docs` documents) plus
    /// those of the documents after them, or all of them computed here.
    pub(super) fn group_levels(&self, group: &TermGroup, base: Option<&GroupLevels>) -> GroupLevels {
        let docs = self.docs.len();
        let from = base.map_or(0, |b| b.docs);
        let start = |set: fn(&GroupLevels) -> &Bits| {
            base.map_or_else(|| Bits::zeros(docs), |b| set(b).grown_to(docs))
        };
        let own = self.word(group.term.as_str());
        let mut whole = start(|b| b.whole.bits());
        if let Some(word) = own {
            word.title.add_from(&mut whole, from);
        }
        let mut matched: Vec<&Word> = Vec::new();
        if group.term.len() >= MIN_PREFIX_LEN {
            let first = Bound::Included(group.term.as_str());
            matched.extend(
                self.words
                    .range::<str, _>((first, Bound::Unbounded))
                    .take_while(|(w, _)| w.starts_with(group.term.as_str()))
                    .map(|(_, &number)| &self.postings[number as usize]),
            );
        } else {
            matched.extend(self.word(group.term.as_str()));
        }
        matched.extend(group.variants.iter().filter_map(|v| self.word(v.as_str())));
        // Every title match starts from the term's own (its set, instead of
        // a second union of its list, usually the longest one).
        let mut partial = start(|b| b.partial.bits());
        partial.or_from(&whole, from);
        let mut elsewhere = start(|b| b.elsewhere.bits());
        for word in &matched {
            if !own.is_some_and(|own| std::ptr::eq(own, *word)) {
                word.title.add_from(&mut partial, from);
            }
            word.body.add_from(&mut elsewhere, from);
        }
        // `partial` holds every title match so far: what is left of the body
        // matches is elsewhere, and of the title matches the partial. Below
        // `from` (in the first word, which the steps above read whole) the
        // base's sets already obey this, so redoing it there changes nothing.
        elsewhere.and_not_from(&partial, from);
        let mut any = start(|b| &b.any);
        any.or_from(&partial, from);
        any.or_from(&elsewhere, from);
        partial.and_not_from(&whole, from);
        let summarized =
            |set: Bits, level: Level| Summarized::extending(base.map(|b| b.level(level)), set, from);
        GroupLevels {
            whole: summarized(whole, Level::Whole),
            partial: summarized(partial, Level::Partial),
            elsewhere: summarized(elsewhere, Level::Elsewhere),
            any,
            docs: docs as u32,
        }
    }
}

/// Entries kept at most, however small: eviction scans them.
const MAX_ENTRIES: usize = 1_024;

/// Bookkeeping per entry besides its sets and key text.
const ENTRY_OVERHEAD_BYTES: usize = 128;

/// Term groups' levels by group, bounded by bytes, least recently used
/// out first. One lock, held for a lookup or a store, never while levels
/// are computed.
pub(crate) struct LevelCache {
    budget: usize,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<TermGroup, Entry>,
    bytes: usize,
    clock: u64,
}

struct Entry {
    levels: Arc<GroupLevels>,
    used: u64,
    bytes: usize,
}

impl LevelCache {
    /// A cache of at most `mib` MiB; `None` for 0.
    pub(crate) fn new(mib: u64) -> Option<LevelCache> {
        let mib = usize::try_from(mib).ok().filter(|m| *m > 0)?;
        Some(LevelCache { budget: mib.saturating_mul(1024 * 1024), state: Mutex::default() })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // Every change below leaves the map and the byte count consistent
        // before anything that could panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, group: &TermGroup) -> Option<Arc<GroupLevels>> {
        let mut state = self.state();
        state.clock += 1;
        let now = state.clock;
        let entry = state.entries.get_mut(group)?;
        entry.used = now;
        Some(Arc::clone(&entry.levels))
    }

    /// Keeps `levels` for `group` unless it holds levels over more
    /// documents already, evicting the least recently used entries.
    fn put(&self, group: &TermGroup, levels: Arc<GroupLevels>) {
        let key_bytes = group.term.len() + group.variants.iter().map(String::len).sum::<usize>();
        let bytes = levels.bytes() + key_bytes + ENTRY_OVERHEAD_BYTES;
        if bytes > self.budget {
            return;
        }
        // Sets that leave are freed after the lock is released.
        let mut gone = Vec::new();
        let mut state = self.state();
        state.clock += 1;
        let now = state.clock;
        if state.entries.get(group).is_some_and(|held| held.levels.docs > levels.docs) {
            return;
        }
        let mut leave = |state: &mut CacheState, key: &TermGroup| {
            if let Some(entry) = state.entries.remove(key) {
                state.bytes -= entry.bytes;
                gone.push(entry);
            }
        };
        leave(&mut state, group);
        while state.bytes + bytes > self.budget || state.entries.len() >= MAX_ENTRIES {
            let Some(oldest) = state.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone())
            else {
                break;
            };
            leave(&mut state, &oldest);
        }
        state.bytes += bytes;
        state.entries.insert(group.clone(), Entry { levels, used: now, bytes });
        drop(state);
        drop(gone);
    }

    /// Forgets every entry (the index they were computed on is gone).
    pub(crate) fn clear(&self) {
        let mut state = self.state();
        state.entries.clear();
        state.bytes = 0;
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.state().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recalls::index::tests::group;

    fn levels(docs: usize) -> Arc<GroupLevels> {
        let set = || Bits::zeros(docs);
        Arc::new(GroupLevels {
            whole: Summarized::new(set()),
            partial: Summarized::new(set()),
            elsewhere: Summarized::new(set()),
            any: set(),
            docs: docs as u32,
        })
    }

    #[test]
    fn least_recently_used_groups_leave_first_and_levels_over_more_documents_stay() {
        // At a million documents a group's sets take about 506 KB (four sets
        // and three summaries): two fit in 1 MiB.
        let cache = LevelCache::new(1).unwrap();
        let (a, b, c) = (group("crib", &[]), group("crib", &["crab"]), group("lamp", &[]));
        cache.put(&a, levels(1_000_000));
        cache.put(&b, levels(1_000_000));
        assert!(cache.get(&a).is_some());
        cache.put(&c, levels(1_000_000));
        assert!(cache.get(&b).is_none(), "b was used least recently");
        assert!(cache.get(&a).is_some() && cache.get(&c).is_some());
        // Levels over fewer documents (computed before a write) do not
        // replace the extended ones; levels over more do.
        cache.put(&a, levels(999_000));
        assert_eq!(cache.get(&a).unwrap().docs, 1_000_000);
        cache.put(&a, levels(1_000_100));
        assert_eq!(cache.get(&a).unwrap().docs, 1_000_100);
        // A group larger than the whole budget is not kept, nor evicts.
        cache.put(&b, levels(4_000_000));
        assert!(cache.get(&b).is_none());
        assert_eq!(cache.len(), 2);
        let state = cache.state();
        assert_eq!(state.bytes, state.entries.values().map(|e| e.bytes).sum::<usize>());
        assert!(state.bytes <= 1024 * 1024);
        drop(state);
        cache.clear();
        assert_eq!((cache.len(), cache.state().bytes), (0, 0));
        assert!(LevelCache::new(0).is_none());
    }
}
