//! The wording of generated recalls: ids, titles, hazards and descriptions,
//! shaped after the agencies' own notices.

use super::agencies::{AgencyProfile, TitleStyle};
use super::brands::Brand;
use super::calendar::Ymd;
use super::json::{push_padded, push_u64};
use super::record::Subject;
use super::rng::Rng;
use super::vocabulary::Vocabulary;

pub(super) const DESCRIPTORS: [&str; 16] = [
    "Organic",
    "Classic",
    "Deluxe",
    "2-in-1",
    "Travel",
    "Premium",
    "Mini",
    "Original",
    "Everyday",
    "Comfort",
    "Natural",
    "Essentials",
    "Soft",
    "Compact",
    "Value Pack",
    "Signature",
];
const SOLD_AT: [&str; 8] = [
    "at major retailers nationwide",
    "online",
    "at discount and dollar stores",
    "at grocery stores",
    "at pharmacies",
    "at baby specialty stores",
    "through online marketplaces",
    "at department stores",
];
pub(super) fn push_id(b: &mut Vec<u8>, agency: &AgencyProfile, n: u64, date: Ymd) {
    b.extend_from_slice(agency.code.as_bytes());
    if agency.code == "EU_SAFETY_GATE" {
        // Shaped like real alert numbers, slashes included ("A12/00345/24").
        b.extend_from_slice(b"-SYN-A12/");
        push_padded(b, n, 5);
        b.push(b'/');
        push_padded(b, (date.year % 100) as u64, 2);
    } else {
        b.extend_from_slice(b"-SYN-");
        push_u64(b, n);
    }
}

pub(super) fn push_date(b: &mut Vec<u8>, date: Ymd) {
    push_padded(b, date.year as u64, 4);
    b.push(b'-');
    push_padded(b, u64::from(date.month), 2);
    b.push(b'-');
    push_padded(b, u64::from(date.day), 2);
}

fn push_capitalized(b: &mut Vec<u8>, text: &str) {
    let start = b.len();
    b.extend_from_slice(text.as_bytes());
    if let Some(first) = b.get_mut(start) {
        first.make_ascii_uppercase();
    }
}

pub(super) fn push_product(b: &mut Vec<u8>, s: &Subject) {
    if let Some(descriptor) = s.descriptor {
        b.extend_from_slice(descriptor.as_bytes());
        b.push(b' ');
    }
    b.extend_from_slice(s.kind.plural.as_bytes());
}

/// The hazard as a phrase: "Choking Hazard", "Undeclared Milk", or
/// lower-cased for running text.
pub(super) fn push_hazard(b: &mut Vec<u8>, s: &Subject, lowercase: bool) {
    let start = b.len();
    match s.allergen {
        Some((allergen, true)) => {
            b.extend_from_slice(b"May contain ");
            b.extend_from_slice(allergen.as_bytes());
        }
        Some((allergen, false)) => {
            b.extend_from_slice(b"Undeclared ");
            b.extend_from_slice(allergen.as_bytes());
        }
        None => b.extend_from_slice(s.hazard.title.as_bytes()),
    }
    if lowercase {
        b[start..].make_ascii_lowercase();
    }
}

