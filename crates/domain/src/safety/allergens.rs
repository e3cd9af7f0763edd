//! Allergens: what a parent types, and what a recall is about (rules in the
//! [module docs](super)).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::words::{Words, keys};
use crate::recall::Recall;

/// A food allergen: the union of the EU's 14 and the US "big 9".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allergen {
    Milk,
    Egg,
    Peanut,
    TreeNut,
    Soy,
    /// Every cereal containing gluten (wheat, barley, rye, spelt).
    Wheat,
    Fish,
    CrustaceanShellfish,
    Mollusc,
    Sesame,
    Mustard,
    Celery,
    Lupin,
    Sulphites,
}

/// One allergen a recall is about, with the words that showed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllergenFinding {
    pub allergen: Allergen,
    /// The normalized phrase that matched, e.g. "undeclared milk".
    pub evidence: String,
    /// `"hazard"`, `"recall_reason"` or `"hazard_category"`.
    pub field: &'static str,
}

impl Allergen {
    pub const ALL: &'static [Allergen] = &[
        Allergen::Milk,
        Allergen::Egg,
        Allergen::Peanut,
        Allergen::TreeNut,
        Allergen::Soy,
        Allergen::Wheat,
        Allergen::Fish,
        Allergen::CrustaceanShellfish,
        Allergen::Mollusc,
        Allergen::Sesame,
        Allergen::Mustard,
        Allergen::Celery,
        Allergen::Lupin,
        Allergen::Sulphites,
    ];

    pub fn all() -> &'static [Allergen] {
        Self::ALL
    }

    /// The serialized (snake_case) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Allergen::Milk => "milk",
            Allergen::Egg => "egg",
            Allergen::Peanut => "peanut",
            Allergen::TreeNut => "tree_nut",
            Allergen::Soy => "soy",
            Allergen::Wheat => "wheat",
            Allergen::Fish => "fish",
            Allergen::CrustaceanShellfish => "crustacean_shellfish",
            Allergen::Mollusc => "mollusc",
            Allergen::Sesame => "sesame",
            Allergen::Mustard => "mustard",
            Allergen::Celery => "celery",
            Allergen::Lupin => "lupin",
            Allergen::Sulphites => "sulphites",
        }
    }

    /// The name shown to parents.
    pub fn label(self) -> &'static str {
        match self {
            Allergen::Milk => "milk",
            Allergen::Egg => "eggs",
            Allergen::Peanut => "peanuts",
            Allergen::TreeNut => "tree nuts",
            Allergen::Soy => "soy",
            Allergen::Wheat => "wheat / gluten",
            Allergen::Fish => "fish",
            Allergen::CrustaceanShellfish => "crustacean shellfish",
            Allergen::Mollusc => "molluscs",
            Allergen::Sesame => "sesame",
            Allergen::Mustard => "mustard",
            Allergen::Celery => "celery",
            Allergen::Lupin => "lupin",
            Allergen::Sulphites => "sulphites",
        }
    }

    /// What a parent typed ("Dairy", "cow's milk", "peanut allergy",
    /// "Soja", "coeliac") as an allergen; `None` when it names none or is
    /// ambiguous ("seafood", "milk and egg"). Case, accents and words such as
    /// "allergy" or "intolerance" are ignored.
    pub fn parse(text: &str) -> Option<Allergen> {
        let words: Vec<String> =
            keys(text).into_iter().filter(|k| !PARSE_FILLER.contains(&k.as_str())).collect();
        PARSE_INDEX.get(&words.join(" ")).copied()
    }
}

