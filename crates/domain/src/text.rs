//! Text normalization shared by indexing and querying.
//!
//! Recalls and queries must be folded the same way or a search for "creme"
//! misses "Crème"; keeping both sides on these functions guarantees it.

/// Lowercases, folds common Latin accents to ASCII, turns every
/// non-alphanumeric character into a space, collapses spaces and trims.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_normalized(&mut out, s);
    out
}

/// Appends `normalize(s)` to `out`, one space apart from what `out` already
/// holds: `normalize(a + " " + b)` without building the joined string.
fn push_normalized(out: &mut String, s: &str) {
    // A part always starts a new word (as after the space that would join
    // it); `out.is_empty()` keeps the first word from getting one.
    let mut pending_space = true;
    for c in s.chars() {
        // ASCII, nearly all recall text, takes the short way: its lowercase
        // is one ASCII char, it is never a combining mark or an accented
        // letter, and its alphanumerics are `is_ascii_alphanumeric`.
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c.to_ascii_lowercase());
            } else {
                pending_space = true;
            }
            continue;
        }
        for lower in c.to_lowercase() {
            if is_combining_mark(lower) {
                // Decomposed accents ("e\u{301}") and the dot of lowercased 'İ'.
                continue;
            }
            let folded = fold_latin(lower);
            let word_char = match folded {
                Some(_) => true,
                None => lower.is_alphanumeric(),
            };
            if !word_char {
                pending_space = true;
                continue;
            }
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            match folded {
                Some(ascii) => out.push_str(ascii),
                None => out.push(lower),
            }
        }
    }
}

fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// ASCII spelling of a lowercase accented Latin letter, if it is one.
fn fold_latin(c: char) -> Option<&'static str> {
    let ascii = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    };
    Some(ascii)
}

/// The words of `normalize(s)`. No stemming or stop words: ranking decides
/// what matters, and allergen names must survive verbatim.
pub fn tokenize(s: &str) -> Vec<String> {
    normalize(s).split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// The normalized text of a recall as the search index sees it. Title words
/// (title, product name, brand) are kept apart so ranking can weight them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchDocument {
    pub title: String,
    pub body: String,
}

impl SearchDocument {
    /// Normalizes and joins the given parts; `None` and empty parts are
    /// skipped.
    pub fn from_parts<'a>(
        title: impl IntoIterator<Item = Option<&'a str>>,
        body: impl IntoIterator<Item = Option<&'a str>>,
    ) -> SearchDocument {
        SearchDocument { title: join_normalized(title), body: join_normalized(body) }
    }
}

fn join_normalized<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let mut out = String::new();
    for part in parts.into_iter().flatten() {
        push_normalized(&mut out, part);
    }
    out
}

/// Edit distance between `a` and `b` (bytes) when it is at most `max`,
/// else `None`. Stops as soon as the bound is certain to be exceeded, which
/// keeps fuzzy matching cheap over many candidate terms.
pub fn bounded_levenshtein(a: &str, b: &str, max: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    if a.is_empty() || b.is_empty() {
        return Some(a.len().max(b.len()));
    }
    // Two rows of the distance matrix; on the stack for words of up to 63
    // bytes (every vocabulary word), as typo matching runs this for many
    // candidate words per query term.
    let (mut short_prev, mut short_curr) = ([0usize; 64], [0usize; 64]);
    let (mut long_prev, mut long_curr) = (Vec::new(), Vec::new());
    let (mut prev, mut curr): (&mut [usize], &mut [usize]) = if b.len() < 64 {
        (&mut short_prev[..=b.len()], &mut short_curr[..=b.len()])
    } else {
        long_prev.resize(b.len() + 1, 0);
        long_curr.resize(b.len() + 1, 0);
        (&mut long_prev, &mut long_curr)
    };
    prev.iter_mut().enumerate().for_each(|(j, v)| *v = j);
    for (i, &ca) in a.iter().enumerate() {
        curr[0] = i + 1;
        let mut row_min = curr[0];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            curr[j + 1] = substitution.min(prev[j + 1] + 1).min(curr[j] + 1);
            row_min = row_min.min(curr[j + 1]);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut curr);
    }
    let distance = prev[b.len()];
    (distance <= max).then_some(distance)
}