pub(super) fn push_title(b: &mut Vec<u8>, s: &Subject, brand: &Brand, style: Option<TitleStyle>) {
    match style {
        Some(TitleStyle::UsRecalls) => {
            b.extend_from_slice(brand.name.as_bytes());
            if let Some((allergen, false)) = s.allergen {
                b.extend_from_slice(b" Issues Allergy Alert on Undeclared ");
                push_capitalized(b, allergen);
                b.extend_from_slice(b" in ");
                push_product(b, s);
            } else {
                b.extend_from_slice(b" Recalls ");
                push_product(b, s);
                b.extend_from_slice(b" Due to ");
                push_hazard(b, s, false);
            }
        }
        Some(TitleStyle::Canada) => {
            b.extend_from_slice(brand.name.as_bytes());
            b.extend_from_slice(b" brand ");
            let start = b.len();
            push_product(b, s);
            b[start..].make_ascii_lowercase();
            b.extend_from_slice(b" recalled due to ");
            push_hazard(b, s, true);
        }
        Some(TitleStyle::Alert) => {
            // Alert databases title the single product: "Baby walker (Brand) - ...".
            if let Some(descriptor) = s.descriptor {
                b.extend_from_slice(descriptor.as_bytes());
                b.push(b' ');
                b.extend_from_slice(s.kind.singular.as_bytes());
            } else {
                push_capitalized(b, s.kind.singular);
            }
            b.extend_from_slice(b" (");
            b.extend_from_slice(brand.name.as_bytes());
            b.extend_from_slice(b") - ");
            push_hazard(b, s, false);
        }
        None => {
            b.extend_from_slice(brand.name.as_bytes());
            b.push(b' ');
            push_product(b, s);
            b.extend_from_slice(b" Recalled Due to ");
            push_hazard(b, s, false);
        }
    }
}

pub(super) fn push_model_number(b: &mut Vec<u8>, brand: &Brand, number: u64) {
    for word in brand.name.split(' ').take(2) {
        if let Some(c) = word.bytes().next().filter(u8::is_ascii_alphabetic) {
            b.push(c.to_ascii_uppercase());
        }
    }
    b.push(b'-');
    push_padded(b, number, 5);
}

pub(super) fn legal_suffix(country: &str) -> &'static str {
    match country {
        "United States" | "Canada" => " Inc.",
        "United Kingdom" | "Australia" | "New Zealand" | "Singapore" => " Ltd",
        "Germany" | "Switzerland" => " GmbH",
        "France" | "Spain" | "Mexico" | "Argentina" => " S.A.",
        "Brazil" => " Ltda.",
        _ => " B.V.",
    }
}

pub(super) fn push_description(
    b: &mut Vec<u8>,
    s: &Subject,
    brand: &Brand,
    models: &[String],
    rng: &mut Rng,
    vocabulary: &Vocabulary,
) {
    b.extend_from_slice(b"This recall involves ");
    b.extend_from_slice(brand.name.as_bytes());
    b.push(b' ');
    let start = b.len();
    push_product(b, s);
    b[start..].make_ascii_lowercase();
    if !models.is_empty() {
        b.extend_from_slice(if models.len() == 1 { b", model " } else { b", models " });
        for (i, model) in models.iter().enumerate() {
            if i > 0 {
                b.extend_from_slice(b", ");
            }
            b.extend_from_slice(model.as_bytes());
        }
        b.push(b',');
    }
    b.extend_from_slice(b" sold ");
    b.extend_from_slice(rng.pick(&SOLD_AT).as_bytes());
    let years = rng.below(4) as i32;
    b.extend_from_slice(b" from ");
    push_u64(b, (s.date.year - years) as u64);
    b.extend_from_slice(b" through ");
    push_u64(b, s.date.year as u64);
    b.extend_from_slice(b". ");
    match s.allergen {
        Some((allergen, may_contain)) => {
            b.extend_from_slice(if may_contain {
                b"The product may contain ".as_slice()
            } else {
                b"The product contains ".as_slice()
            });
            b.extend_from_slice(allergen.as_bytes());
            b.extend_from_slice(
                b", which is not declared on the label; people with an allergy to it risk a serious allergic reaction.",
            );
        }
        None => b.extend_from_slice(s.hazard.sentence.as_bytes()),
    }
    for _ in 0..1 + usize::from(rng.percent(40)) {
        b.push(b' ');
        let start = b.len();
        let words = 6 + rng.index(11);
        vocabulary.push_words(rng, words, b);
        if let Some(first) = b.get_mut(start) {
            first.make_ascii_uppercase();
        }
        b.push(b'.');
    }
    if rng.percent(30) {
        b.extend_from_slice(b" About ");
        push_u64(b, 100 * (1 + rng.below(5_000)));
        b.extend_from_slice(b" units were sold.");
    }
}
