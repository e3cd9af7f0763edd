//! Composes one synthetic recall line.

use super::agencies::{AgencyPicker, AgencyProfile};
use super::barcode::{self, Barcode};
use super::brands::Brands;
use super::calendar::{Ymd, civil_from_days, days_from_civil};
use super::catalog::{ALLERGENS, Category, Hazard, ProductKind};
use super::json::{ObjectWriter, push_padded, push_u64};
use super::prose::{
    DESCRIPTORS, legal_suffix, push_date, push_description, push_hazard, push_id, push_model_number,
    push_product, push_title,
};
use super::rng::Rng;
use super::vocabulary::Vocabulary;

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const RECALL_CLASSES: [&str; 4] = ["Class III", "Class II", "Class I", "Class I"];
const OTHER_COUNTRIES: [&str; 8] =
    ["United States", "Canada", "Mexico", "United Kingdom", "Germany", "France", "Australia", "New Zealand"];
/// Recall dates are spread over this range (inclusive).
const FIRST_DAY: (i32, u32, u32) = (2000, 1, 1);
const LAST_DAY: (i32, u32, u32) = (2026, 10, 31);
/// Percent of barcodes reused from a recent recall (the same product recalled
/// in another market, or re-announced), so barcode lookups can hit several.
const SHARED_BARCODE_PERCENT: u64 = 3;

/// Per-stream state: the PRNG plus the catalogues built once.
pub(crate) struct Generator {
    rng: Rng,
    brands: Brands,
    vocabulary: Vocabulary,
    agencies: AgencyPicker,
    recent: Vec<Barcode>,
    first_day: i64,
    last_day: i64,
}

