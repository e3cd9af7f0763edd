//! Recall-issuing agencies and the normalization of their many spellings.
//!
//! Sources name the same agency in different ways ("FDA-Food", "openFDA",
//! "EU RAPEX"); filters and storage need exactly one code per agency, so
//! every spelling is mapped to a code of [`AGENCIES`] at the boundary.

mod table;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use table::AGENCIES;

/// One row of the contract's agency table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Agency {
    pub code: &'static str,
    pub name: &'static str,
    pub country: &'static str,
    pub website: &'static str,
}

/// A code from [`AGENCIES`]; holding one proves the agency exists.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgencyCode(&'static str);

/// The input named no known agency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown agency code '{0}'")]
pub struct UnknownAgency(pub String);

/// Spellings seen in sources that are neither a code nor a full name.
/// Written in squashed form (see [`squash`]).
const ALIASES: &[(&str, &str)] = &[
    ("USFDA", "FDA"),
    ("OPENFDA", "FDA"),
    ("FDAFOOD", "FDA"),
    ("FDADRUG", "FDA"),
    ("FDADRUGS", "FDA"),
    ("FDADEVICE", "FDA"),
    ("FDADEVICES", "FDA"),
    ("FDACOSMETIC", "FDA"),
    ("FDACOSMETICS", "FDA"),
    ("FDAVETERINARY", "FDA"),
    ("FDABIOLOGICS", "FDA"),
    ("FDATOBACCO", "FDA"),
    ("FOODANDDRUGADMINISTRATION", "FDA"),
    ("USCPSC", "CPSC"),
    ("CONSUMERPRODUCTSAFETYCOMMISSION", "CPSC"),
    ("USDA", "USDA_FSIS"),
    ("FSIS", "USDA_FSIS"),
    ("USNHTSA", "NHTSA"),
    ("HC", "HEALTH_CANADA"),
    ("HCSC", "HEALTH_CANADA"),
    ("HEALTHYCANADIANS", "HEALTH_CANADA"),
    ("SANTECANADA", "HEALTH_CANADA"),
    ("RAPEX", "EU_SAFETY_GATE"),
    ("EURAPEX", "EU_SAFETY_GATE"),
    ("SAFETYGATE", "EU_SAFETY_GATE"),
    ("EUSAFETYGATE", "EU_SAFETY_GATE"),
    ("OPSS", "UK_OPSS"),
    ("FSA", "UK_FSA"),
    ("MHRA", "UK_MHRA"),
    ("DVSA", "UK_DVSA"),
];

/// Uppercases and drops every non-alphanumeric character, so spaces,
/// hyphens, underscores and dots are all equivalent ("EU rapex" ==
/// "EU_RAPEX" == "eu-rapex").
fn squash(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase)
}

fn same_squashed(candidate: &str, squashed_input: &str) -> bool {
    squash(candidate).eq(squashed_input.chars())
}

impl AgencyCode {
    /// Maps a source's spelling (code, alias or full name; case, spaces,
    /// hyphens and underscores ignored) to its agency code.
    pub fn parse(input: &str) -> Result<AgencyCode, UnknownAgency> {
        let key: String = squash(input).collect();
        let unknown = || UnknownAgency(input.trim().chars().take(64).collect());
        if key.is_empty() || key.len() > 128 {
            return Err(unknown());
        }
        let by_code = AGENCIES.iter().find(|a| same_squashed(a.code, &key));
        let by_alias = || {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == key)
                .and_then(|(_, code)| AGENCIES.iter().find(|a| a.code == *code))
        };
        let by_name = || AGENCIES.iter().find(|a| same_squashed(a.name, &key));
        by_code.or_else(by_alias).or_else(by_name).map(|a| AgencyCode(a.code)).ok_or_else(unknown)
    }

    /// All codes in contract order.
    pub fn all() -> impl Iterator<Item = AgencyCode> {
        AGENCIES.iter().map(|a| AgencyCode(a.code))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// The agency's table row (name, country, website).
    pub fn agency(&self) -> &'static Agency {
        AGENCIES.iter().find(|a| a.code == self.0).expect("AgencyCode is only built from AGENCIES")
    }
}

impl Agency {
    pub fn code(&'static self) -> AgencyCode {
        AgencyCode(self.code)
    }
}

impl fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for AgencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgencyCode({})", self.0)
    }
}

impl std::str::FromStr for AgencyCode {
    type Err = UnknownAgency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgencyCode::parse(s)
    }
}

impl Serialize for AgencyCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

/// Deserializing normalizes, so JSON imports accept sources' spellings.
impl<'de> Deserialize<'de> for AgencyCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
        AgencyCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> &'static str {
        AgencyCode::parse(s).unwrap().as_str()
    }

    #[test]
    fn table_has_the_42_contract_rows_in_order() {
        assert_eq!(AGENCIES.len(), 42);
        assert_eq!(AGENCIES[0].code, "FDA");
        assert_eq!(AGENCIES[9].code, "EU_SAFETY_GATE");
        assert_eq!(AGENCIES[41].code, "ANMAT");
        assert_eq!(AGENCIES[41].country, "Argentina");
        let mut codes: Vec<_> = AGENCIES.iter().map(|a| a.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 42, "codes are unique");
    }

    #[test]
    fn every_code_and_full_name_parses_to_its_own_agency() {
        for agency in &AGENCIES {
            assert_eq!(code(agency.code), agency.code);
            assert_eq!(code(&agency.code.to_lowercase()), agency.code);
            assert_eq!(code(agency.name), agency.code, "name {}", agency.name);
            assert_eq!(AgencyCode::parse(agency.code).unwrap().agency(), agency);
        }
    }

    #[test]
    fn source_spellings_are_normalized() {
        let cases = [
            ("FDA-Food", "FDA"),
            ("FDA Drug", "FDA"),
            ("US FDA", "FDA"),
            ("openFDA", "FDA"),
            ("EU RAPEX", "EU_SAFETY_GATE"),
            ("RAPEX", "EU_SAFETY_GATE"),
            ("Safety Gate", "EU_SAFETY_GATE"),
            ("eu-safety-gate", "EU_SAFETY_GATE"),
            ("Health Canada", "HEALTH_CANADA"),
            ("HC", "HEALTH_CANADA"),
            ("Healthy Canadians", "HEALTH_CANADA"),
            ("US CPSC", "CPSC"),
            ("Consumer Product Safety Commission", "CPSC"),
            ("USDA", "USDA_FSIS"),
            ("FSIS", "USDA_FSIS"),
            ("usda fsis", "USDA_FSIS"),
            ("OPSS", "UK_OPSS"),
            ("FSA", "UK_FSA"),
            ("MHRA", "UK_MHRA"),
            ("Rappel Conso", "RAPPEL_CONSO"),
            ("RappelConso", "RAPPEL_CONSO"),
        ];
        for (input, expected) in cases {
            assert_eq!(code(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn unknown_agencies_are_rejected_with_the_input_in_the_message() {
        let err = AgencyCode::parse("ACME").unwrap_err();
        assert_eq!(err.to_string(), "unknown agency code 'ACME'");
        assert!(AgencyCode::parse("").is_err());
        assert!(AgencyCode::parse(" - ").is_err());
    }

    #[test]
    fn serde_writes_the_code_and_reads_any_spelling() {
        let parsed: AgencyCode = serde_json::from_str("\"eu rapex\"").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"EU_SAFETY_GATE\"");
        let err = serde_json::from_str::<AgencyCode>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("unknown agency code 'nope'"));
    }
}
