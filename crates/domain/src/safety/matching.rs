//! Does a scanned product match a recall? (table in the [module docs](super))

use serde::{Deserialize, Serialize};

use super::words::fold;
use crate::gtin::Gtin;
use crate::recall::Recall;
use crate::text::{bounded_levenshtein, normalize, tokenize, typo_budget};

/// Fuzzy matches below this confidence are dropped.
pub const FUZZY_MIN_CONFIDENCE: f32 = 0.5;
/// A fuzzy match is never as sure as a barcode or model match.
pub const FUZZY_MAX_CONFIDENCE: f32 = 0.85;

/// Model keys shorter than this never match ("A1" is on too many products).
const MIN_MODEL_LEN: usize = 3;

const MODEL_BRAND_AGREES: f32 = 0.95;
const MODEL_BRAND_UNKNOWN: f32 = 0.8;
const MODEL_BRAND_DISAGREES: f32 = 0.6;

/// How a product matched a recall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchType {
    ExactGtin,
    ModelNumber,
    FuzzyName,
}

impl MatchType {
    /// The API spelling (the serde name), for storing and logging.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::ExactGtin => "exact_gtin",
            MatchType::ModelNumber => "model_number",
            MatchType::FuzzyName => "fuzzy_name",
        }
    }
}

/// One product-to-recall match.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Match {
    pub match_type: MatchType,
    /// In `0..=1`, rounded to two decimals.
    pub confidence: f32,
}

/// What the parent scanned or typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductQuery {
    pub gtin: Option<Gtin>,
    pub name: Option<String>,
    pub brand: Option<String>,
    pub model: Option<String>,
}

/// The comparison form of a model number: normalized, separators and a
/// leading "model" / "model no." / "item" label dropped, so "AB-123 x",
/// "ab123x" and "Model # AB.123/X" are equal. Empty when nothing is left.
pub fn model_key(model: &str) -> String {
    const LABELS: &[&str] = &["model", "mod", "no", "nr", "number", "item", "style", "ref", "art", "sku"];
    let normalized = normalize(model);
    let mut words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
    let labels = words.iter().take_while(|w| LABELS.contains(w)).count();
    if labels < words.len() {
        words.drain(..labels);
    }
    words.concat()
}

/// The best match of `query` against `recall`, if any: the one deciding the
/// strongest verdict, then the most confident.
pub fn score_match(query: &ProductQuery, recall: &Recall) -> Option<Match> {
    let candidates = [gtin_match(query, recall), model_match(query, recall), fuzzy_match(query, recall)];
    candidates.into_iter().flatten().max_by(|a, b| {
        let key = |m: &Match| (m.is_recall_grade(), m.confidence);
        key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal)
    })
}

fn gtin_match(query: &ProductQuery, recall: &Recall) -> Option<Match> {
    let gtin = query.gtin?;
    recall.gtins().contains(&gtin).then_some(Match { match_type: MatchType::ExactGtin, confidence: 1.0 })
}