/// Words naming each allergen, in recalls and in what parents type.
/// Matched on whole words, plurals folded ("walnuts" = "walnut"), the longest
/// phrase first ("peanut butter" is peanut, not milk).
const TERMS: &[(Allergen, &[&str])] = &[
    (
        Allergen::Milk,
        &[
            "milk",
            "dairy",
            "lactose",
            "casein",
            "caseinate",
            "whey",
            "butter",
            "buttermilk",
            "cream",
            "ice cream",
            "cheese",
            "yogurt",
            "yoghurt",
            "ghee",
            "lactalbumin",
            "lactoglobulin",
            "milk powder",
            "milk protein",
            "skim milk",
            "cow milk",
            "cows milk",
        ],
    ),
    (Allergen::Egg, &["egg", "egg white", "egg yolk", "albumin", "albumen", "ovalbumin", "lysozyme"]),
    (Allergen::Peanut, &["peanut", "peanut butter", "peanut oil", "groundnut", "ground nut", "arachis"]),
    (
        Allergen::TreeNut,
        &[
            "tree nut",
            "nut",
            "nut butter",
            "almond",
            "almond milk",
            "almond butter",
            "cashew",
            "cashew butter",
            "walnut",
            "pecan",
            "hazelnut",
            "filbert",
            "pistachio",
            "macadamia",
            "macadamia nut",
            "brazil nut",
            "pine nut",
            "praline",
            "marzipan",
        ],
    ),
    (
        Allergen::Soy,
        &["soy", "soya", "soybean", "soya bean", "soy bean", "soy milk", "soya milk", "soy lecithin"],
    ),
    (
        Allergen::Wheat,
        &["wheat", "gluten", "wheat gluten", "barley", "rye", "spelt", "semolina", "durum", "kamut"],
    ),
    (
        Allergen::Fish,
        &[
            "fish",
            "anchovy",
            "cod",
            "salmon",
            "tuna",
            "haddock",
            "pollock",
            "tilapia",
            "sardine",
            "mackerel",
            "trout",
            "hake",
            "herring",
            "catfish",
            "fish sauce",
            "fish oil",
        ],
    ),
    (
        Allergen::CrustaceanShellfish,
        &[
            "crustacean",
            "shellfish",
            "shrimp",
            "prawn",
            "crab",
            "lobster",
            "crayfish",
            "crawfish",
            "langoustine",
        ],
    ),
    (
        Allergen::Mollusc,
        &[
            "mollusc",
            "mollusk",
            "clam",
            "mussel",
            "oyster",
            "scallop",
            "squid",
            "octopus",
            "cuttlefish",
            "whelk",
        ],
    ),
    (Allergen::Sesame, &["sesame", "sesame seed", "sesame oil", "tahini", "tahina"]),
    (Allergen::Mustard, &["mustard", "mustard seed"]),
    (Allergen::Celery, &["celery", "celeriac"]),
    (Allergen::Lupin, &["lupin", "lupine", "lupini"]),
    (
        Allergen::Sulphites,
        &[
            "sulphite",
            "sulfite",
            "sulphur dioxide",
            "sulfur dioxide",
            "metabisulphite",
            "metabisulfite",
            "bisulphite",
            "bisulfite",
        ],
    ),
];

/// Phrases holding an allergen word that are not that allergen. They shadow
/// the shorter word ("cocoa butter" hides "butter").
const NOT_ALLERGENS: &[&str] = &[
    "cocoa butter",
    "shea butter",
    "apple butter",
    "seed butter",
    "coconut milk",
    "coconut cream",
    "oat milk",
    "rice milk",
    "breast milk",
    "milk thistle",
    "milk bottle",
    "milk tooth",
    "cream of tartar",
    "sun cream",
    "nappy cream",
    "diaper cream",
    "rash cream",
    "nut and bolt",
    "wing nut",
    "lock nut",
];

/// Extra spellings only parents use.
const PARSE_ONLY: &[(Allergen, &[&str])] = &[
    (Allergen::Milk, &["cow s milk", "cmpa", "cmpa milk"]),
    (Allergen::Wheat, &["coeliac", "celiac", "coeliac disease", "celiac disease"]),
    (Allergen::TreeNut, &["tree nut allergy"]),
];

