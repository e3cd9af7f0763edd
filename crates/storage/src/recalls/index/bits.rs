//! Sets of document numbers: dense bitsets for a query's working sets, and
//! posting lists that pick their form by density.

/// A set of document numbers, one bit each. A query's sets (a term group's
/// levels, the matches, a tier) are unions and intersections of posting
/// lists; as plain words those are a pass over memory with no allocation
/// and no conversion between container kinds, which is what made them the
/// largest cost when they were compressed (roaring) bitmaps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Bits(Vec<u64>);

impl Bits {
    /// The empty set over document numbers below `docs`.
    pub fn zeros(docs: usize) -> Bits {
        Bits(vec![0; docs.div_ceil(64)])
    }

    pub fn insert(&mut self, doc: u32) {
        let word = doc as usize / 64;
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (doc % 64);
    }

    pub fn remove(&mut self, doc: u32) {
        if let Some(word) = self.0.get_mut(doc as usize / 64) {
            *word &= !(1 << (doc % 64));
        }
    }

    pub fn contains(&self, doc: u32) -> bool {
        self.0.get(doc as usize / 64).is_some_and(|word| word >> (doc % 64) & 1 == 1)
    }

    pub fn len(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// `sets[0] & sets[1] & ...` in one pass, spanning `sets[0]`'s numbers
    /// (numbers beyond another set's words are not in it).
    pub fn intersection(sets: &[&Bits]) -> Bits {
        let Some((first, rest)) = sets.split_first() else { return Bits::default() };
        // A copy, then one plain pass per set (vectorized), measured faster
        // than one pass that gathers a word from every set.
        let mut all = first.0.clone();
        for set in rest {
            let n = set.0.len().min(all.len());
            for (a, b) in all[..n].iter_mut().zip(&set.0[..n]) {
                *a &= b;
            }
            all[n..].fill(0);
        }
        Bits(all)
    }

    /// `self |= other` for the words holding numbers at or above `from`
    /// (the first of them whole: it may add numbers just below `from`;
    /// `self` spans at least as many numbers).
    pub fn or_from(&mut self, other: &Bits, from: u32) {
        let first = from as usize / 64;
        for (a, b) in self.0.iter_mut().zip(&other.0).skip(first) {
            *a |= b;
        }
    }

    /// `self -= other` for the words holding numbers at or above `from`
    /// (the first of them whole).
    pub fn and_not_from(&mut self, other: &Bits, from: u32) {
        let first = from as usize / 64;
        for (a, b) in self.0.iter_mut().zip(&other.0).skip(first) {
            *a &= !b;
        }
    }

    /// A copy spanning the numbers below `docs` (those of `self` kept).
    pub fn grown_to(&self, docs: usize) -> Bits {
        let len = docs.div_ceil(64).max(self.0.len());
        let mut words = Vec::with_capacity(len);
        words.extend_from_slice(&self.0);
        words.resize(len, 0);
        Bits(words)
    }

    /// Bytes of memory the set takes.
    pub fn bytes(&self) -> usize {
        self.0.capacity() * 8
    }

    /// Word `i`; zero past the end.
    fn word(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// How many numbers at or above `from` are in the set.
    #[cfg(test)]
    pub fn count_from(&self, from: u32) -> u64 {
        count_in(word_range(self.0.len(), from, u32::MAX), |i| self.0[i], from)
    }

    /// Removes the numbers in `from..to`.
    pub fn clear_range(&mut self, from: u32, to: u32) {
        let (from, to) = (from as usize, (to as usize).min(self.0.len() * 64));
        if from >= to {
            return;
        }
        let (first, last) = (from / 64, (to - 1) / 64);
        for (i, word) in self.0[first..=last].iter_mut().enumerate().map(|(k, w)| (first + k, w)) {
            let mut mask = u64::MAX;
            if i == first {
                mask &= u64::MAX << (from % 64);
            }
            let end = to - i * 64;
            if i == last && end < 64 {
                mask &= (1 << end) - 1;
            }
            *word &= !mask;
        }
    }

    /// Keeps the numbers at or above `from` for which `keep` holds (those
    /// below stay).
    pub fn retain_from(&mut self, from: u32, mut keep: impl FnMut(u32) -> bool) {
        let first = from as usize / 64;
        for (i, word) in self.0.iter_mut().enumerate().skip(first) {
            let mut rest = if i == first { *word & (u64::MAX << (from % 64)) } else { *word };
            while rest != 0 {
                let bit = rest.trailing_zeros();
                rest &= rest - 1;
                if !keep(i as u32 * 64 + bit) {
                    *word &= !(1 << bit);
                }
            }
        }
    }

    /// The numbers in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter_range(0, u32::MAX)
    }

    /// The numbers in `from..to` in ascending order; words below `from`
    /// are not read.
    pub fn iter_range(&self, from: u32, to: u32) -> impl Iterator<Item = u32> + '_ {
        numbers_in(word_range(self.0.len(), from, to), move |i| self.0[i], from, to)
    }
}

