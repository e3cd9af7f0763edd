//! The closed vocabularies of a recall: severity, risk category, status.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value outside a closed vocabulary. Shown after the field name, e.g.
/// "severity: must be one of low, medium, high, critical, got 'severe'".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of {}, got '{value}'", .expected.join(", "))]
pub struct InvalidValue {
    pub value: String,
    pub expected: &'static [&'static str],
}

/// Declares a string-valued enum whose spelling is case-insensitive and
/// treats spaces, hyphens and underscores alike on input (sources differ),
/// but is always written in the canonical snake_case form.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(input: &str) -> Result<$name, InvalidValue> {
                let key: String = input
                    .trim()
                    .chars()
                    .map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_lowercase() })
                    .collect();
                match key.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(InvalidValue {
                        value: input.chars().take(64).collect(),
                        expected: Self::NAMES,
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

vocabulary! {
    /// How dangerous the recalled product is; ordered so filters and ranking
    /// can compare (`Low < Critical`).
    Severity {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
}

vocabulary! {
    /// What kind of product is recalled; drives which families see it.
    RiskCategory {
        Drug => "drug",
        Device => "device",
        Food => "food",
        Cosmetic => "cosmetic",
        Supplement => "supplement",
        Toy => "toy",
        BabyProduct => "baby_product",
        Other => "other",
    }
}

vocabulary! {
    /// Whether the recall is still in effect.
    RecallStatus {
        Open => "open",
        Closed => "closed",
    }
}

impl Default for RecallStatus {
    /// Sources rarely say a recall is over, so a recall is open until told.
    fn default() -> Self {
        RecallStatus::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_is_ordered_from_low_to_critical() {
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::High < Severity::Critical);
        assert_eq!(Severity::ALL.len(), 4);
    }

    #[test]
    fn parsing_ignores_case_and_separator_style() {
        assert_eq!(RiskCategory::parse("Baby Product"), Ok(RiskCategory::BabyProduct));
        assert_eq!(RiskCategory::parse("baby-product"), Ok(RiskCategory::BabyProduct));
        assert_eq!(Severity::parse(" HIGH "), Ok(Severity::High));
        assert_eq!("closed".parse::<RecallStatus>(), Ok(RecallStatus::Closed));
    }

    #[test]
    fn unknown_values_list_the_allowed_ones() {
        let err = Severity::parse("severe").unwrap_err();
        assert_eq!(err.to_string(), "must be one of low, medium, high, critical, got 'severe'");
    }

    #[test]
    fn serde_uses_snake_case_names() {
        assert_eq!(serde_json::to_string(&RiskCategory::BabyProduct).unwrap(), "\"baby_product\"");
        let parsed: RiskCategory = serde_json::from_str("\"baby_product\"").unwrap();
        assert_eq!(parsed, RiskCategory::BabyProduct);
        assert!(serde_json::from_str::<RecallStatus>("\"pending\"").is_err());
        assert_eq!(RecallStatus::default(), RecallStatus::Open);
        for s in RiskCategory::ALL {
            assert_eq!(RiskCategory::parse(s.as_str()), Ok(*s));
        }
    }
}