/// Words a parent adds around the allergen ("severe peanut allergy").
const PARSE_FILLER: &[&str] = &[
    "allergy",
    "allergic",
    "allergen",
    "intolerance",
    "intolerant",
    "sensitivity",
    "sensitive",
    "to",
    "severe",
    "mild",
    "a",
    "an",
];

/// Parse lookup: the folded phrase, space-joined, to its allergen.
static PARSE_INDEX: LazyLock<HashMap<String, Allergen>> = LazyLock::new(|| {
    let mut index = HashMap::new();
    for &(allergen, phrases) in TERMS.iter().chain(PARSE_ONLY) {
        for phrase in phrases {
            index.insert(keys(phrase).join(" "), allergen);
        }
    }
    for &allergen in Allergen::ALL {
        index.insert(keys(allergen.as_str()).join(" "), allergen);
        index.insert(keys(allergen.label()).join(" "), allergen);
    }
    index
});

/// Recall-text lookup: first folded word to every phrase starting with it,
/// longest first; `None` marks a [`NOT_ALLERGENS`] phrase.
type TermIndex = HashMap<String, Vec<(Vec<String>, Option<Allergen>)>>;

static TERM_INDEX: LazyLock<TermIndex> = LazyLock::new(|| {
    let mut index: TermIndex = HashMap::new();
    let terms = TERMS.iter().flat_map(|&(a, phrases)| phrases.iter().map(move |p| (*p, Some(a))));
    for (phrase, allergen) in terms.chain(NOT_ALLERGENS.iter().map(|p| (*p, None))) {
        let words = keys(phrase);
        index.entry(words[0].clone()).or_default().push((words, allergen));
    }
    for entries in index.values_mut() {
        entries.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
    }
    index
});

#[derive(Debug, Clone, Copy, PartialEq)]
enum Direction {
    Forward,
    Backward,
    Both,
}

/// Words that make a nearby allergen word a finding (see the module docs).
const CUES: &[(&str, Direction)] = &[
    ("undeclared", Direction::Both),
    ("undisclosed", Direction::Both),
    ("unlabeled", Direction::Both),
    ("unlabelled", Direction::Both),
    ("allergen", Direction::Both),
    ("allergenic", Direction::Both),
    ("allergy", Direction::Both),
    ("allergic", Direction::Both),
    ("may contain", Direction::Forward),
    ("containing", Direction::Forward),
    ("traces of", Direction::Forward),
    ("not declared", Direction::Backward),
    ("not listed", Direction::Backward),
    ("not labeled", Direction::Backward),
    ("not labelled", Direction::Backward),
    ("not mentioned", Direction::Backward),
    ("not disclosed", Direction::Backward),
];

static CUE_WORDS: LazyLock<Vec<(Vec<String>, Direction)>> =
    LazyLock::new(|| CUES.iter().map(|&(phrase, dir)| (keys(phrase), dir)).collect());

/// A forward cue stops at these: what follows is a contaminant, not an
/// ingredient ("may contain Listeria in the cheese").
const CONTAMINANTS: &[&str] = &[
    "listeria",
    "salmonella",
    "cronobacter",
    "coli",
    "bacteria",
    "bacterium",
    "botulinum",
    "clostridium",
    "pathogen",
    "virus",
    "norovirus",
    "hepatitis",
    "mold",
    "mould",
    "fungus",
    "toxin",
    "aflatoxin",
    "lead",
    "arsenic",
    "cadmium",
    "mercury",
    "benzene",
    "metal",
    "glass",
    "plastic",
    "rubber",
    "foreign",
    "insect",
];

/// Words a backward cue may walk over between listed allergens
/// ("milk, egg and soy protein not declared").
const LIST_WORDS: &[&str] =
    &["and", "or", "nor", "also", "protein", "powder", "flour", "ingredient", "derivative", "extract", "oil"];

