//! The family safety check: does a scanned product match a recall, and does
//! that recall concern one family member (allergies, age)?
//!
//! The server finds candidate recalls; these pure functions score each one
//! against the scanned [`ProductQuery`] ([`score_match`]), read the allergens
//! a recall is about ([`allergen_findings`]), list the age rules it triggers
//! ([`age_warnings`]) and turn the matches into one [`Verdict`].
//!
//! # Matching ([`score_match`])
//!
//! | match | when | confidence |
//! |---|---|---|
//! | `exact_gtin` | the scanned GTIN is one of [`Recall::gtins`](crate::Recall::gtins) | 1.0 |
//! | `model_number` | model keys equal (see [`model_key`]), ≥ 3 characters | 0.95 brand agrees, 0.8 no brand given or unclear, 0.6 brand disagrees |
//! | `fuzzy_name` | ≥ 2 significant words shared (one typo allowed in words of 4+ letters, never in numbers), ≥ 1 of them a typo-free product (not brand) word | `0.85 × (0.7 × query coverage + 0.3 × recall coverage)` (brand words weigh half, a typo scores 0.8), the inner score +0.1 when the brand agrees, ×0.6 when it disagrees; `None` below [`FUZZY_MIN_CONFIDENCE`] |
//!
//! The best match is the one that decides the strongest verdict, then the
//! most confident: a 0.8 model match beats a 0.85 fuzzy match.
//!
//! # Verdict ([`verdict`])
//!
//! | matches | member warnings | verdict |
//! |---|---|---|
//! | any `exact_gtin`, or `model_number` ≥ [`RECALLED_MIN_CONFIDENCE`] | any | `recalled` |
//! | only weaker matches (fuzzy, or model with a disagreeing brand) | any | `caution` (a warning never upgrades a weak match to `recalled`) |
//! | none | yes | `caution`: the answer never says "no known recall" next to a warning |
//! | none | no | `no_known_recall` |
//!
//! # Allergens ([`allergen_findings`])
//!
//! Only `hazard`, `recall_reason` and `hazard_category` are read; a product
//! name such as "milk bottle" is never an allergen problem. In `hazard` and
//! `recall_reason` an allergen word counts only next to a cue in the same
//! clause (clauses end at `. ; ! ?` and line breaks):
//! - after a *forward* cue ("undeclared", "contains", "may contain", "traces
//!   of", "allergen", "allergy to", "unlabeled", "undisclosed"), up to the
//!   clause end or a contaminant word ("may contain Listeria in the cheese"
//!   is not a milk problem), so lists work: "undeclared milk, soy and egg";
//! - right before a *backward* cue ("not declared", "not listed", "not
//!   mentioned", "undeclared", "allergen", "allergy"), walking back over a
//!   list: "milk and soy not declared"; "Cheese crackers with undeclared egg"
//!   is only about egg.
//!
//! Every allergen word in `hazard_category` counts. When the category names
//! allergens in general ("Allergens", "Undeclared allergen"), a `hazard` or
//! `recall_reason` without any cued mention counts all its allergen words.
//! "Does not contain", "contains no", "milk-free", "non-dairy" and
//! "egg-shaped" are not mentions; compounds such as "peanut butter", "soy
//! milk", "cocoa butter" and "coconut milk" name their real allergen (or none).
//!
//! # Decisions
//! - Allergens are the union of the EU's 14 and the US "big 9"; there is no
//!   corn or coconut (in neither list; FDA guidance no longer counts coconut
//!   as a tree nut). [`Allergen::parse`] reads one allergen: split lists first.
//! - `wheat` stands for all cereals containing gluten: "wheat", "gluten",
//!   "barley", "rye", "spelt" in recalls and "gluten", "coeliac" from parents
//!   all map to it, so a wheat-allergic child is warned about "contains
//!   gluten". Over-warning a wheat allergy about barley is the safer error.
//! - "nuts" / "nut" typed by a parent means tree nuts (peanuts are typed as
//!   such); "shellfish" means crustacean shellfish (US usage); "seafood" is
//!   ambiguous and parses to nothing. "Lactose" maps to milk.
//! - Age limits are in [`AGE_RULES`] with their sources; an unknown age
//!   yields no warning (the server decides how to ask).

mod age;
mod allergens;
mod matching;
mod words;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use age::{AGE_RULES, AgeRule, AgeWarning, age_rules_for, age_warnings};
pub use allergens::{Allergen, AllergenFinding, allergen_findings};
pub use matching::{
    FUZZY_MAX_CONFIDENCE, FUZZY_MIN_CONFIDENCE, Match, MatchType, ProductQuery, model_key, score_match,
};

/// Below this a model-number match is only a `caution`: the brand disagreed.
pub const RECALLED_MIN_CONFIDENCE: f32 = 0.8;

/// What the safety check tells the parent about one scanned product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Recalled,
    Caution,
    NoKnownRecall,
}

impl Verdict {
    /// The API spelling (the serde name), for storing and logging.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Recalled => "recalled",
            Verdict::Caution => "caution",
            Verdict::NoKnownRecall => "no_known_recall",
        }
    }
}

impl Match {
    /// Whether this match alone makes the product `recalled`.
    pub fn is_recall_grade(&self) -> bool {
        match self.match_type {
            MatchType::ExactGtin => true,
            MatchType::ModelNumber => self.confidence >= RECALLED_MIN_CONFIDENCE,
            MatchType::FuzzyName => false,
        }
    }
}

/// The verdict for a product given its matches over all candidate recalls
/// and whether any of them warns the chosen family member (table in the
/// module docs).
pub fn verdict(matches: &[Match], has_member_warnings: bool) -> Verdict {
    if matches.iter().any(Match::is_recall_grade) {
        Verdict::Recalled
    } else if !matches.is_empty() || has_member_warnings {
        Verdict::Caution
    } else {
        Verdict::NoKnownRecall
    }
}
