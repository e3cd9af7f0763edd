//! The catalogue's search index, in memory: what makes a search at a million
//! recalls a matter of bitmaps instead of database scans.
//!
//! Every recall gets a document number in the order it was indexed. Each
//! word of the search text has two posting lists of document numbers (title
//! and body; `bits.rs` picks a sorted list or plain bits by density), and
//! each filter value (agency, severity, category) and each
//! recall date one more. A query is then set algebra over plain bitsets:
//! - a term group's three levels (whole title word, partial title match,
//!   elsewhere; `tiers.rs`) are unions of the bitmaps of the words it
//!   matches (the term, the words it is a prefix of, its typo variants);
//! - the exact `total` is the cardinality of their intersection with the
//!   filters;
//! - a tier's page is read in result order: document numbers are handed
//!   out in that order (newest date first, then id) when the index is
//!   built, so a page is the first set bits after a position, found by a
//!   binary search; the levels' summaries (`bits::Summarized`) skip the
//!   words where a tier has no members. Recalls added since the build come
//!   after, out of order, and are read newest date first through date lists
//!   of their own until the owner rebuilds the index.
//!
//! Scores, order, totals and keyset positions are exactly those of the SQL
//! engines (`query.rs`; the ranking test holds all three to the reference
//! that scores every match). A changed recall gets a new document number and
//! the old one leaves the `live` bitmap; when dead or out-of-order numbers
//! outweigh live ones the owner makes a compact copy of the index
//! (`start_compaction`, `copy_words`; `index_sync.rs`).

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use babyshield_domain::{RecallFilters, ymd};
mod bits;
mod levels;
use bits::{Bits, Combined, Postings};
pub(crate) use levels::LevelCache;

use super::{
    query::{After, POINTS_PER_TERM, RecallQuery},
    tiers::{self, Tier},
};

/// One recall row as the index reads it from the database.
#[derive(Debug, Clone)]
pub(crate) struct IndexRow {
    pub rid: i64,
    pub id: String,
    pub recall_date: String,
    pub agency_code: String,
    pub severity: Option<String>,
    pub risk_category: Option<String>,
    pub search_title: String,
    pub search_body: String,
    /// The catalogue generation that wrote this version of the row
    /// (`recalls.change_gen`): with `rid` it names the version, which is
    /// what the document cache (`documents.rs`) is keyed by.
    pub change_gen: i64,
}

/// The columns of [`IndexRow`] as a query returns them (`index_sync.rs`).
pub(crate) type IndexColumns =
    (i64, String, String, String, Option<String>, Option<String>, String, String, i64);

impl From<IndexColumns> for IndexRow {
    fn from(c: IndexColumns) -> IndexRow {
        IndexRow {
            rid: c.0,
            id: c.1,
            recall_date: c.2,
            agency_code: c.3,
            severity: c.4,
            risk_category: c.5,
            search_title: c.6,
            search_body: c.7,
            change_gen: c.8,
        }
    }
}

/// A recall of a result page, in result order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub score: i64,
    pub rid: i64,
    /// The version of the recall the index holds ([`IndexRow::change_gen`]).
    pub change_gen: i64,
    pub recall_date: String,
    pub id: String,
}

/// Why a row could not be indexed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IndexError {
    #[error("recall {0}: row id out of range")]
    Rid(i64),
    #[error("recall {id}: recall date {date:?} is not YYYY-MM-DD")]
    Date { id: String, date: String },
    #[error("the index holds 2^32 document numbers; rebuild it")]
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Doc {
    rid: u32,
    /// `YYYYMMDD`: larger is newer.
    day: u32,
    id: Box<str>,
    change_gen: i64,
}

#[derive(Debug, Default)]
struct Word {
    title: Postings,
    body: Postings,
}

/// Below this many candidates among the recalls added since the build, a
/// tier's share of them is sorted whole; above, it is read date by date,
/// newest first, until the page is full.
const SORT_WHOLE: u64 = 2_048;

#[derive(Default)]
pub(crate) struct RecallIndex {
    docs: Vec<Doc>,
    /// Document numbers below this are in result order: recall date newest
    /// first, then id (a build reads recalls in that order; `upsert` checks
    /// it). Later ones were added out of order and are in `tail_by_day`.
    ordered: u32,
    /// The current version of each recall (a changed recall's old number
    /// leaves it).
    live: Bits,
    live_count: u64,
    by_rid: HashMap<u32, u32>,
    /// Each word's number in `postings`, in word order (a prefix is a
    /// range). Numbers are never reused or removed while the index lives,
    /// so a row's words can be looked up before the write lock
    /// ([`RecallIndex::resolve`]).
    words: BTreeMap<Box<str>, u32>,
    /// The posting lists, by word number: in word order after a build
    /// ([`RecallIndex::shrink`]) or a compaction, new words at the end.
    postings: Vec<Word>,
    /// Document numbers from `ordered` on, by recall date, ascending.
    tail_by_day: BTreeMap<u32, Vec<u32>>,
    by_agency: HashMap<Box<str>, Postings>,
    by_severity: HashMap<Box<str>, Postings>,
    by_category: HashMap<Box<str>, Postings>,
}

/// A compact copy of a [`RecallIndex`] under way
/// ([`RecallIndex::start_compaction`]).
pub(crate) struct Compaction {
    /// Old document number -> new one (`u32::MAX`: dead when it started).
    renumber: Vec<u32>,
    index: RecallIndex,
    /// The last word copied.
    copied_to: Option<Box<str>>,
}

impl Compaction {
    /// The copy, once [`RecallIndex::copy_words`] said every word is copied.
    pub(crate) fn finish(self) -> RecallIndex {
        self.index
    }
}