/// After an allergen word these make it no mention ("milk-free", "egg-shaped").
const NEGATING_AFTER: &[&str] = &["free", "shaped", "shape"];
/// Before an allergen word these make it no mention ("non-dairy", "no milk").
const NEGATING_BEFORE: &[&str] = &["non", "no"];

#[derive(Debug)]
enum Item {
    /// An allergen phrase (or a [`NOT_ALLERGENS`] one / negated one: `None`).
    Term {
        allergen: Option<Allergen>,
        start: usize,
        end: usize,
    },
    Cue {
        direction: Direction,
        start: usize,
        end: usize,
    },
    Word(usize),
}

/// A clause as terms, cues and other words.
fn items(words: &Words) -> Vec<Item> {
    let mut items = Vec::new();
    let mut at = 0;
    while at < words.len() {
        if let Some((allergen, end)) = term_at(words, at) {
            items.push(Item::Term { allergen, start: at, end });
            at = end;
        } else if let Some((len, direction)) = cue_at(words, at) {
            items.push(Item::Cue { direction, start: at, end: at + len });
            at += len;
        } else {
            items.push(Item::Word(at));
            at += 1;
        }
    }
    items
}

/// The longest allergen phrase at word `at`: its allergen (`None` for a
/// [`NOT_ALLERGENS`] phrase or a negated mention) and where it ends.
fn term_at(words: &Words, at: usize) -> Option<(Option<Allergen>, usize)> {
    let (phrase, allergen) =
        TERM_INDEX.get(&words.keys[at])?.iter().find(|(phrase, _)| words.has_at(at, phrase))?;
    let end = at + phrase.len();
    let negated = words.keys.get(end).is_some_and(|k| NEGATING_AFTER.contains(&k.as_str()))
        || at.checked_sub(1).is_some_and(|before| NEGATING_BEFORE.contains(&words.keys[before].as_str()));
    Some((allergen.filter(|_| !negated), end))
}

fn cue_at(words: &Words, at: usize) -> Option<(usize, Direction)> {
    let key = words.keys[at].as_str();
    if key == "contain" {
        // "contains" folds to "contain"; "does not contain" / "doesn't contain" / "contains no" do not count.
        let before = at.checked_sub(1).map(|b| words.keys[b].as_str());
        let after = words.keys.get(at + 1).map(String::as_str);
        let negated = matches!(before, Some("not" | "t" | "never")) || matches!(after, Some("no" | "none"));
        return (!negated).then_some((1, Direction::Forward));
    }
    CUE_WORDS.iter().find(|(phrase, _)| words.has_at(at, phrase)).map(|(phrase, dir)| (phrase.len(), *dir))
}

/// `(word position, allergen, evidence)` of every mention in one clause.
fn cued_mentions(words: &Words) -> Vec<(usize, Allergen, String)> {
    let items = items(words);
    let mut found = Vec::new();
    let mut forward: Option<(usize, usize)> = None;
    for (i, item) in items.iter().enumerate() {
        match *item {
            Item::Cue { direction, start, end } => {
                if direction != Direction::Forward {
                    found.extend(backward_from(words, &items[..i], (start, end)));
                }
                if direction != Direction::Backward {
                    forward = Some((start, end));
                }
            }
            Item::Term { allergen: Some(allergen), start, end } => {
                if let Some((cue_start, cue_end)) = forward {
                    found.push((start, allergen, evidence(words, (cue_start, cue_end), (start, end))));
                }
            }
            Item::Term { allergen: None, .. } => {}
            Item::Word(at) => {
                if CONTAMINANTS.contains(&words.keys[at].as_str()) {
                    forward = None;
                }
            }
        }
    }
    found
}

