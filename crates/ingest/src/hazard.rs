//! Severity and hazard category from the words sources use.
//!
//! CPSC and Health Canada give no severity, only hazard text, so the words
//! that mean a child can die rank a recall critical; openFDA's class is the
//! FDA's own judgement and is mapped directly.

use babyshield_domain::Severity;
use babyshield_domain::text::tokenize;

/// Words; one ending in `*` is a stem that matches any token starting with it.
const CRITICAL: &[&str] = &["death*", "died", "fatal*", "suffocat*", "strangl*", "strangul*", "asphyx*"];
const HIGH: &[&str] = &["chok*", "fire", "fires", "burn*", "lacerat*", "electrocut*", "amputat*"];

/// Critical for deadly hazards (death, fatal, suffocation, strangulation),
/// high for injuries (choking, fire, burns, lacerations), else medium.
pub(crate) fn severity_from_words(text: &str) -> Severity {
    let tokens = tokenize(text);
    if has_stem(&tokens, CRITICAL) {
        Severity::Critical
    } else if has_stem(&tokens, HIGH) {
        Severity::High
    } else {
        Severity::Medium
    }
}

/// openFDA's `classification`: Class I can cause serious harm or death,
/// Class II temporary harm, Class III is unlikely to harm. Anything else
/// ("Not Yet Classified") gives no severity.
pub(crate) fn severity_from_fda_class(classification: &str) -> Option<Severity> {
    let key = tokenize(classification).join(" ");
    match key.as_str() {
        "class i" | "class 1" => Some(Severity::Critical),
        "class ii" | "class 2" => Some(Severity::High),
        "class iii" | "class 3" => Some(Severity::Medium),
        _ => None,
    }
}

/// The format's `hazardCategory` vocabulary, first match wins (so
/// "choking and suffocation" counts as the graver suffocation).
const CATEGORIES: &[(&str, &[&str])] = &[
    ("suffocation", &["suffocat*", "strangl*", "strangul*", "asphyx*", "entrap*"]),
    ("choking", &["chok*", "aspirat*"]),
    ("allergen", &["allerg*", "undeclared"]),
    (
        "microbial",
        &["listeria", "salmonella", "coli", "botulin*", "bacteri*", "microb*", "mold", "cronobacter"],
    ),
    ("fire", &["fire", "fires", "burn*", "flame*", "overheat*", "ignit*"]),
    ("laceration", &["lacerat*", "cut", "cuts", "sharp", "amputat*"]),
    ("chemical", &["chemical*", "poison*", "toxic*", "cadmium", "phthalate*", "methanol", "benzene"]),
];

/// The hazard category of `text`, `other` when it names none of them.
pub(crate) fn hazard_category(text: &str) -> &'static str {
    let tokens = tokenize(text);
    CATEGORIES.iter().find(|(_, stems)| has_stem(&tokens, stems)).map_or("other", |(name, _)| name)
}

fn has_stem(tokens: &[String], stems: &[&str]) -> bool {
    tokens.iter().any(|t| {
        stems.iter().any(|w| match w.strip_suffix('*') {
            Some(stem) => t.starts_with(stem),
            None => t == w,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadly_words_outrank_injury_words() {
        assert_eq!(severity_from_words("Suffocation and choking hazards"), Severity::Critical);
        assert_eq!(severity_from_words("Risk of strangulation"), Severity::Critical);
        assert_eq!(severity_from_words("Fire and burn hazards"), Severity::High);
        assert_eq!(severity_from_words("Choking"), Severity::High);
        assert_eq!(severity_from_words("Fall hazard"), Severity::Medium);
        assert_eq!(severity_from_words(""), Severity::Medium);
    }

    #[test]
    fn fda_classes_map_to_severity() {
        assert_eq!(severity_from_fda_class("Class I"), Some(Severity::Critical));
        assert_eq!(severity_from_fda_class(" class ii "), Some(Severity::High));
        assert_eq!(severity_from_fda_class("Class III"), Some(Severity::Medium));
        assert_eq!(severity_from_fda_class("Not Yet Classified"), None);
    }

    #[test]
    fn hazard_categories_come_from_the_words() {
        assert_eq!(hazard_category("Undeclared milk"), "allergen");
        assert_eq!(hazard_category("Potential Listeria monocytogenes contamination"), "microbial");
        assert_eq!(hazard_category("Entrapment and suffocation"), "suffocation");
        assert_eq!(hazard_category("Fall hazard"), "other");
        // "lead" is mostly a verb in recall text; lead poisoning still counts.
        assert_eq!(hazard_category("which can lead to falls"), "other");
        assert_eq!(hazard_category("risk of lead poisoning"), "chemical");
    }
}