/// What the index holds, for metrics and health pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexStats {
    pub recalls: u64,
    /// Document numbers of recalls changed since the last build.
    pub dead: u64,
    /// Document numbers added since the last build, out of result order.
    pub unordered: u64,
    pub words: u64,
}

/// Facet key of a missing severity or category.
const NONE: &str = "";

fn day_of(date: &str) -> Option<u32> {
    let d = date.as_bytes();
    if d.len() != 10 || d[4] != b'-' || d[7] != b'-' {
        return None;
    }
    date.chars().filter(|c| *c != '-').collect::<String>().parse().ok()
}

fn date_of(day: u32) -> String {
    format!("{:04}-{:02}-{:02}", day / 10_000, day / 100 % 100, day % 100)
}

/// The distinct words of a search text (stored as normalized words
/// separated by spaces).
fn distinct_words(text: &str) -> Vec<&str> {
    let mut words: Vec<&str> = text.split_ascii_whitespace().collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// A row's distinct words, looked up in one index ([`RecallIndex::resolve`]):
/// the word's number when the index has it, else the word. What is left for
/// [`RecallIndex::upsert_resolved`] (under a write lock) is pushing
/// document numbers, not searching the word tree.
#[derive(Debug)]
pub(crate) struct ResolvedWords<'a> {
    title: Vec<Result<u32, &'a str>>,
    body: Vec<Result<u32, &'a str>>,
}

impl RecallIndex {
    pub(crate) fn stats(&self) -> IndexStats {
        IndexStats {
            recalls: self.live_count,
            dead: self.docs.len() as u64 - self.live_count,
            unordered: (self.docs.len() - self.ordered as usize) as u64,
            words: self.words.len() as u64,
        }
    }

    /// The posting lists of a word, if any recall had it.
    fn word(&self, text: &str) -> Option<&Word> {
        self.words.get(text).map(|&number| &self.postings[number as usize])
    }

    /// Adds a word not in the index yet; returns its number.
    fn add_word(&mut self, text: Box<str>, word: Word) -> u32 {
        let number = self.postings.len() as u32;
        self.postings.push(word);
        self.words.insert(text, number);
        number
    }

