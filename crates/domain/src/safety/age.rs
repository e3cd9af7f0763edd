//! Age rules: hazards that matter only below some age.

use std::sync::LazyLock;

use serde::Serialize;

use super::words::{contains_phrase, keys};
use crate::recall::Recall;

/// One hazard that concerns children below an age.
///
/// `keywords` are matched as whole words (plurals folded, case and accents
/// ignored) against the recall's title, product name, hazard, hazard
/// category, recall reason and description. In a keyword, `a + b` needs both
/// parts (anywhere in those fields) and `a | b` in a part accepts either.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeRule {
    pub id: &'static str,
    pub title: &'static str,
    pub keywords: &'static [&'static str],
    /// The rule warns while the child's age in months is below this.
    pub under_months: u32,
    pub message: &'static str,
}

/// An age rule that applies to one recall and one child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeWarning {
    pub rule: &'static str,
    pub message: String,
    pub under_months: u32,
}

/// Every age rule. The limits follow the regulation or guidance named in the
/// comment; where none exists the choice is explained.
pub static AGE_RULES: &[AgeRule] = &[
    // US 16 CFR 1501 / EU EN 71-1: small parts banned in toys for under 3s.
    AgeRule {
        id: "small_parts",
        title: "Small parts / choking",
        keywords: &["small part", "choking | choke", "aspiration hazard"],
        under_months: 36,
        message: "Small parts can be swallowed or inhaled by children under 3.",
    },
    // Safe-sleep guidance (AAP; US Safe Sleep for Babies Act 2022 bans
    // inclined sleepers and crib bumpers) covers the first year.
    AgeRule {
        id: "infant_sleep",
        title: "Infant sleep products",
        keywords: &[
            "inclined sleeper | incline sleeper | inclined sleep | rocking sleeper | infant sleeper",
            "sleep positioner | sleeping positioner | infant positioner",
            "crib bumper | cot bumper | bumper pad",
            "bassinet | moses basket | co sleeper | bedside sleeper | baby nest | infant lounger | baby lounger",
            "suffocation | suffocate | asphyxia | asphyxiation + sleep | sleeper | sleeping | crib | cot | \
             mattress | bedding | pillow | bassinet",
        ],
        under_months: 12,
        message: "Babies under 12 months must sleep flat on their back in an empty crib: this product can \
                  cause suffocation.",
    },
    // Walker users are pre-walkers (about 4-15 months); ASTM F977 covers
    // children until they walk on their own, typically by 15 months.
    AgeRule {
        id: "baby_walker",
        title: "Baby walkers",
        keywords: &["baby walker | infant walker | activity walker", "walker + stair | fall"],
        under_months: 15,
        message: "Baby walkers can roll down stairs or reach hazards; keep children who cannot walk yet out of them.",
    },
    // US 16 CFR 1262 (magnet sets) and toy rules: children under 14.
    AgeRule {
        id: "magnets",
        title: "High-powered magnets",
        keywords: &["magnet", "magnetic ball | magnetic bead", "neodymium"],
        under_months: 168,
        message: "Swallowed magnets can attract each other through the intestines; dangerous for children under 14.",
    },
    // Reese's Law (US 16 CFR 1263) protects children under 6.
    AgeRule {
        id: "button_battery",
        title: "Button and coin batteries",
        keywords: &[
            "button battery | button cell | coin battery | coin cell | coin sized battery | lithium coin",
            "battery + ingestion | ingest | ingested | swallow | swallowed | swallowing",
            "cr2032 | cr2025 | cr2016 | lr44",
        ],
        under_months: 72,
        message: "A swallowed button battery can burn through the throat in hours; keep it from children under 6.",
    },
    // No age in law; ingestion injuries are in toddlers and preschoolers, so
    // the warning covers children under 5.
    AgeRule {
        id: "water_beads",
        title: "Water beads",
        keywords: &["water bead | water gel bead | gel bead | jelly bead | hydrogel bead | orbeez"],
        under_months: 60,
        message: "Water beads swell inside the body after swallowing; keep them away from children under 5.",
    },
    // US 16 CFR 1120: drawstrings in children's upper outerwear sizes 2T-16
    // (up to about 12 years).
    AgeRule {
        id: "drawstrings",
        title: "Drawstrings in children's clothing",
        keywords: &["drawstring | draw string | drawcord | draw cord"],
        under_months: 144,
        message: "Drawstrings at the hood or neck can catch and strangle children under 12.",
    },
    // STURDY Act (US 16 CFR 1261): most tip-over deaths are children under 6.
    AgeRule {
        id: "furniture_tip_over",
        title: "Furniture tip-over",
        keywords: &["tip over | tipover | tipping over | topple | toppling"],
        under_months: 72,
        message: "Furniture that tips over can crush young children; anchor it to the wall.",
    },
    // US 16 CFR 1260 (window coverings): strangulation of children under 8.
    AgeRule {
        id: "window_cords",
        title: "Window covering cords",
        keywords: &[
            "window covering | window blind | window shade | roller blind | roller shade | roman shade",
            "roman blind | venetian blind | vertical blind | cellular shade | blind cord | corded blind",
            "strangulation | strangle + cord | blind | shade",
        ],
        under_months: 96,
        message: "Looped cords of blinds and shades can strangle children under 8.",
    },
    // US 16 CFR 1215: bath seats are for babies who can sit up (about
    // 5-10 months); drownings happen in the first year.
    AgeRule {
        id: "bath_seat",
        title: "Infant bath seats and tubs",
        keywords: &[
            "bath seat | bathing seat | bath ring | bath support | infant tub | infant bathtub | baby bathtub",
            "bath | bathtub + drowning | drown",
        ],
        under_months: 12,
        message: "Babies can drown in seconds in a bath seat or tub; never leave them alone in water.",
    },
    // Used by babies and toddlers; detached parts are a choking hazard under 3.
    AgeRule {
        id: "teethers_pacifiers",
        title: "Teethers and pacifier clips",
        keywords: &[
            "teether | teething | pacifier | soother",
            "pacifier clip | pacifier holder | pacifier chain | dummy clip | soother clip",
        ],
        under_months: 36,
        message: "Teethers, pacifiers and their clips can break into choking or strangling hazards for children \
                  under 3.",
    },
    // CPSC sling warning and 16 CFR 1228: suffocation mostly under 4 months.
    AgeRule {
        id: "baby_sling",
        title: "Infant slings",
        keywords: &["baby sling | infant sling | sling carrier", "sling + suffocation | suffocate"],
        under_months: 4,
        message: "Slings can suffocate babies under 4 months: keep the face visible and the chin off the chest.",
    },
];