/// A set and its summary, one bit per word of the set, set where that word
/// is not zero. [`Combined`] reads a word of an intersection only where
/// every set of one of its combinations has it in its summary, so a tier
/// whose levels rarely meet costs a pass over a 64th of the words instead
/// of all of them. (Matches made sparse by filters or other groups, where
/// the levels are dense, are still read word by word: the set it is taken
/// within has no summary.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Summarized {
    bits: Bits,
    summary: Bits,
}

impl Summarized {
    #[cfg(test)]
    pub fn new(bits: Bits) -> Summarized {
        Summarized::extending(None, bits, 0)
    }

    /// `bits` summarized, taking `base`'s summary for the words below the
    /// 64 that hold `from` (where `base` must hold the same numbers).
    pub fn extending(base: Option<&Summarized>, bits: Bits, from: u32) -> Summarized {
        let words = bits.0.len();
        let mut summary = base.map_or_else(|| Bits::zeros(words), |b| b.summary.grown_to(words));
        let start = from as usize / 64 / 64;
        for (to, chunk) in summary.0.iter_mut().zip(bits.0.chunks(64)).skip(start) {
            *to = chunk.iter().enumerate().fold(0, |s, (k, w)| s | u64::from(*w != 0) << k);
        }
        Summarized { bits, summary }
    }

    pub fn bits(&self) -> &Bits {
        &self.bits
    }

    /// Bytes of memory the set and its summary take.
    pub fn bytes(&self) -> usize {
        self.bits.bytes() + self.summary.bytes()
    }
}

/// A set given as a union of intersections inside a set,
/// `m & ((a & b & ...) | (c & d & ...))`, read word by word where it is
/// asked instead of being built: a tier of a search is its matches inside
/// one level per term group (for several combinations of levels), and a
/// page usually needs its first few hundred words, not all 16,000 of a
/// million recalls. A tier with fewer members than a page is read to the
/// end, so the words are visited through the levels' summaries: only those
/// where every level of some combination has members (a tier whose level
/// is empty, such as the whole word of a misspelt term, reads 245 summary
/// words at a million recalls instead of 16,000 words of each set).
pub(super) struct Combined<'a> {
    within: &'a Bits,
    terms: Vec<Vec<&'a Summarized>>,
}

