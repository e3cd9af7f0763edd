//! The words of the catalogue, held in memory so a misspelled query term can
//! be matched to the words recalls really use ("pacifer" -> "pacifier").

use std::collections::{HashMap, HashSet};

use babyshield_domain::text::{bounded_levenshtein, typo_budget};

/// Most typo variants one query term expands to.
const MAX_VARIANTS: usize = 8;

#[derive(Debug, Default)]
pub struct Vocabulary {
    words: HashSet<String>,
    /// Words grouped by length, for a cheap length pre-filter, with their
    /// [`letters`] signatures for a second one.
    by_len: Vec<Bucket>,
    /// For each signature, where its words are: (length, position in that
    /// length's bucket). A term allowed one edit looks up the 529 signatures
    /// within two bits of its own instead of scanning every signature.
    by_signature: HashMap<u32, Vec<(u32, u32)>>,
}

/// The words of one length. The signatures sit in an array of their own:
/// a misspelled term tests every signature of up to five lengths (about
/// 450,000 at a million recalls), and four bytes each is a short pass over
/// memory where a (signature, word) pair was 32.
#[derive(Debug, Default)]
struct Bucket {
    signatures: Vec<u32>,
    words: Vec<String>,
}

/// Which characters a word contains, as bits (a-z one each, digits folded
/// into six). One edit changes at most two bits, so words whose signatures
/// differ in more than `2 * budget` bits cannot be within the budget: at a
/// million recalls (about 560,000 words) this skips the edit-distance
/// computation for nearly every word.
fn letters(word: &str) -> u32 {
    word.bytes().fold(0, |mask, b| match b {
        b'a'..=b'z' => mask | 1 << (b - b'a'),
        b'0'..=b'9' => mask | 1 << (26 + (b - b'0') % 6),
        _ => mask,
    })
}

/// `x.count_ones() <= most`, for small `most`: clearing the lowest set bit
/// `most` times leaves nothing. Without the POPCNT instruction (not in the
/// baseline x86-64 target this builds for) a few subtractions are cheaper
/// than a software bit count, and this runs for every signature scanned.
fn at_most_bits(mut x: u32, most: u32) -> bool {
    for _ in 0..most {
        x &= x.wrapping_sub(1);
    }
    x == 0
}

impl Vocabulary {
    pub fn new(words: Vec<String>) -> Vocabulary {
        let mut by_len: Vec<Bucket> = Vec::new();
        let mut by_signature: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
        for word in &words {
            if by_len.len() <= word.len() {
                by_len.resize_with(word.len() + 1, Bucket::default);
            }
            let bucket = &mut by_len[word.len()];
            let signature = letters(word);
            by_signature.entry(signature).or_default().push((word.len() as u32, bucket.words.len() as u32));
            bucket.signatures.push(signature);
            bucket.words.push(word.clone());
        }
        Vocabulary { words: words.into_iter().collect(), by_len, by_signature }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Known words within the term's typo budget, closest first. Empty when
    /// the term is itself a known word or too short to correct.
    pub fn typo_variants(&self, term: &str) -> Vec<String> {
        let budget = typo_budget(term);
        if budget == 0 || self.words.contains(term) {
            return Vec::new();
        }
        let candidates = if budget == 1 { self.near_signature(term) } else { self.scan(term, budget) };
        let mut found: Vec<(usize, &String)> = candidates
            .into_iter()
            .filter_map(|word| bounded_levenshtein(term, word, budget).map(|d| (d, word)))
            .collect();
        found.sort();
        found.into_iter().take(MAX_VARIANTS).map(|(_, w)| w.clone()).collect()
    }

    /// Words whose length is within `budget` of the term's and whose
    /// signature is within `2 * budget` bits of its own, by scanning the
    /// signatures of those lengths.
    fn scan(&self, term: &str, budget: usize) -> Vec<&String> {
        let lengths = term.len().saturating_sub(budget)..=term.len() + budget;
        let (signature, most_bits) = (letters(term), 2 * budget as u32);
        lengths
            .filter_map(|len| self.by_len.get(len))
            .flat_map(|bucket| {
                (bucket.signatures.iter().enumerate())
                    .filter(move |(_, mask)| at_most_bits(*mask ^ signature, most_bits))
                    .map(|(i, _)| &bucket.words[i])
            })
            .collect()
    }

    /// [`Vocabulary::scan`] for a budget of one edit, by looking up the
    /// signatures within two bits of the term's.
    fn near_signature(&self, term: &str) -> Vec<&String> {
        let signature = letters(term);
        let lengths = term.len().saturating_sub(1)..=term.len() + 1;
        let flips = std::iter::once(0).chain((0..32).map(|i| 1u32 << i));
        let near = flips.clone().flat_map(|a| flips.clone().filter(move |&b| b > a).map(move |b| a | b));
        std::iter::once(signature)
            .chain(near.map(|flip| signature ^ flip))
            .filter_map(|mask| self.by_signature.get(&mask))
            .flatten()
            .filter(|(len, _)| lengths.contains(&(*len as usize)))
            .map(|&(len, i)| &self.by_len[len as usize].words[i as usize])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> Vocabulary {
        Vocabulary::new(
            ["pacifier", "pacifiers", "crib", "cribs", "stroller", "magnet"].map(String::from).to_vec(),
        )
    }

    #[test]
    fn a_misspelled_word_finds_the_real_one() {
        assert_eq!(vocabulary().typo_variants("pacifer"), vec!["pacifier"]);
        assert_eq!(vocabulary().typo_variants("strolelr"), vec!["stroller"]);
    }

    #[test]
    fn a_known_word_is_not_expanded() {
        assert!(vocabulary().typo_variants("pacifier").is_empty());
    }

    #[test]
    fn three_letter_terms_are_never_corrected_but_four_letter_ones_are() {
        let vocabulary = Vocabulary::new(vec!["cot".into(), "crib".into()]);
        assert!(vocabulary.typo_variants("cat").is_empty());
        assert_eq!(vocabulary.typo_variants("crab"), vec!["crib"]);
    }

    #[test]
    fn unrelated_words_are_not_variants() {
        assert!(vocabulary().typo_variants("blanket").is_empty());
    }

    proptest::proptest! {
        /// The signature pre-filter never drops a word the edit distance
        /// would accept.
        #[test]
        fn the_signature_filter_keeps_every_word_within_the_budget(
            a in "[a-e0-9]{1,10}",
            b in "[a-e0-9]{1,10}",
        ) {
            if let Some(distance) = bounded_levenshtein(&a, &b, 2) {
                proptest::prop_assert!((letters(&a) ^ letters(&b)).count_ones() as usize <= 2 * distance);
            }
        }

        /// Looking up the signatures near a term finds the words scanning
        /// finds.
        #[test]
        fn the_signature_lookup_finds_what_the_scan_finds(
            words in proptest::collection::vec("[a-f0-9]{3,7}", 1..200),
            term in "[a-f0-9]{3,8}",
        ) {
            let vocabulary = Vocabulary::new(words);
            let (mut near, mut scanned) = (vocabulary.near_signature(&term), vocabulary.scan(&term, 1));
            near.sort();
            scanned.sort();
            proptest::prop_assert_eq!(near, scanned);
        }

        #[test]
        fn clearing_low_bits_counts_like_count_ones(x in proptest::prelude::any::<u32>(), most in 0u32..6) {
            proptest::prop_assert_eq!(at_most_bits(x, most), x.count_ones() <= most);
        }
    }
}
