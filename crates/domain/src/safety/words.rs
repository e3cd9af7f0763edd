//! Word-level phrase matching shared by the allergen, age and name rules.
//!
//! Text goes through [`crate::text::tokenize`] and each token is then
//! *folded*: a plural ending is dropped so "walnuts" meets "walnut" and
//! "anchovies" meets "anchovy". Phrases are matched on whole folded words,
//! so "nut" never matches inside "walnut".

use crate::text::tokenize;

/// The comparison form of one normalized token.
pub(crate) fn fold(token: &str) -> String {
    let len = token.len();
    if len > 4
        && let Some(stem) = token.strip_suffix("ies")
    {
        return format!("{stem}y");
    }
    if len > 3
        && token.ends_with('s')
        && !token.ends_with("ss")
        && !token.ends_with("us")
        && !token.ends_with("is")
    {
        return token[..len - 1].to_owned();
    }
    token.to_owned()
}

/// Folded words of `text`.
pub(crate) fn keys(text: &str) -> Vec<String> {
    tokenize(text).iter().map(|t| fold(t)).collect()
}

/// A piece of text as both its normalized words (for showing evidence) and
/// their folded forms (for matching), index for index.
pub(crate) struct Words {
    pub(crate) shown: Vec<String>,
    pub(crate) keys: Vec<String>,
}

impl Words {
    pub(crate) fn new(text: &str) -> Words {
        let shown = tokenize(text);
        let keys = shown.iter().map(|t| fold(t)).collect();
        Words { shown, keys }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether `phrase` (folded words) starts at word `at`.
    pub(crate) fn has_at(&self, at: usize, phrase: &[String]) -> bool {
        !phrase.is_empty() && self.keys[at..].starts_with(phrase)
    }

    /// The shown words `start..end`, joined.
    pub(crate) fn span(&self, start: usize, end: usize) -> String {
        self.shown[start..end].join(" ")
    }
}

/// Whether `phrase` occurs as consecutive words of `keys`.
pub(crate) fn contains_phrase(keys: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && keys.windows(phrase.len()).any(|w| w == phrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_drops_plural_endings_only() {
        let cases = [
            ("walnuts", "walnut"),
            ("anchovies", "anchovy"),
            ("eggs", "egg"),
            ("allergies", "allergy"),
            ("contains", "contain"),
            ("glass", "glass"),
            ("arachis", "arachis"),
            ("octopus", "octopus"),
            ("gas", "gas"),
            ("milk", "milk"),
            ("ties", "tie"),
        ];
        for (token, folded) in cases {
            assert_eq!(fold(token), folded, "{token}");
        }
    }

    #[test]
    fn phrases_match_whole_words_only() {
        let text = keys("Contains undeclared Brazil nuts and walnuts");
        assert!(contains_phrase(&text, &keys("brazil nut")));
        assert!(contains_phrase(&text, &keys("walnut")));
        assert!(!contains_phrase(&text, &keys("nut and wal")));
        assert!(!contains_phrase(&text, &[]));
        let words = Words::new("Undeclared Brazil-nuts!");
        assert_eq!(words.shown, ["undeclared", "brazil", "nuts"]);
        assert!(words.has_at(1, &keys("brazil nut")));
        assert!(!words.has_at(2, &keys("brazil nut")));
        assert_eq!(words.span(0, 3), "undeclared brazil nuts");
    }
}
