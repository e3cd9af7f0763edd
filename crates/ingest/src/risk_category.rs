//! Which families a consumer-product recall concerns, from its words.
//!
//! BabyShield's users are parents, so nursery products and toys are told
//! apart from everything else; food, drug and device recalls come with
//! their category from the source instead.

use babyshield_domain::RiskCategory;
use babyshield_domain::text::normalize;

/// Phrases (normalized, matched on word boundaries) naming nursery products.
const BABY: &[&str] = &[
    "baby",
    "babies",
    "infant",
    "infants",
    "newborn",
    "nursery",
    "crib",
    "cribs",
    "bassinet",
    "bassinets",
    "stroller",
    "strollers",
    "car seat",
    "car seats",
    "high chair",
    "high chairs",
    "highchair",
    "play yard",
    "play yards",
    "playard",
    "pacifier",
    "pacifiers",
    "teether",
    "teethers",
    "baby gate",
    "changing table",
    "bouncer",
    "bouncers",
    "infant swing",
    "baby carrier",
    "sling carrier",
    "sleeper",
    "sleepers",
    "nursing pillow",
    "toddler bed",
    "baby monitor",
    "bottle warmer",
    "diaper",
    "diapers",
    "bib",
    "bibs",
];

/// Phrases naming toys.
const TOY: &[&str] = &[
    "toy",
    "toys",
    "doll",
    "dolls",
    "plush",
    "stuffed animal",
    "puzzle",
    "puzzles",
    "building blocks",
    "action figure",
    "action figures",
    "rattle",
    "rattles",
    "slime",
    "play set",
    "playset",
    "kite",
    "yo yo",
    "fidget",
    "squishy",
    "ride on",
    "tricycle",
    "magnet set",
    "marbles",
];

/// `baby_product` for nursery words, `toy` for toy words, else `other`.
pub(crate) fn classify_consumer_product<'a>(texts: impl IntoIterator<Item = &'a str>) -> RiskCategory {
    let mut text = String::from(" ");
    for part in texts {
        text.push_str(&normalize(part));
        text.push(' ');
    }
    let mentions = |phrases: &[&str]| phrases.iter().any(|p| text.contains(&format!(" {p} ")));
    if mentions(BABY) {
        RiskCategory::BabyProduct
    } else if mentions(TOY) {
        RiskCategory::Toy
    } else {
        RiskCategory::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nursery_words_win_over_toy_words() {
        assert_eq!(classify_consumer_product(["Infant Activity Toy"]), RiskCategory::BabyProduct);
        assert_eq!(classify_consumer_product(["Convertible Car-Seats"]), RiskCategory::BabyProduct);
        assert_eq!(classify_consumer_product(["Plush Toys", "Stuffed animals"]), RiskCategory::Toy);
        assert_eq!(classify_consumer_product(["Space Heaters"]), RiskCategory::Other);
        assert_eq!(classify_consumer_product(["Cribbage boards", "Toyota parts"]), RiskCategory::Other);
    }
}