impl<'a> Combined<'a> {
    /// `within & ((a & b & ...) | (c & d & ...))` for `terms`
    /// `[[a, b, ...], [c, d, ...]]`.
    pub fn new(within: &'a Bits, terms: Vec<Vec<&'a Summarized>>) -> Combined<'a> {
        Combined { within, terms }
    }

    fn word(&self, i: usize) -> u64 {
        match self.within.word(i) {
            0 => 0,
            within => within & self.union_of_ands(|set| set.bits.word(i)),
        }
    }

    /// `word` over the terms' summaries: the words of `i * 64..` that can
    /// hold members.
    fn summary_word(&self, i: usize) -> u64 {
        self.union_of_ands(|set| set.summary.word(i))
    }

    fn union_of_ands(&self, word: impl Fn(&Summarized) -> u64) -> u64 {
        let mut any = 0;
        for term in &self.terms {
            let mut all = u64::MAX;
            for set in term {
                all &= word(set);
                if all == 0 {
                    break;
                }
            }
            any |= all;
        }
        any
    }

    /// The words that can hold members in `from..to`, ascending.
    fn candidates(&self, from: u32, to: u32) -> impl Iterator<Item = usize> + '_ {
        let words = self.within.0.len();
        let range = word_range(words, from, to);
        let (first, end) = (range.start as u32, range.end as u32);
        numbers_in(word_range(words.div_ceil(64), first, end), |i| self.summary_word(i), first, end)
            .map(|i| i as usize)
    }

    pub fn contains(&self, doc: u32) -> bool {
        self.word(doc as usize / 64) >> (doc % 64) & 1 == 1
    }

    /// How many numbers at or above `from` are in the set.
    pub fn count_from(&self, from: u32) -> u64 {
        count_in(self.candidates(from, u32::MAX), |i| self.word(i), from)
    }

    /// The numbers in `from..to` in ascending order; words below `from`
    /// are not read, nor those after the last number taken, nor those
    /// some set's summary leaves out.
    pub fn iter_range(&self, from: u32, to: u32) -> impl Iterator<Item = u32> + '_ {
        numbers_in(self.candidates(from, to), move |i| self.word(i), from, to)
    }
}

/// The words of a set of `words` words that hold numbers in `from..to`.
fn word_range(words: usize, from: u32, to: u32) -> std::ops::Range<usize> {
    let first = from as usize / 64;
    first..(to as usize).div_ceil(64).min(words).max(first)
}

/// The words `indices` (ascending, none below the one holding `from`) by
/// index, without the numbers below `from`.
fn words_from(
    indices: impl Iterator<Item = usize>,
    word: impl Fn(usize) -> u64,
    from: u32,
) -> impl Iterator<Item = (usize, u64)> {
    let first = from as usize / 64;
    indices.map(move |i| (i, if i == first { word(i) & (u64::MAX << (from % 64)) } else { word(i) }))
}

/// How many numbers at or above `from` the words `indices` (ascending,
/// none below the one holding `from`) hold.
fn count_in(indices: impl Iterator<Item = usize>, word: impl Fn(usize) -> u64, from: u32) -> u64 {
    words_from(indices, word, from).map(|(_, w)| u64::from(w.count_ones())).sum()
}

/// The numbers in `from..to` that the words `indices` (ascending, none
/// below the one holding `from`) hold, in ascending order.
fn numbers_in(
    indices: impl Iterator<Item = usize>,
    word: impl Fn(usize) -> u64,
    from: u32,
    to: u32,
) -> impl Iterator<Item = u32> {
    words_from(indices, word, from)
        .flat_map(|(i, bits)| {
            let base = i as u32 * 64;
            std::iter::successors((bits != 0).then_some(bits), |rest| {
                let next = rest & (rest - 1);
                (next != 0).then_some(next)
            })
            .map(move |rest| base + rest.trailing_zeros())
        })
        .take_while(move |&d| d < to)
}

/// A posting list is a sorted vector of document numbers until it holds one
/// number in [`DENSE_SHARE`] (and at least [`DENSE_MIN`]); from then on one
/// bit per number costs no more than the vector's four bytes per member,
/// and joining it to a query's set is a pass over words. Compressed bitmaps
/// would halve the vectors but cost several times more to read into a set,
/// which a search does for every list it touches.
const DENSE_MIN: usize = 4_096;
const DENSE_SHARE: usize = 32;