/// A keyword compiled: every part must match; a part is a list of
/// alternative phrases (folded words).
type Keyword = Vec<Vec<Vec<String>>>;

static COMPILED: LazyLock<Vec<Vec<Keyword>>> = LazyLock::new(|| {
    AGE_RULES
        .iter()
        .map(|rule| {
            rule.keywords
                .iter()
                .map(|keyword| keyword.split('+').map(|part| part.split('|').map(keys).collect()).collect())
                .collect()
        })
        .collect()
});

/// The age rules a recall triggers, in table order, whatever the age.
pub fn age_rules_for(recall: &Recall) -> Vec<&'static AgeRule> {
    let fields: Vec<Vec<String>> = [
        Some(recall.title.as_str()),
        recall.product_name.as_deref(),
        recall.hazard.as_deref(),
        recall.hazard_category.as_deref(),
        recall.recall_reason.as_deref(),
        recall.description.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(keys)
    .collect();
    let present = |phrase: &Vec<String>| fields.iter().any(|field| contains_phrase(field, phrase));
    AGE_RULES
        .iter()
        .zip(COMPILED.iter())
        .filter(|(_, keywords)| {
            keywords.iter().any(|parts| parts.iter().all(|alternatives| alternatives.iter().any(present)))
        })
        .map(|(rule, _)| rule)
        .collect()
}

/// The rules of [`age_rules_for`] that concern a child of `age_months`
/// (age below the rule's limit). Nothing when the age is unknown.
pub fn age_warnings(recall: &Recall, age_months: Option<u32>) -> Vec<AgeWarning> {
    let Some(age) = age_months else { return Vec::new() };
    age_rules_for(recall)
        .into_iter()
        .filter(|rule| age < rule.under_months)
        .map(|rule| AgeWarning {
            rule: rule.id,
            message: rule.message.to_owned(),
            under_months: rule.under_months,
        })
        .collect()
}