/// The allergens listed right before a backward cue.
fn backward_from(words: &Words, before: &[Item], cue: (usize, usize)) -> Vec<(usize, Allergen, String)> {
    let mut found = Vec::new();
    for item in before.iter().rev() {
        match *item {
            Item::Term { allergen: Some(allergen), start, end } => {
                found.push((start, allergen, evidence(words, (start, end), cue)));
            }
            Item::Term { allergen: None, .. } => {}
            Item::Word(at) if LIST_WORDS.contains(&words.keys[at].as_str()) => {}
            _ => break,
        }
    }
    found
}

/// The words from the start of `first` to the end of `last`, shortened
/// to "first … last" when far apart.
fn evidence(words: &Words, first: (usize, usize), last: (usize, usize)) -> String {
    const MAX_WORDS: usize = 6;
    let (start, end) = (first.0.min(last.0), first.1.max(last.1));
    if end - start <= MAX_WORDS {
        words.span(start, end)
    } else {
        format!("{} … {}", words.span(first.0, first.1), words.span(last.0, last.1))
    }
}

/// Every allergen word of the text, cue or not.
fn all_mentions(words: &Words) -> Vec<(usize, Allergen, String)> {
    items(words)
        .into_iter()
        .filter_map(|item| match item {
            Item::Term { allergen: Some(allergen), start, end } => {
                Some((start, allergen, words.span(start, end)))
            }
            _ => None,
        })
        .collect()
}

/// Splits text into clauses: at `; ! ?`, line breaks, and a `.` that ends a
/// sentence (followed by a space or the end, so "2.5 oz" stays whole).
fn clauses(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = rest.char_indices().find(|&(i, c)| match c {
            ';' | '!' | '?' | '\n' | '\r' => true,
            '.' => rest[i + 1..].chars().next().is_none_or(char::is_whitespace),
            _ => false,
        });
        let (clause, next) = match cut {
            Some((i, c)) => (&rest[..i], &rest[i + c.len_utf8()..]),
            None => (rest, ""),
        };
        rest = next;
        Some(clause)
    })
}

/// Mentions in one free-text field, cued per clause, in text order.
fn field_mentions(text: &str) -> Vec<(usize, Allergen, String)> {
    let mut offset = 0;
    let mut found = Vec::new();
    for clause in clauses(text) {
        let words = Words::new(clause);
        let mut mentions = cued_mentions(&words);
        mentions.sort_by_key(|m| m.0);
        found.extend(mentions.into_iter().map(|(at, a, e)| (offset + at, a, e)));
        offset += words.len();
    }
    found
}

/// Whether a hazard category is about allergens in general.
fn names_allergens(category_words: &Words) -> bool {
    category_words.keys.iter().any(|k| {
        matches!(k.as_str(), "allergen" | "allergenic" | "allergy" | "allergic" | "undeclared" | "unlabeled")
    })
}

/// The allergens a recall is about, one finding per allergen (the first
/// evidence wins, fields in the order hazard, recall_reason,
/// hazard_category). Product names are never read: "milk bottle" or a
/// "peanut-shaped toy" is no allergen problem.
pub fn allergen_findings(recall: &Recall) -> Vec<AllergenFinding> {
    let category = recall.hazard_category.as_deref().map(Words::new);
    let allergen_category = category.as_ref().is_some_and(names_allergens);
    let mut findings: Vec<AllergenFinding> = Vec::new();
    let mut add = |mentions: Vec<(usize, Allergen, String)>, field: &'static str| {
        for (_, allergen, evidence) in mentions {
            if !findings.iter().any(|f| f.allergen == allergen) {
                findings.push(AllergenFinding { allergen, evidence, field });
            }
        }
    };
    for (text, field) in [(&recall.hazard, "hazard"), (&recall.recall_reason, "recall_reason")] {
        let Some(text) = text.as_deref() else { continue };
        let mut mentions = field_mentions(text);
        if mentions.is_empty() && allergen_category {
            mentions = all_mentions(&Words::new(text));
        }
        add(mentions, field);
    }
    if let Some(category) = &category {
        add(all_mentions(category), "hazard_category");
    }
    findings
}