fn model_match(query: &ProductQuery, recall: &Recall) -> Option<Match> {
    let wanted = model_key(query.model.as_deref()?);
    if wanted.len() < MIN_MODEL_LEN {
        return None;
    }
    let listed = recall.model.iter().chain(&recall.model_number).chain(&recall.model_numbers);
    // A source may list several models in one field: "AB-1, AB-2; AB-3".
    let found = listed.flat_map(|field| field.split([',', ';'])).any(|model| model_key(model) == wanted);
    if !found {
        return None;
    }
    let confidence = match brand_agreement(query, recall) {
        Brand::Agrees => MODEL_BRAND_AGREES,
        Brand::Unknown => MODEL_BRAND_UNKNOWN,
        Brand::Disagrees => MODEL_BRAND_DISAGREES,
    };
    Some(Match { match_type: MatchType::ModelNumber, confidence })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Brand {
    Agrees,
    /// No brand given, or the recall does not say enough to tell.
    Unknown,
    Disagrees,
}

/// Words of company names that say nothing about which company.
const CORPORATE: &[&str] = &[
    "inc",
    "llc",
    "ltd",
    "limited",
    "co",
    "corp",
    "corporation",
    "company",
    "gmbh",
    "sa",
    "sas",
    "plc",
    "ag",
    "bv",
    "group",
    "brand",
    "the",
    "and",
    "usa",
    "us",
    "international",
];

/// Folded words of `text` minus corporate words and single letters.
fn brand_words(text: &str) -> Vec<String> {
    tokenize(text)
        .iter()
        .map(|t| fold(t))
        .filter(|w| w.len() > 1 && !CORPORATE.contains(&w.as_str()))
        .collect()
}

/// Whether the query's brand is the recall's: all its words appear in the
/// recall's brand, manufacturer or title (one typo allowed in long words),
/// or it appears there with spaces removed ("FisherPrice"). It disagrees
/// only when none does and the recall names a brand or manufacturer.
fn brand_agreement(query: &ProductQuery, recall: &Recall) -> Brand {
    let wanted = query.brand.as_deref().map(brand_words).unwrap_or_default();
    if wanted.is_empty() {
        return Brand::Unknown;
    }
    let named = [recall.brand.as_deref(), recall.manufacturer.as_deref()];
    let texts = named.into_iter().chain([Some(recall.title.as_str())]).flatten();
    let have: Vec<String> = texts.clone().flat_map(brand_words).collect();
    // Glued spellings only from 6 letters on: "joy" is inside too many words.
    let squashed = wanted.concat();
    if squashed.len() >= 6 && texts.map(|t| normalize(t).replace(' ', "")).any(|t| t.contains(&squashed)) {
        return Brand::Agrees;
    }
    let found = wanted.iter().filter(|w| have.iter().any(|h| word_credit(w, h) > 0.0)).count();
    if found == wanted.len() {
        Brand::Agrees
    } else if found == 0 && named.iter().any(Option::is_some) {
        Brand::Disagrees
    } else {
        Brand::Unknown
    }
}

/// Words that cannot carry a name match: generic, or recall boilerplate.
const STOPWORDS: &[&str] = &[
    "the",
    "and",
    "or",
    "for",
    "of",
    "with",
    "in",
    "on",
    "by",
    "to",
    "from",
    "at",
    "an",
    "baby",
    "infant",
    "kid",
    "child",
    "children",
    "toddler",
    "recall",
    "recalled",
    "due",
    "hazard",
    "risk",
    "injury",
    "death",
    "report",
    "because",
    "after",
    "sold",
    "announce",
    "voluntary",
    "voluntarily",
    "consumer",
    "product",
    "new",
    "inc",
    "llc",
    "ltd",
    "co",
];

/// Folded significant words of `text`, without duplicates.
fn significant_words(parts: &[Option<&str>]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for token in parts.iter().flatten().flat_map(|p| tokenize(p)) {
        let word = fold(&token);
        if word.len() > 1 && !STOPWORDS.contains(&word.as_str()) && !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// How well query word `q` matches recall word `r`: 1 when equal, 0.8 with
/// one typo (only for words long enough to allow one, never in numbers).
fn word_credit(q: &str, r: &str) -> f32 {
    const TYPO_CREDIT: f32 = 0.8;
    if q == r {
        return 1.0;
    }
    let has_digit = |w: &str| w.bytes().any(|b| b.is_ascii_digit());
    if typo_budget(q) == 0 || has_digit(q) || has_digit(r) {
        return 0.0;
    }
    match bounded_levenshtein(q, r, 1) {
        Some(_) => TYPO_CREDIT,
        None => 0.0,
    }
}

fn fuzzy_match(query: &ProductQuery, recall: &Recall) -> Option<Match> {
    /// Brand words are weaker evidence than product words.
    const BRAND_WEIGHT: f32 = 0.5;
    /// How much explaining the query counts against explaining the recall.
    const QUERY_SHARE: f32 = 0.7;
    const BRAND_AGREES_BONUS: f32 = 0.1;
    const BRAND_DISAGREES_FACTOR: f32 = 0.6;

    let asked = significant_words(&[query.name.as_deref(), query.brand.as_deref()]);
    let offered = significant_words(&[
        Some(recall.title.as_str()),
        recall.product_name.as_deref(),
        recall.brand.as_deref(),
    ]);
    if asked.is_empty() || offered.is_empty() {
        return None;
    }
    let brandish: Vec<String> =
        [query.brand.as_deref(), recall.brand.as_deref(), recall.manufacturer.as_deref()]
            .into_iter()
            .flatten()
            .flat_map(brand_words)
            .collect();
    let is_brand = |w: &String| brandish.contains(w);

    let (mut credit, mut weight) = (0.0f32, 0.0f32);
    let mut matched_offered: Vec<&String> = Vec::new();
    let mut exact_product_words = 0;
    for q in &asked {
        let best = offered
            .iter()
            .map(|r| (word_credit(q, r), r))
            .max_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal))
            .filter(|(c, _)| *c > 0.0);
        let w = if is_brand(q) { BRAND_WEIGHT } else { 1.0 };
        weight += w;
        if let Some((c, r)) = best {
            credit += w * c;
            if !matched_offered.contains(&r) {
                matched_offered.push(r);
            }
            if c == 1.0 && !is_brand(q) && !is_brand(r) {
                exact_product_words += 1;
            }
        }
    }
    // Two shared words at least, one of them naming the product (not the
    // brand) without a typo: "Rick n Plan" is not "Rock 'n Play".
    if matched_offered.len() < 2 || exact_product_words == 0 {
        return None;
    }
    let query_coverage = credit / weight;
    let recall_coverage = matched_offered.len() as f32 / offered.len() as f32;
    let mut score = QUERY_SHARE * query_coverage + (1.0 - QUERY_SHARE) * recall_coverage;
    match brand_agreement(query, recall) {
        Brand::Agrees => score += BRAND_AGREES_BONUS,
        Brand::Disagrees => score *= BRAND_DISAGREES_FACTOR,
        Brand::Unknown => {}
    }
    let confidence = round2(FUZZY_MAX_CONFIDENCE * score.min(1.0));
    (confidence >= FUZZY_MIN_CONFIDENCE).then_some(Match { match_type: MatchType::FuzzyName, confidence })
}

fn round2(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}
