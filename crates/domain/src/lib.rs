//! BabyShield's domain model: barcodes, agencies, recalls, search rules and
//! cursors. Plain Rust with no I/O, so every rule is unit-testable without a
//! server and shared by the importer, the data generator and the API.

pub mod agency;
pub mod cursor;
pub mod gtin;
pub mod recall;
pub mod safety;
pub mod search;
pub mod text;
pub mod ymd;

pub use agency::{AGENCIES, Agency, AgencyCode, UnknownAgency};
pub use cursor::{CursorError, CursorKey, SearchPosition, decode_cursor, encode_cursor};
pub use gtin::{Gtin, GtinError, check_digit, extract_gtins};
pub use recall::{
    InvalidRecallId, InvalidValue, Recall, RecallError, RecallId, RecallItem, RecallStatus, RiskCategory,
    Severity,
};
pub use safety::{
    AGE_RULES, AgeRule, AgeWarning, Allergen, AllergenFinding, Match, MatchType, ProductQuery, Verdict,
    age_rules_for, age_warnings, allergen_findings, score_match, verdict,
};
pub use search::{AdvancedSearch, RecallFilters, SearchRequestError, parse_terms};
pub use text::SearchDocument;