/// What one recall is about, chosen before any text is written.
pub(super) struct Subject {
    pub(super) agency: &'static AgencyProfile,
    pub(super) category: Category,
    pub(super) kind: &'static ProductKind,
    pub(super) hazard: &'static Hazard,
    /// For allergen food recalls: the allergen and whether the label only
    /// "may contain" it (otherwise it is undeclared).
    pub(super) allergen: Option<(&'static str, bool)>,
    pub(super) descriptor: Option<&'static str>,
    pub(super) severity: usize,
    pub(super) date: Ymd,
}

impl Generator {
    pub(crate) fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            brands: Brands::new(),
            vocabulary: Vocabulary::new(),
            agencies: AgencyPicker::new(),
            recent: Vec::with_capacity(256),
            first_day: days_from_civil(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2),
            last_day: days_from_civil(LAST_DAY.0, LAST_DAY.1, LAST_DAY.2),
        }
    }

    fn choose_subject(&mut self) -> Subject {
        let rng = &mut self.rng;
        let agency = self.agencies.pick(rng);
        let category = *rng.pick(agency.categories);
        let kind = rng.pick(category.kinds());
        let hazard = rng.pick(kind.hazards);
        let allergen =
            (category == Category::Food && rng.percent(55)).then(|| (*rng.pick(ALLERGENS), rng.percent(20)));
        let descriptor = rng.percent(40).then(|| *rng.pick(&DESCRIPTORS));
        let severity = match allergen {
            Some((_, may_contain)) => 2 - usize::from(may_contain),
            None => match rng.below(20) {
                0..=2 => usize::from(hazard.severity).saturating_sub(1),
                3..=4 => usize::from(hazard.severity + 1).min(3),
                _ => usize::from(hazard.severity),
            },
        };
        let day = self.first_day + rng.below((self.last_day - self.first_day + 1) as u64) as i64;
        Subject { agency, category, kind, hazard, allergen, descriptor, severity, date: civil_from_days(day) }
    }

    fn barcodes(&mut self, agency: &AgencyProfile, company: u32) -> Vec<Barcode> {
        let rng = &mut self.rng;
        if rng.percent(12) {
            return Vec::new();
        }
        let count = 1 + usize::from(rng.percent(30)) + usize::from(rng.percent(10));
        let mut codes = Vec::with_capacity(count);
        for _ in 0..count {
            let code = if !self.recent.is_empty() && rng.percent(SHARED_BARCODE_PERCENT) {
                *rng.pick(&self.recent)
            } else {
                let code = barcode::mint(rng, agency, company);
                if self.recent.len() < 256 {
                    self.recent.push(code);
                } else {
                    let slot = rng.index(256);
                    self.recent[slot] = code;
                }
                code
            };
            if !codes.iter().any(|c: &Barcode| c.as_str() == code.as_str()) {
                codes.push(code);
            }
        }
        codes
    }

    /// Appends recall number `n` as one JSON line to `buf`.
    pub(crate) fn write_line(&mut self, n: u64, buf: &mut Vec<u8>) {
        let s = self.choose_subject();
        let brand_index = self.brands.sample(&mut self.rng);
        let codes = self.barcodes(s.agency, self.brands.get(brand_index).company);
        let brand = self.brands.get(brand_index);
        let rng = &mut self.rng;
        let vocabulary = &self.vocabulary;

        let mut obj = ObjectWriter::new(buf);
        obj.raw_string("id", |b| push_id(b, s.agency, n, s.date));
        obj.raw_string("agencyCode", |b| b.extend_from_slice(s.agency.code.as_bytes()));
        let style = if rng.percent(25) { None } else { Some(s.agency.style) };
        obj.raw_string("title", |b| push_title(b, &s, brand, style));
        obj.raw_string("recallDate", |b| push_date(b, s.date));
        obj.raw_string("productName", |b| push_product(b, &s));
        obj.string("brand", &brand.name);
        obj.raw_string("manufacturer", |b| {
            b.extend_from_slice(brand.name.as_bytes());
            b.extend_from_slice(legal_suffix(s.agency.country).as_bytes());
        });
        if let Some(first) = codes.first() {
            obj.string("upc", first.as_str());
            obj.strings("upcs", codes.iter().map(Barcode::as_str));
        }
        let mut models = Vec::new();
        if !s.category.has_lots() {
            let count = 1 + rng.below(3) as usize;
            for _ in 0..count {
                let mut model = Vec::with_capacity(10);
                push_model_number(&mut model, brand, rng.below(100_000));
                models.push(String::from_utf8(model).expect("ASCII model number"));
            }
            obj.string("modelNumber", &models[0]);
            obj.strings("modelNumbers", models.iter().map(String::as_str));
        }
        obj.raw_string("hazard", |b| push_hazard(b, &s, false));
        obj.string("hazardCategory", if s.allergen.is_some() { "allergen" } else { s.hazard.category });
        obj.raw_string("recallReason", |b| match s.allergen {
            Some(_) => push_hazard(b, &s, false),
            None => b.extend_from_slice(s.hazard.sentence.trim_end_matches('.').as_bytes()),
        });
        obj.string("riskCategory", s.category.as_str());
        obj.string("severity", SEVERITIES[s.severity]);
        if matches!(s.agency.code, "FDA" | "USDA_FSIS") {
            obj.string("recallClass", RECALL_CLASSES[s.severity]);
        }
        let recent = s.date.year >= 2025;
        let open = if recent { rng.percent(80) } else { rng.percent(8) };
        obj.string("status", if open { "open" } else { "closed" });
        let remedy: &&str = rng.pick(s.category.remedies());
        obj.string("remedy", remedy);
        if s.category.has_lots() {
            let lot = rng.below(1_000_000);
            obj.raw_string("lotNumber", |b| {
                b.extend_from_slice(b"Lot ");
                b.push(b'A' + (lot % 26) as u8);
                push_padded(b, lot, 6);
            });
        }
        obj.raw_string("description", |b| {
            push_description(b, &s, brand, &models, rng, vocabulary);
        });
        obj.raw_string("sourceUrl", |b| {
            b.extend_from_slice(s.agency.site.as_bytes());
            b.extend_from_slice(b"/synthetic-");
            push_u64(b, n);
        });
        obj.string("country", s.agency.country);
        if rng.percent(25) {
            let other = *rng.pick(&OTHER_COUNTRIES);
            if other == s.agency.country {
                obj.strings("affectedCountries", [other]);
            } else {
                obj.strings("affectedCountries", [s.agency.country, other]);
            }
        }
        let updated = (days_from_civil(s.date.year, s.date.month, s.date.day) + rng.below(120) as i64)
            .min(days_from_civil(LAST_DAY.0, LAST_DAY.1, LAST_DAY.2));
        let seconds = rng.below(86_400);
        obj.raw_string("lastUpdated", |b| {
            push_date(b, civil_from_days(updated));
            b.push(b'T');
            push_padded(b, seconds / 3600, 2);
            b.push(b':');
            push_padded(b, seconds / 60 % 60, 2);
            b.push(b':');
            push_padded(b, seconds % 60, 2);
            b.push(b'Z');
        });
        obj.finish();
    }
}