    /// Looks up `row`'s words, for [`RecallIndex::upsert_resolved`] on this
    /// same index. Needs only shared access, so a writer does it beside the
    /// searches.
    pub(crate) fn resolve<'a>(&self, row: &'a IndexRow) -> ResolvedWords<'a> {
        self.resolve_by(row, |word| self.words.get(word).copied())
    }

    /// [`RecallIndex::resolve`] through `found`, the words of earlier rows
    /// already looked up in this same index: the rows of one write share
    /// most of their words, and a hash lookup costs a fraction of a walk
    /// down the word tree (string comparisons at every level). Words the
    /// index does not have are not remembered: an earlier row's upsert
    /// may have added them since.
    pub(crate) fn resolve_remembering<'a>(
        &self,
        row: &'a IndexRow,
        found: &mut HashMap<&'a str, u32>,
    ) -> ResolvedWords<'a> {
        self.resolve_by(row, |word| match found.get(word) {
            Some(&number) => Some(number),
            None => {
                let number = self.words.get(word).copied()?;
                found.insert(word, number);
                Some(number)
            }
        })
    }

    /// `row`'s distinct words, each with the number `number` gives it.
    fn resolve_by<'a>(
        &self,
        row: &'a IndexRow,
        mut number: impl FnMut(&'a str) -> Option<u32>,
    ) -> ResolvedWords<'a> {
        let mut look = |text: &'a str| -> Vec<Result<u32, &'a str>> {
            distinct_words(text).into_iter().map(|w| number(w).ok_or(w)).collect()
        };
        ResolvedWords { title: look(&row.search_title), body: look(&row.search_body) }
    }

    /// Adds a recall, replacing the version indexed before (same row id).
    pub(crate) fn upsert(&mut self, row: &IndexRow) -> Result<(), IndexError> {
        let words = self.resolve(row);
        self.upsert_resolved(row, &words)
    }

    /// [`RecallIndex::upsert`] with the row's words looked up in this index
    /// before ([`RecallIndex::resolve`]; word numbers stay valid for the
    /// index's life, and a word added since is found again).
    pub(crate) fn upsert_resolved(
        &mut self,
        row: &IndexRow,
        words: &ResolvedWords<'_>,
    ) -> Result<(), IndexError> {
        let rid = u32::try_from(row.rid).map_err(|_| IndexError::Rid(row.rid))?;
        let day = day_of(&row.recall_date)
            .ok_or_else(|| IndexError::Date { id: row.id.clone(), date: row.recall_date.clone() })?;
        let doc = u32::try_from(self.docs.len()).map_err(|_| IndexError::Full)?;
        if let Some(old) = self.by_rid.insert(rid, doc) {
            self.live.remove(old);
            self.live_count -= 1;
        }
        for (resolved, in_title) in [(&words.title, true), (&words.body, false)] {
            for word in resolved {
                let number = match *word {
                    Ok(number) => number,
                    Err(text) => match self.words.get(text) {
                        Some(&number) => number,
                        None => self.add_word(text.into(), Word::default()),
                    },
                };
                let entry = &mut self.postings[number as usize];
                if in_title { entry.title.push(doc) } else { entry.body.push(doc) }
            }
        }
        let in_order = self.ordered as usize == self.docs.len()
            && self
                .docs
                .last()
                .is_none_or(|last| (Reverse(last.day), &*last.id) < (Reverse(day), row.id.as_str()));
        if in_order {
            self.ordered += 1;
        } else {
            self.tail_by_day.entry(day).or_default().push(doc);
        }
        let facet = |map: &mut HashMap<Box<str>, Postings>, value: &str| match map.get_mut(value) {
            Some(postings) => postings.push(doc),
            None => {
                let mut postings = Postings::default();
                postings.push(doc);
                map.insert(value.into(), postings);
            }
        };
        facet(&mut self.by_agency, &row.agency_code);
        facet(&mut self.by_severity, row.severity.as_deref().unwrap_or(NONE));
        facet(&mut self.by_category, row.risk_category.as_deref().unwrap_or(NONE));
        self.docs.push(Doc { rid, day, id: row.id.as_str().into(), change_gen: row.change_gen });
        self.live.insert(doc);
        self.live_count += 1;
        Ok(())
    }

    /// Starts a compact copy of the index: the recalls live now, numbered
    /// in result order, with no dead or out-of-order document numbers, as a
    /// build from the database would number them, without reading or
    /// tokenizing anything again. One pass over the documents and the filter
    /// lists; the words follow a part at a time ([`RecallIndex::copy_words`]),
    /// so the owner can let writes in between.
    pub(crate) fn start_compaction(&self) -> Compaction {
        let mut order: Vec<u32> = (0..self.docs.len() as u32).filter(|&d| self.live.contains(d)).collect();
        order.sort_unstable_by(|a, b| self.order(*a).cmp(&self.order(*b)));
        let mut renumber = vec![u32::MAX; self.docs.len()];
        let mut index = RecallIndex { live: Bits::zeros(order.len()), ..RecallIndex::default() };
        index.docs.reserve_exact(order.len());
        index.by_rid.reserve(order.len());
        for (new, &old) in order.iter().enumerate() {
            let new = new as u32;
            renumber[old as usize] = new;
            let doc = &self.docs[old as usize];
            index.by_rid.insert(doc.rid, new);
            index.docs.push(doc.clone());
            index.live.insert(new);
        }
        index.live_count = order.len() as u64;
        index.ordered = order.len() as u32;
        let facets = |from: &HashMap<Box<str>, Postings>| -> HashMap<Box<str>, Postings> {
            (from.iter())
                .filter_map(|(value, postings)| Some((value.clone(), postings.renumbered(&renumber)?)))
                .collect()
        };
        index.by_agency = facets(&self.by_agency);
        index.by_severity = facets(&self.by_severity);
        index.by_category = facets(&self.by_category);
        Compaction { renumber, index, copied_to: None }
    }

    /// Copies the next words of `compaction`, at least one and until about
    /// `budget` document numbers were read. Document numbers given out
    /// after [`RecallIndex::start_compaction`] are left out, so writes that
    /// came in between do not matter (their rows are applied to the copy
    /// afterwards). Returns whether every word is copied.
    pub(crate) fn copy_words(&self, compaction: &mut Compaction, budget: usize) -> bool {
        let from = match &compaction.copied_to {
            Some(last) => Bound::Excluded(&**last),
            None => Bound::Unbounded,
        };
        let mut read = 0;
        let mut last: Option<&Box<str>> = None;
        for (text, &number) in self.words.range::<str, _>((from, Bound::Unbounded)) {
            let word = &self.postings[number as usize];
            if read >= budget && last.is_some() {
                compaction.copied_to = last.cloned();
                return false;
            }
            read += word.title.count() + word.body.count();
            last = Some(text);
            let title = word.title.renumbered(&compaction.renumber);
            let body = word.body.renumbered(&compaction.renumber);
            if title.is_some() || body.is_some() {
                let copy = Word { title: title.unwrap_or_default(), body: body.unwrap_or_default() };
                compaction.index.add_word(text.clone(), copy);
            }
        }
        true
    }

    /// Releases the spare capacity left by building, and puts the posting
    /// lists in word order (a build numbers words as it first meets them):
    /// a prefix's words are then neighbours in memory too.
    pub(crate) fn shrink(&mut self) {
        let mut first_met = std::mem::take(&mut self.postings);
        self.postings.reserve_exact(first_met.len());
        for number in self.words.values_mut() {
            self.postings.push(std::mem::take(&mut first_met[*number as usize]));
            *number = self.postings.len() as u32 - 1;
        }
        for word in &mut self.postings {
            word.title.shrink();
            word.body.shrink();
        }
        for facets in [&mut self.by_agency, &mut self.by_severity, &mut self.by_category] {
            facets.values_mut().for_each(Postings::shrink);
        }
        self.docs.shrink_to_fit();
    }

    /// One page of `query` in result order (score desc, date desc, id asc)
    /// strictly after `after`, skipping `offset`, and the total. `None` for
    /// queries the SQL engines answer instead: an exact id (a primary-key
    /// read) and more term groups than have tiers.
    pub(crate) fn search(
        &self,
        query: &RecallQuery,
        after: Option<&After>,
        offset: u32,
        limit: u32,
        cache: Option<&LevelCache>,
    ) -> Option<(i64, Vec<Hit>)> {
        if query.id.is_some() {
            return None;
        }
        let tiers = if query.groups.is_empty() {
            vec![Tier { score: POINTS_PER_TERM, combos: vec![Vec::new()] }]
        } else {
            tiers::tiers(&query.groups)?
        };
        let days = day_range(&query.filters);
        let levels: Vec<_> = query.groups.iter().map(|g| self.levels(g, cache)).collect();

        // Live, passing the filters and matching every group: one intersection.
        let facets = self.facet_sets(&query.filters);
        let mut matches = Bits::intersection(
            &(std::iter::once(&self.live).chain(facets.iter().map(|set| &**set)))
                .chain(levels.iter().map(|group| group.any()))
                .collect::<Vec<_>>(),
        );
        if days != (0, u32::MAX) {
            let (from, to) = self.ordered_span(days, None);
            matches.clear_range(0, from);
            matches.clear_range(to, self.ordered);
            matches.retain_from(self.ordered, |d| in_days(self.docs[d as usize].day, days));
        }
        let total = matches.len();

        let want = offset as usize + limit as usize;
        let mut picked: Vec<(i64, u32)> = Vec::new();
        for tier in &tiers {
            if picked.len() >= want || (after.is_none() && picked.len() as u64 >= total) {
                break;
            }
            let position = match after {
                Some(a) if tier.score > a.score => continue,
                Some(a) if tier.score == a.score => Some(a),
                _ => None,
            };
            // The union of the tier's combinations, each the matches
            // inside one level per group, read only as far as the page goes.
            let members = Combined::new(
                &matches,
                (tier.combos.iter())
                    .map(|combo| levels.iter().zip(combo).map(|(group, level)| group.level(*level)).collect())
                    .collect(),
            );
            let need = want - picked.len();
            picked.extend(self.in_order(&members, position, days, need).into_iter().map(|d| (tier.score, d)));
        }
        let hits = picked
            .into_iter()
            .skip(offset as usize)
            .map(|(score, d)| {
                let doc = &self.docs[d as usize];
                Hit {
                    score,
                    rid: i64::from(doc.rid),
                    change_gen: doc.change_gen,
                    recall_date: date_of(doc.day),
                    id: doc.id.to_string(),
                }
            })
            .collect();
        Some((i64::try_from(total).unwrap_or(i64::MAX), hits))
    }

    /// One set per agency, severity and category filter given: the
    /// recalls with any of its values (a value's own bits when it has
    /// them, no copy).
    fn facet_sets<'a>(&'a self, filters: &RecallFilters) -> Vec<Cow<'a, Bits>> {
        let docs = self.docs.len();
        let allowed = |values: Vec<Option<&'a Postings>>| -> Cow<'a, Bits> {
            if let [Some(Postings::Dense(bits))] = values[..] {
                return Cow::Borrowed(bits);
            }
            let mut set = Bits::zeros(docs);
            values.into_iter().flatten().for_each(|postings| postings.add_to(&mut set));
            Cow::Owned(set)
        };
        let mut sets = Vec::new();
        if !filters.agencies.is_empty() {
            sets.push(allowed(filters.agencies.iter().map(|a| self.by_agency.get(a.as_str())).collect()));
        }
        if let Some(severity) = filters.severity {
            sets.push(allowed(vec![self.by_severity.get(severity.as_str())]));
        }
        if let Some(category) = filters.risk_category {
            sets.push(allowed(vec![self.by_category.get(category.as_str())]));
        }
        sets
    }

    /// Up to `need` of `members` in result order (date desc, id asc),
    /// strictly after `position` and inside `days`.
    fn in_order(
        &self,
        members: &Combined,
        position: Option<&After>,
        days: (u32, u32),
        need: usize,
    ) -> Vec<u32> {
        let (from, to) = self.ordered_span(days, position);
        let mut found: Vec<u32> = members.iter_range(from, to).take(need).collect();
        let tail = self.tail_in_order(members, position, days, need);
        if !tail.is_empty() {
            found.extend(tail);
            found.sort_unstable_by(|a, b| self.order(*a).cmp(&self.order(*b)));
            found.truncate(need);
        }
        found
    }

    /// A document's place in result order.
    fn order(&self, doc: u32) -> (Reverse<u32>, &str) {
        let doc = &self.docs[doc as usize];
        (Reverse(doc.day), &doc.id)
    }

    /// The document numbers of the ordered part inside `days` and strictly
    /// after `position`, as a range (binary searches over result order).
    fn ordered_span(&self, days: (u32, u32), position: Option<&After>) -> (u32, u32) {
        let docs = &self.docs[..self.ordered as usize];
        let mut from = docs.partition_point(|d| d.day > days.1);
        if let Some(a) = position {
            let key = (Reverse(day_of(&a.recall_date).unwrap_or(u32::MAX)), a.id.as_str());
            from = from.max(docs.partition_point(|d| (Reverse(d.day), &*d.id) <= key));
        }
        let to = docs.partition_point(|d| d.day >= days.0).max(from);
        (from as u32, to as u32)
    }

    /// [`RecallIndex::in_order`] for the documents added since the build.
    fn tail_in_order(
        &self,
        members: &Combined,
        position: Option<&After>,
        days: (u32, u32),
        need: usize,
    ) -> Vec<u32> {
        let position_day = position.map(|a| day_of(&a.recall_date).unwrap_or(u32::MAX));
        let start = position_day.map_or(days.1, |d| d.min(days.1));
        let after = |d: u32| -> bool {
            let doc = &self.docs[d as usize];
            match (position, position_day) {
                (Some(a), Some(a_day)) => doc.day < a_day || (doc.day == a_day && *doc.id > *a.id.as_str()),
                _ => true,
            }
        };
        let by_id = |a: &u32, b: &u32| self.docs[*a as usize].id.cmp(&self.docs[*b as usize].id);
        if members.count_from(self.ordered) <= SORT_WHOLE {
            let mut found: Vec<u32> = members
                .iter_range(self.ordered, u32::MAX)
                .filter(|&d| in_days(self.docs[d as usize].day, (days.0, start)) && after(d))
                .collect();
            found.sort_unstable_by(|a, b| self.order(*a).cmp(&self.order(*b)));
            found.truncate(need);
            return found;
        }
        let mut found = Vec::with_capacity(need);
        for (_, day) in self.tail_by_day.range(days.0..=start).rev() {
            let mut of_day: Vec<u32> =
                day.iter().copied().filter(|&d| members.contains(d) && after(d)).collect();
            of_day.sort_unstable_by(by_id);
            found.extend(of_day.into_iter().take(need - found.len()));
            if found.len() >= need {
                break;
            }
        }
        found
    }
}