/// How many typos a query token may contain and still match: short words
/// would match too much if any edit were allowed.
pub fn typo_budget(token: &str) -> usize {
    match token.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalize_lowercases_folds_accents_and_collapses_punctuation() {
        assert_eq!(normalize("  Crème Brûlée!! (Größe XL) "), "creme brulee grosse xl");
        assert_eq!(normalize("Smørrebrød & Æble—Œuvre"), "smorrebrod aeble oeuvre");
        assert_eq!(normalize("Cre\u{301}me"), "creme");
        assert_eq!(normalize("İstanbul"), "istanbul");
        assert_eq!(normalize("Model#A-12/b"), "model a 12 b");
        assert_eq!(normalize("..."), "");
    }

    #[test]
    fn normalize_keeps_non_latin_letters() {
        assert_eq!(normalize("Детская КРОВАТКА"), "детская кроватка");
    }

    #[test]
    fn tokenize_splits_normalized_words_without_stemming() {
        assert_eq!(
            tokenize("Undeclared MILK; may contain peanuts."),
            ["undeclared", "milk", "may", "contain", "peanuts"]
        );
        assert!(tokenize(" -- ").is_empty());
    }

    #[test]
    fn search_document_skips_missing_parts() {
        let doc = SearchDocument::from_parts(
            [Some("Crib Recall"), None, Some("ACME")],
            [Some("Fall hazard"), Some("")],
        );
        assert_eq!(doc.title, "crib recall acme");
        assert_eq!(doc.body, "fall hazard");
    }

    #[test]
    fn bounded_levenshtein_returns_distance_only_within_bound() {
        assert_eq!(bounded_levenshtein("kitten", "sitting", 3), Some(3));
        assert_eq!(bounded_levenshtein("kitten", "sitting", 2), None);
        assert_eq!(bounded_levenshtein("stroller", "stroler", 1), Some(1));
        assert_eq!(bounded_levenshtein("same", "same", 0), Some(0));
        assert_eq!(bounded_levenshtein("", "abc", 3), Some(3));
        assert_eq!(bounded_levenshtein("a", "abcdef", 2), None);
        // Beyond the stack rows' 63 bytes.
        let long = "ab".repeat(40);
        let edited = format!("{}x{}", &long[..40], &long[41..]);
        assert_eq!(bounded_levenshtein(&long, &edited, 2), Some(1));
        assert_eq!(bounded_levenshtein(&long[..63], &long[..64], 1), Some(1));
    }

    #[test]
    fn typo_budget_grows_with_token_length() {
        assert_eq!(typo_budget("cot"), 0);
        assert_eq!(typo_budget("crib"), 1);
        assert_eq!(typo_budget("stroller"), 2);
    }

    /// `normalize` spelled out the plain way, every character through the
    /// Unicode tables: the reference for its ASCII short way.
    fn normalize_char_by_char(s: &str) -> String {
        let spaced: String = s
            .chars()
            .flat_map(char::to_lowercase)
            .filter(|c| !is_combining_mark(*c))
            .map(|c| match fold_latin(c) {
                Some(ascii) => ascii.to_string(),
                None if c.is_alphanumeric() => c.to_string(),
                None => " ".to_string(),
            })
            .collect();
        spaced.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
    }

    /// Unbounded reference implementation.
    fn levenshtein(a: &[u8], b: &[u8]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut curr = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                curr[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(curr[j] + 1);
            }
            prev = curr;
        }
        prev[b.len()]
    }

    proptest! {
        #[test]
        fn bounded_levenshtein_agrees_with_the_plain_distance(
            a in "[a-d]{0,9}|[a-d]{60,67}", b in "[a-d]{0,9}|[a-d]{60,67}", max in 0usize..5
        ) {
            let exact = levenshtein(a.as_bytes(), b.as_bytes());
            let expected = (exact <= max).then_some(exact);
            prop_assert_eq!(bounded_levenshtein(&a, &b, max), expected);
        }

        #[test]
        fn normalize_takes_ascii_the_short_way_without_changing_a_word(
            s in "([ -~]|\\PC|[\u{300}-\u{36f}]|[ÀÉİßœŁ]){0,40}"
        ) {
            prop_assert_eq!(normalize(&s), normalize_char_by_char(&s));
        }

        #[test]
        fn search_text_parts_normalize_as_their_joined_text(
            parts in proptest::collection::vec(proptest::option::of("([ -~]|\\PC|\u{301}){0,12}"), 0..6)
        ) {
            let joined: Vec<&str> = parts.iter().flatten().map(String::as_str).collect();
            let document = SearchDocument::from_parts(parts.iter().map(Option::as_deref), []);
            prop_assert_eq!(document.title, normalize(&joined.join(" ")));
        }

        #[test]
        fn normalize_is_idempotent_and_has_no_stray_spaces(s in "\\PC{0,40}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
            prop_assert!(!once.contains("  "));
        }
    }
}