/// The document numbers carrying one word (or filter value), in the form
/// that suits their density.
#[derive(Debug)]
pub(super) enum Postings {
    List(Vec<u32>),
    Dense(Bits),
}

impl Default for Postings {
    fn default() -> Self {
        Postings::List(Vec::new())
    }
}

impl Postings {
    /// Document numbers only grow, so a push keeps a list sorted.
    pub fn push(&mut self, doc: u32) {
        match self {
            Postings::List(list) => {
                list.push(doc);
                if list.len() >= DENSE_MIN && list.len() * DENSE_SHARE > doc as usize + 1 {
                    let mut bits = Bits::zeros(doc as usize + 1);
                    list.iter().for_each(|&d| bits.insert(d));
                    *self = Postings::Dense(bits);
                }
            }
            Postings::Dense(bits) => bits.insert(doc),
        }
    }

    /// `into |= self`.
    pub fn add_to(&self, into: &mut Bits) {
        self.add_from(into, 0);
    }

    /// `into |=` the members at or above `from` (of dense bits the first
    /// word whole: it may add members just below `from`).
    pub fn add_from(&self, into: &mut Bits, from: u32) {
        match self {
            Postings::List(list) => {
                let members = &list[list.partition_point(|&d| d < from)..];
                if let Some(&last) = members.last() {
                    into.insert(last);
                }
                members.iter().for_each(|&d| into.0[d as usize / 64] |= 1 << (d % 64));
            }
            Postings::Dense(bits) => into.or_from(bits, from),
        }
    }

    /// The members, ascending.
    pub fn for_each(&self, mut f: impl FnMut(u32)) {
        match self {
            Postings::List(list) => list.iter().for_each(|&d| f(d)),
            Postings::Dense(bits) => bits.iter().for_each(f),
        }
    }

    /// How many members there are.
    pub fn count(&self) -> usize {
        match self {
            Postings::List(list) => list.len(),
            Postings::Dense(bits) => bits.len() as usize,
        }
    }

    /// The members' new numbers under `renumber` (old number -> new one;
    /// `u32::MAX` or beyond its end: left out), in the form a build that
    /// pushed them in order would have chosen; `None` when none is left.
    pub fn renumbered(&self, renumber: &[u32]) -> Option<Postings> {
        let mut docs = Vec::with_capacity(self.count());
        self.for_each(|d| match renumber.get(d as usize) {
            Some(&new) if new != u32::MAX => docs.push(new),
            _ => {}
        });
        if docs.is_empty() {
            return None;
        }
        docs.sort_unstable();
        let mut postings = Postings::default();
        docs.into_iter().for_each(|d| postings.push(d));
        postings.shrink();
        Some(postings)
    }