/// The date filters as an inclusive `YYYYMMDD` range.
fn day_range(filters: &RecallFilters) -> (u32, u32) {
    let day = |d: time::Date| day_of(&ymd::format(d));
    (filters.date_from.and_then(day).unwrap_or(0), filters.date_to.and_then(day).unwrap_or(u32::MAX))
}

fn in_days(day: u32, (from, to): (u32, u32)) -> bool {
    from <= day && day <= to
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recalls::query::TermGroup;
    use babyshield_domain::{AgencyCode, Severity};

    fn row(rid: i64, id: &str, date: &str, title: &str, body: &str) -> IndexRow {
        IndexRow {
            rid,
            id: id.into(),
            recall_date: date.into(),
            agency_code: if rid % 2 == 0 { "CPSC".into() } else { "FDA".into() },
            severity: (rid % 3 == 0).then(|| "high".to_string()),
            risk_category: None,
            search_title: format!(" {title} "),
            search_body: body.into(),
            change_gen: rid * 10,
        }
    }

    pub(super) fn group(term: &str, variants: &[&str]) -> TermGroup {
        TermGroup { term: term.into(), variants: variants.iter().map(|v| v.to_string()).collect() }
    }

    fn query(groups: Vec<TermGroup>) -> RecallQuery {
        RecallQuery { groups, id: None, filters: RecallFilters::default() }
    }

    fn ids(hits: &[Hit]) -> Vec<(i64, &str)> {
        hits.iter().map(|h| (h.score, h.id.as_str())).collect()
    }

    fn index() -> RecallIndex {
        let mut index = RecallIndex::default();
        for r in [
            row(1, "A-1", "2024-01-05", "crib sheet", "soft"),
            row(2, "A-2", "2024-01-06", "cribs and bumpers", "crib"),
            row(3, "A-3", "2024-01-06", "stroller", "a crib was involved"),
            row(4, "A-0", "2024-01-06", "crib", ""),
            row(5, "A-5", "2023-05-01", "cirb typo", ""),
        ] {
            index.upsert(&r).unwrap();
        }
        index
    }

    #[test]
    fn levels_score_whole_then_partial_then_elsewhere_newest_first() {
        let (total, hits) = index().search(&query(vec![group("crib", &[])]), None, 0, 10, None).unwrap();
        assert_eq!(total, 4);
        // 100: whole title word, newest date first, then id; 70: "cribs";
        // 40: only the body says crib.
        assert_eq!(ids(&hits), vec![(100, "A-0"), (100, "A-1"), (70, "A-2"), (40, "A-3")]);
        assert_eq!(hits[0].recall_date, "2024-01-06");
        assert_eq!(hits[0].rid, 4);
    }

    #[test]
    fn typo_variants_match_partially_and_keyset_positions_resume() {
        let ix = index();
        let q = query(vec![group("cirb", &["crib"])]);
        let (total, all) = ix.search(&q, None, 0, 10, None).unwrap();
        assert_eq!(total, 5);
        // "cirb" itself is a whole word of A-5; "crib" (a variant) is partial.
        assert_eq!(all[0].id, "A-5");
        let mut walked = Vec::new();
        let mut after: Option<After> = None;
        loop {
            let (_, page) = ix.search(&q, after.as_ref(), 0, 2, None).unwrap();
            if page.is_empty() {
                break;
            }
            let last = page.last().unwrap();
            after =
                Some(After { score: last.score, recall_date: last.recall_date.clone(), id: last.id.clone() });
            walked.extend(page);
        }
        assert_eq!(walked, all);
        let (_, skipped) = ix.search(&q, None, 3, 10, None).unwrap();
        assert_eq!(skipped, all[3..].to_vec());
    }

    #[test]
    fn a_changed_recall_replaces_its_old_version() {
        let mut ix = index();
        ix.upsert(&row(4, "A-0", "2020-01-01", "lamp", "")).unwrap();
        let (total, hits) = ix.search(&query(vec![group("crib", &[])]), None, 0, 10, None).unwrap();
        assert_eq!(total, 3);
        assert!(hits.iter().all(|h| h.id != "A-0"));
        let (_, lamp) = ix.search(&query(vec![group("lamp", &[])]), None, 0, 10, None).unwrap();
        assert_eq!(ids(&lamp), vec![(100, "A-0")]);
        assert_eq!(lamp[0].recall_date, "2020-01-01");
        assert_eq!(ix.stats(), IndexStats { recalls: 5, dead: 1, unordered: 5, words: ix.stats().words });
    }

    #[test]
    fn filters_restrict_matches_and_the_total() {
        let ix = index();
        let mut q = query(vec![group("crib", &[])]);
        q.filters.agencies = vec![AgencyCode::parse("CPSC").unwrap()];
        let (total, hits) = ix.search(&q, None, 0, 10, None).unwrap();
        assert_eq!((total, ids(&hits)), (2, vec![(100, "A-0"), (70, "A-2")]));
        q.filters.agencies.clear();
        q.filters.severity = Some(Severity::High);
        assert_eq!(ix.search(&q, None, 0, 10, None).unwrap().0, 1);
        q.filters.severity = None;
        q.filters.date_from = ymd::parse("2024-01-06");
        q.filters.date_to = ymd::parse("2024-01-06");
        let (total, hits) = ix.search(&q, None, 0, 10, None).unwrap();
        assert_eq!((total, ids(&hits)), (3, vec![(100, "A-0"), (70, "A-2"), (40, "A-3")]));
    }

    #[test]
    fn no_terms_lists_every_recall_newest_first() {
        let (total, hits) = index().search(&query(Vec::new()), None, 0, 3, None).unwrap();
        assert_eq!(total, 5);
        assert_eq!(ids(&hits), vec![(100, "A-0"), (100, "A-2"), (100, "A-3")]);
    }

    #[test]
    fn short_terms_match_whole_words_only_and_id_queries_go_to_sql() {
        let mut ix = RecallIndex::default();
        ix.upsert(&row(1, "B-1", "2024-01-01", "tv stand", "")).unwrap();
        ix.upsert(&row(2, "B-2", "2024-01-01", "tvs", "")).unwrap();
        let (total, hits) = ix.search(&query(vec![group("tv", &[])]), None, 0, 10, None).unwrap();
        assert_eq!((total, ids(&hits)), (1, vec![(100, "B-1")]));
        let mut by_id = query(Vec::new());
        by_id.id = Some("B-1".into());
        assert!(ix.search(&by_id, None, 0, 10, None).is_none());
    }

    #[test]
    fn large_tiers_are_read_date_by_date() {
        let mut ix = RecallIndex::default();
        for i in 0..5_000i64 {
            let date = format!("2020-{:02}-{:02}", 1 + (i % 12), 1 + (i % 28));
            ix.upsert(&row(i + 1, &format!("C-{:05}", (i * 7919) % 10_000), &date, "crib", "")).unwrap();
        }
        let q = query(vec![group("crib", &[])]);
        let (total, hits) = ix.search(&q, None, 0, 50, None).unwrap();
        assert_eq!(total, 5_000);
        let mut sorted = hits.clone();
        sorted.sort_by(|a, b| b.recall_date.cmp(&a.recall_date).then_with(|| a.id.cmp(&b.id)));
        assert_eq!(hits, sorted);
        assert_eq!(hits[0].recall_date, "2020-12-28");
        let last = hits.last().unwrap();
        let after = After { score: last.score, recall_date: last.recall_date.clone(), id: last.id.clone() };
        let (_, next) = ix.search(&q, Some(&after), 0, 1, None).unwrap();
        let (_, both) = ix.search(&q, None, 0, 51, None).unwrap();
        assert_eq!(next[0], both[50]);
    }

    /// Pages, totals and keyset positions do not depend on whether recalls
    /// were indexed in result order (a build), out of it (added later), or
    /// half and half.
    #[test]
    fn result_order_does_not_depend_on_the_order_recalls_were_indexed_in() {
        let words = ["crib", "cribs", "sheet", "lamp", "stroller", "strap"];
        let mut rows: Vec<IndexRow> = (0..600i64)
            .map(|i| {
                let n = (i * 7_919 % 600) as usize;
                let title = format!("{} {}", words[n % 6], words[n / 6 % 6]);
                let date = format!("2023-{:02}-{:02}", 1 + n % 5, 1 + n / 5 % 3);
                row(i + 1, &format!("R-{:03}", n / 2), &date, &title, words[n / 36 % 6])
            })
            .collect();
        rows.retain({
            let mut seen = std::collections::HashSet::new();
            move |r| seen.insert(r.id.clone())
        });
        let key = |r: &IndexRow| (Reverse(r.recall_date.clone()), r.id.clone());
        let mut sorted = rows.clone();
        sorted.sort_by_key(key);
        let build = |rows: &[IndexRow]| {
            let mut ix = RecallIndex::default();
            rows.iter().for_each(|r| ix.upsert(r).unwrap());
            ix
        };
        let ordered = build(&sorted);
        let shuffled = build(&rows);
        let half = build(&[&sorted[..sorted.len() / 2], &rows[..]].concat());
        assert_eq!(ordered.stats().unordered, 0);
        assert!(shuffled.stats().unordered > 250);
        assert_eq!(half.stats().dead, (sorted.len() / 2) as u64);

        let mut queries = vec![query(Vec::new()), query(vec![group("crib", &[])])];
        queries.push(query(vec![group("stra", &["strap"]), group("lamp", &[])]));
        let mut dated = query(vec![group("sheet", &[])]);
        dated.filters.date_from = ymd::parse("2023-02-02");
        dated.filters.date_to = ymd::parse("2023-04-01");
        queries.push(dated);
        for q in &queries {
            let (total, all) = ordered.search(q, None, 0, 1_000, None).unwrap();
            assert!(total > 0);
            for other in [&shuffled, &half] {
                assert_eq!(other.search(q, None, 0, 1_000, None).unwrap(), (total, all.clone()));
                assert_eq!(
                    other.search(q, None, 7, 5, None).unwrap().1,
                    all[7.min(all.len())..12.min(all.len())]
                );
            }
            for at in [0, all.len() / 3, all.len() - 1] {
                let a = &all[at];
                let after = After { score: a.score, recall_date: a.recall_date.clone(), id: a.id.clone() };
                let next = ordered.search(q, Some(&after), 0, 25, None).unwrap();
                assert_eq!(next.1, all[at + 1..(at + 26).min(all.len())]);
                for other in [&shuffled, &half] {
                    assert_eq!(other.search(q, Some(&after), 0, 25, None).unwrap(), next);
                }
            }
        }
    }

    /// A compaction gives what a build in result order gives, also when
    /// recalls are written to the original while the words are copied.
    #[test]
    fn a_compact_copy_equals_a_build_in_result_order() {
        let words = ["crib", "cribs", "sheet", "lamp", "stroller", "strap"];
        let rows: Vec<IndexRow> = (0..400i64)
            .map(|i| {
                let n = (i * 7_919 % 400) as usize;
                let title = format!("{} {}", words[n % 6], words[n / 6 % 6]);
                let date = format!("2023-{:02}-{:02}", 1 + n % 5, 1 + n / 5 % 3);
                row(i + 1, &format!("R-{n:03}"), &date, &title, words[n / 36 % 6])
            })
            .collect();
        // The first half written twice (the second time changed, so
        // different words), the rest out of result order.
        let changed = |r: &IndexRow| IndexRow { search_body: format!("{} lamp", r.search_body), ..r.clone() };
        let mut original = RecallIndex::default();
        rows.iter().for_each(|r| original.upsert(r).unwrap());
        rows[..200].iter().for_each(|r| original.upsert(&changed(r)).unwrap());
        assert!(original.stats().dead == 200 && original.stats().unordered > 300);

        let mut compaction = original.start_compaction();
        let mut parts = 0;
        while !original.copy_words(&mut compaction, 40) {
            parts += 1;
            // A write between two parts: a changed recall and a new one.
            original.upsert(&changed(&changed(&rows[300]))).unwrap();
            original.upsert(&row(10_000 + parts, &format!("N-{parts}"), "2023-01-01", "crib", "")).unwrap();
        }
        assert!(parts > 3, "copied in {parts} parts");
        let compact = compaction.finish();

        let mut final_rows: Vec<IndexRow> =
            rows[..200].iter().map(changed).chain(rows[200..].iter().cloned()).collect();
        final_rows.sort_by_key(|r| (Reverse(r.recall_date.clone()), r.id.clone()));
        let mut built = RecallIndex::default();
        final_rows.iter().for_each(|r| built.upsert(r).unwrap());
        assert_eq!(compact.stats(), built.stats());
        assert_eq!((compact.stats().dead, compact.stats().unordered), (0, 0));
        assert!(compact.words.keys().eq(built.words.keys()));
        assert_eq!(compact.docs, built.docs);

        let mut filtered = query(vec![group("crib", &[])]);
        filtered.filters.agencies = vec![AgencyCode::parse("CPSC").unwrap()];
        filtered.filters.severity = Some(Severity::High);
        for q in [query(Vec::new()), query(vec![group("lamp", &[]), group("stra", &["strap"])]), filtered] {
            let expected = built.search(&q, None, 0, 1_000, None).unwrap();
            assert!(expected.0 > 0);
            assert_eq!(compact.search(&q, None, 0, 1_000, None).unwrap(), expected);
        }
        // The copy takes writes like any index.
        let mut compact = compact;
        compact.upsert(&changed(&rows[0])).unwrap();
        assert_eq!(compact.stats().dead, 1);
    }

    /// Four writes, the second adding the word "zebra" that the later ones
    /// use too, and the index of them written by plain upserts.
    fn rows_adding_a_word() -> ([IndexRow; 4], RecallIndex) {
        let rows = [
            row(1, "R-1", "2024-03-01", "crib sheet", "strap"),
            row(2, "R-2", "2024-03-02", "zebra crib", "lamp zebra"),
            row(3, "R-3", "2024-02-01", "zebra lamp", "cribs"),
            row(1, "R-1", "2024-03-01", "crib sheet zebra", "strap lamp"),
        ];
        let mut plain = RecallIndex::default();
        rows.iter().for_each(|r| plain.upsert(r).unwrap());
        (rows, plain)
    }

    /// Words remembered across the rows of one write (as `index_sync`
    /// resolves a page slice by slice) index the rows as plain upserts do:
    /// a word the index lacked is not remembered, so a later slice finds
    /// it once an earlier row added it.
    #[test]
    fn words_remembered_across_rows_index_as_upserts() {
        let (rows, plain) = rows_adding_a_word();

        let mut remembering = RecallIndex::default();
        remembering.upsert(&rows[0]).unwrap();
        let mut found = HashMap::new();
        // One slice of one row, then one of two.
        let first = remembering.resolve_remembering(&rows[1], &mut found);
        assert!(first.title.contains(&Err("zebra")) && first.title.contains(&Ok(0)));
        assert!(found.contains_key("crib") && !found.contains_key("zebra"));
        remembering.upsert_resolved(&rows[1], &first).unwrap();
        let rest: Vec<ResolvedWords> =
            rows[2..].iter().map(|r| remembering.resolve_remembering(r, &mut found)).collect();
        assert!(found.contains_key("zebra") && !found.contains_key("cribs"));
        for (r, words) in rows[2..].iter().zip(&rest) {
            remembering.upsert_resolved(r, words).unwrap();
        }
        assert_eq!(remembering.stats(), plain.stats());
        assert!(remembering.words.keys().eq(plain.words.keys()));
        for word in ["zebra", "crib", "cribs", "lamp", "strap", "sheet"] {
            let q = query(vec![group(word, &[])]);
            let expected = plain.search(&q, None, 0, 100, None).unwrap();
            assert!(expected.0 > 0, "{word}");
            assert_eq!(remembering.search(&q, None, 0, 100, None).unwrap(), expected, "{word}");
        }
    }

    /// Words looked up before other writes (as `index_sync` does outside
    /// the write lock) index a row exactly as a plain upsert would, also
    /// when a write in between added one of its new words.
    #[test]
    fn words_resolved_before_other_writes_index_as_an_upsert() {
        let (rows, plain) = rows_adding_a_word();

        let mut resolved = RecallIndex::default();
        resolved.upsert(&rows[0]).unwrap();
        let early: Vec<ResolvedWords> = rows[1..].iter().map(|r| resolved.resolve(r)).collect();
        assert!(early[0].title.contains(&Err("zebra")) && early[0].title.contains(&Ok(0)));
        // Row 2 adds "zebra"; rows 3 and 4 were resolved before it existed.
        for (r, words) in rows[1..].iter().zip(&early) {
            resolved.upsert_resolved(r, words).unwrap();
        }
        assert_eq!(resolved.stats(), plain.stats());
        assert!(resolved.words.keys().eq(plain.words.keys()));
        assert_eq!(resolved.postings.len(), resolved.words.len());
        assert!(
            (resolved.words.values().map(|&n| &resolved.postings[n as usize]))
                .zip(plain.words.values().map(|&n| &plain.postings[n as usize]))
                .all(|(a, b)| a.title.count() == b.title.count() && a.body.count() == b.body.count())
        );
        let queries = [
            query(vec![group("zebra", &[])]),
            query(vec![group("crib", &[])]),
            query(vec![group("lamp", &[])]),
        ];
        for q in &queries {
            let expected = plain.search(q, None, 0, 100, None).unwrap();
            assert!(expected.0 > 0);
            assert_eq!(resolved.search(q, None, 0, 100, None).unwrap(), expected);
        }
        // Shrinking puts the lists in word order; the answers stay.
        assert!(!resolved.words.values().copied().eq(0..resolved.postings.len() as u32));
        resolved.shrink();
        assert!(resolved.words.values().copied().eq(0..resolved.postings.len() as u32));
        for q in &queries {
            assert_eq!(
                resolved.search(q, None, 0, 100, None).unwrap(),
                plain.search(q, None, 0, 100, None).unwrap()
            );
        }
    }

    /// Searches through the term cache answer exactly as searches that
    /// compute every level, while recalls are added (in and out of result
    /// order, some words turning into dense bits), changed and given new
    /// words that old prefixes match; cached levels are extended, not
    /// recomputed, and equal levels computed from scratch.
    #[test]
    fn cached_term_levels_stay_equal_to_computed_ones_while_recalls_are_written() {
        let words = ["crib", "cribs", "cribbage", "crab", "strap", "lamp", "zebra", "seat", "bath", "cirb"];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut ix = RecallIndex::default();
        let cache = LevelCache::new(64).unwrap();
        let queries = [
            query(vec![group("crib", &[])]),
            query(vec![group("cri", &["crab"])]),
            query(vec![group("zebra", &[]), group("lamp", &[])]),
            query(vec![group("cribbages", &["cribbage"])]),
            query(vec![group("tv", &[])]),
            query(vec![group("newword", &[])]),
            RecallQuery {
                filters: RecallFilters {
                    agencies: vec![AgencyCode::parse("CPSC").unwrap()],
                    severity: Some(Severity::High),
                    ..RecallFilters::default()
                },
                ..query(vec![group("crib", &[])])
            },
        ];
        // The current version of each recall: (title, body).
        let mut current: HashMap<u64, (String, &str)> = HashMap::new();
        let mut fresh = 0_u64;
        for batch in 0..90 {
            for _ in 0..97 {
                // A tenth of the rows change a recall written before.
                let rid = if fresh > 10 && next(10) == 0 {
                    next(fresh) + 1
                } else {
                    fresh += 1;
                    fresh
                };
                let day = if next(4) == 0 { 1 + next(28) } else { 28 - (rid * 28 / 9_000).min(27) };
                let mut title: Vec<&str> =
                    (0..1 + next(3)).map(|_| words[next(words.len() as u64) as usize]).collect();
                if batch >= 60 && next(5) == 0 {
                    title.push("newwords");
                }
                let body = if next(2) == 0 { "crib tv" } else { "strap" };
                let r = row(
                    rid as i64,
                    &format!("R-{rid}"),
                    &format!("2024-02-{day:02}"),
                    &title.join(" "),
                    body,
                );
                ix.upsert(&r).unwrap();
                current.insert(rid, (title.join(" "), body));
            }
            for q in &queries {
                let computed = ix.search(q, None, 0, 30, None).unwrap();
                assert_eq!(
                    ix.search(q, None, 0, 30, Some(&cache)).unwrap(),
                    computed,
                    "batch {batch}, {q:?}"
                );
                for g in &q.groups {
                    let cached = cache.get(g).unwrap();
                    assert_eq!(cached.docs as usize, ix.docs.len());
                    assert_eq!(*cached, ix.group_levels(g, None), "batch {batch}, {g:?}");
                }
            }
        }
        assert!(ix.postings.iter().any(|w| matches!(w.body, Postings::Dense(_))));
        assert!(ix.stats().dead > 0 && ix.stats().unordered > 0);
        assert_eq!(cache.len(), 7);
        // The filtered total, counted by hand (`row`: even row ids are CPSC,
        // multiples of 3 high), with the agency's list in bits.
        assert!(matches!(ix.by_agency.get("CPSC"), Some(Postings::Dense(_))));
        let by_hand = (current.iter())
            .filter(|(rid, (title, body))| {
                *rid % 6 == 0 && (title.split(' ').any(|w| w.starts_with("crib")) || body.contains("crib"))
            })
            .count();
        assert!(by_hand > 100, "{by_hand}");
        assert_eq!(ix.search(&queries[6], None, 0, 1, Some(&cache)).unwrap().0, by_hand as i64);
    }

    #[test]
    fn bad_rows_are_refused() {
        let mut ix = RecallIndex::default();
        assert!(matches!(ix.upsert(&row(-1, "X", "2024-01-01", "a", "")), Err(IndexError::Rid(-1))));
        assert!(matches!(ix.upsert(&row(1, "X", "01/02/2024", "a", "")), Err(IndexError::Date { .. })));
        assert_eq!(ix.stats().recalls, 0);
    }
}