    pub fn shrink(&mut self) {
        match self {
            Postings::List(list) => list.shrink_to_fit(),
            Postings::Dense(Bits(words)) => words.shrink_to_fit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::{collection::vec, prelude::*};

    use super::*;

    #[test]
    fn set_operations_over_words_of_different_lengths() {
        let mut a = Bits::zeros(200);
        [1, 63, 64, 130, 199].iter().for_each(|&d| a.insert(d));
        let mut short = Bits::zeros(65);
        [63, 64].iter().for_each(|&d| short.insert(d));
        assert_eq!(a.len(), 5);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![1, 63, 64, 130, 199]);
        let and = Bits::intersection(&[&a, &short]);
        assert_eq!(and.iter().collect::<Vec<_>>(), vec![63, 64]);
        assert_eq!(and.0.len(), a.0.len());
        let mut odd_low = Bits::zeros(200);
        [1, 3, 63, 130].iter().for_each(|&d| odd_low.insert(d));
        assert_eq!(Bits::intersection(&[&a, &odd_low, &short]).iter().collect::<Vec<_>>(), vec![63]);
        assert_eq!(Bits::intersection(&[&a]), a);
        assert_eq!(Bits::intersection(&[]).len(), 0);
        let mut minus = a.clone();
        minus.and_not_from(&short, 0);
        assert_eq!(minus.iter().collect::<Vec<_>>(), vec![1, 130, 199]);
        // From 64 on: word 0 (1, 63) is left alone.
        let mut minus_from = a.clone();
        minus_from.and_not_from(&short, 64);
        assert_eq!(minus_from.iter().collect::<Vec<_>>(), vec![1, 63, 130, 199]);
        let mut or = Bits::zeros(200);
        or.or_from(&short, 0);
        assert_eq!(or.iter().collect::<Vec<_>>(), vec![63, 64]);
        let mut or_from = Bits::zeros(200);
        or_from.or_from(&short, 64);
        assert_eq!(or_from.iter().collect::<Vec<_>>(), vec![64]);
        let grown = short.grown_to(300);
        assert_eq!((grown.iter().collect::<Vec<_>>(), grown.bytes()), (vec![63, 64], 5 * 8));
        let (mut odd, mut low) = (Bits::zeros(200), Bits::zeros(200));
        (1..200).step_by(2).for_each(|d| odd.insert(d));
        (0..70).for_each(|d| low.insert(d));
        let [odd, low, short_] = [&odd, &low, &short].map(|set| Summarized::new(set.clone()));
        let both = Combined::new(&a, vec![vec![&odd, &low]]);
        assert_eq!(both.iter_range(0, u32::MAX).collect::<Vec<_>>(), vec![1, 63]);
        let union_of_ands = Combined::new(&a, vec![vec![&odd, &low], vec![&short_]]);
        assert_eq!(union_of_ands.iter_range(0, u32::MAX).collect::<Vec<_>>(), vec![1, 63, 64]);
        assert_eq!(union_of_ands.iter_range(2, 64).collect::<Vec<_>>(), vec![63]);
        let counts =
            (union_of_ands.count_from(0), union_of_ands.count_from(64), union_of_ands.count_from(65));
        assert_eq!(counts, (3, 1, 0));
        assert!(union_of_ands.contains(64) && !union_of_ands.contains(130) && !union_of_ands.contains(9_999));
        assert_eq!(a.iter_range(63, 131).collect::<Vec<_>>(), vec![63, 64, 130]);
        assert_eq!(a.iter_range(64, 64).count() + a.iter_range(500, 900).count(), 0);
        assert_eq!((a.count_from(0), a.count_from(64), a.count_from(131), a.count_from(9_999)), (5, 3, 1, 0));
        let mut cleared = a.clone();
        cleared.clear_range(2, 130);
        assert_eq!(cleared.iter().collect::<Vec<_>>(), vec![1, 130, 199]);
        cleared.clear_range(0, 10_000);
        assert_eq!(cleared.len(), 0);
        let mut kept = a.clone();
        kept.retain_from(64, |d| d != 130);
        assert_eq!(kept.iter().collect::<Vec<_>>(), vec![1, 63, 64, 199]);
        a.retain_from(0, |d| d % 2 == 1);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![1, 63, 199]);
        a.remove(63);
        assert!(!a.contains(63) && a.contains(199) && !a.contains(10_000));
    }

    /// Sets over 40,000 numbers (10 summary words) made of runs and
    /// scattered numbers, so that whole summary words are empty in some.
    fn sets() -> impl Strategy<Value = Vec<BTreeSet<u32>>> {
        let set =
            (vec((0u32..40_000, 0u32..400), 0..12), vec(0u32..40_000, 0..40)).prop_map(|(runs, singles)| {
                runs.into_iter()
                    .flat_map(|(start, len)| start..(start + len).min(40_000))
                    .chain(singles)
                    .collect()
            });
        vec(set, 4)
    }

    fn bits_of(set: &BTreeSet<u32>) -> Bits {
        let mut bits = Bits::zeros(40_000);
        set.iter().for_each(|&d| bits.insert(d));
        bits
    }

    proptest! {
        #[test]
        fn summarized_intersections_read_as_the_sets_they_stand_for(
            sets in sets(),
            from in 0u32..41_000,
            span in 0u32..41_000,
            extend_from in 0u32..40_000,
        ) {
            let summarized: Vec<Summarized> = sets.iter().map(|s| Summarized::new(bits_of(s))).collect();
            // 0 & ((1 & 2) | 3), as a tier of the matches.
            let combined = Combined::new(
                summarized[0].bits(),
                vec![vec![&summarized[1], &summarized[2]], vec![&summarized[3]]],
            );
            let expected: BTreeSet<u32> = sets[0]
                .iter()
                .copied()
                .filter(|d| (sets[1].contains(d) && sets[2].contains(d)) || sets[3].contains(d))
                .collect();
            let to = from.saturating_add(span);
            prop_assert_eq!(
                combined.iter_range(from, to).collect::<Vec<_>>(),
                expected.range(from..to).copied().collect::<Vec<_>>()
            );
            prop_assert_eq!(combined.count_from(from), expected.range(from..).count() as u64);
            prop_assert_eq!(combined.contains(from), expected.contains(&from));
            // No term: the set itself.
            let all = Combined::new(summarized[0].bits(), vec![Vec::new()]);
            prop_assert_eq!(
                all.iter_range(from, to).collect::<Vec<_>>(),
                sets[0].range(from..to).copied().collect::<Vec<_>>()
            );
            // A summary extended from a base over fewer numbers equals one
            // computed whole.
            let base_set: BTreeSet<u32> = sets[0].range(..extend_from).copied().collect();
            let mut base_bits = Bits::zeros(extend_from as usize);
            base_set.iter().for_each(|&d| base_bits.insert(d));
            let base = Summarized::new(base_bits);
            let extended = Summarized::extending(Some(&base), bits_of(&sets[0]), extend_from);
            prop_assert_eq!(&extended, &summarized[0]);
        }
    }

    #[test]
    fn postings_turn_into_bits_once_dense() {
        // One number in 100 stays a list however long it gets.
        let mut sparse = Postings::default();
        (0..10_000u32).for_each(|d| sparse.push(d * 100));
        assert!(matches!(sparse, Postings::List(_)));
        // One in two turns into bits at the minimum length.
        let mut dense = Postings::default();
        (0..DENSE_MIN as u32 - 1).for_each(|d| dense.push(d * 2));
        assert!(matches!(dense, Postings::List(_)));
        dense.push(20_000);
        assert!(matches!(dense, Postings::Dense(_)));
        dense.push(20_001);
        let mut from_dense = Bits::zeros(30_000);
        dense.add_to(&mut from_dense);
        assert_eq!(from_dense.len(), DENSE_MIN as u64 + 1);
        assert!(from_dense.contains(8_188) && from_dense.contains(20_001) && !from_dense.contains(8_189));
        let mut from_list = Bits::zeros(30_000);
        sparse.add_to(&mut from_list);
        assert_eq!(from_list.len(), 10_000);
        assert!(from_list.contains(999_900) && !from_list.contains(999_901));
        // Only the members from a number on (a dense list's first word whole).
        let mut list_tail = Bits::zeros(0);
        sparse.add_from(&mut list_tail, 999_800);
        assert_eq!(list_tail.iter().collect::<Vec<_>>(), vec![999_800, 999_900]);
        let mut dense_tail = Bits::zeros(30_000);
        dense.add_from(&mut dense_tail, 8_150);
        let word_of_8150 = (8_128..=8_188).step_by(2);
        assert_eq!(
            dense_tail.iter().collect::<Vec<_>>(),
            word_of_8150.chain([20_000, 20_001]).collect::<Vec<_>>()
        );
    }
}
