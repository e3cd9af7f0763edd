//! Recall identifiers, which appear in URLs (`/api/v1/recall/{id}`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An agency-prefixed recall id such as `CPSC-24123` or
/// `EU_SAFETY_GATE-A12/00345/24`. EU ids contain `/`, so the rules keep ids
/// safe inside a path: a restricted alphabet, no leading `/`, no `..`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecallId(String);

pub const MAX_RECALL_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRecallId {
    #[error("recall id is empty")]
    Empty,
    #[error("recall id is longer than 128 characters")]
    TooLong,
    #[error("recall id may only contain letters, digits and / _ - . (found '{0}')")]
    InvalidCharacter(char),
    #[error("recall id must not start with '/'")]
    LeadingSlash,
    #[error("recall id must not contain a '..' segment")]
    DotDotSegment,
}

impl RecallId {
    pub fn parse(input: &str) -> Result<RecallId, InvalidRecallId> {
        if input.is_empty() {
            return Err(InvalidRecallId::Empty);
        }
        if let Some(bad) =
            input.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.')))
        {
            return Err(InvalidRecallId::InvalidCharacter(bad));
        }
        if input.len() > MAX_RECALL_ID_LEN {
            return Err(InvalidRecallId::TooLong);
        }
        if input.starts_with('/') {
            return Err(InvalidRecallId::LeadingSlash);
        }
        if input.split('/').any(|segment| segment == "..") {
            return Err(InvalidRecallId::DotDotSegment);
        }
        Ok(RecallId(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for RecallId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RecallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecallId({})", self.0)
    }
}

impl std::str::FromStr for RecallId {
    type Err = InvalidRecallId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecallId::parse(s)
    }
}

impl Serialize for RecallId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RecallId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
        RecallId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agency_prefixed_ids_with_slashes_are_accepted() {
        for id in ["CPSC-24123", "FDA-F-1234-2024", "EU_SAFETY_GATE-A12/00345/24", "X.1..2"] {
            assert_eq!(RecallId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn unsafe_or_malformed_ids_are_rejected() {
        assert_eq!(RecallId::parse(""), Err(InvalidRecallId::Empty));
        assert_eq!(RecallId::parse("/CPSC-1"), Err(InvalidRecallId::LeadingSlash));
        assert_eq!(RecallId::parse("EU/../etc"), Err(InvalidRecallId::DotDotSegment));
        assert_eq!(RecallId::parse(".."), Err(InvalidRecallId::DotDotSegment));
        assert_eq!(RecallId::parse("a b"), Err(InvalidRecallId::InvalidCharacter(' ')));
        assert_eq!(RecallId::parse("a%2F"), Err(InvalidRecallId::InvalidCharacter('%')));
        assert_eq!(RecallId::parse(&"a".repeat(129)), Err(InvalidRecallId::TooLong));
        assert!(RecallId::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let id: RecallId = serde_json::from_str("\"CPSC-1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"CPSC-1\"");
        assert!(serde_json::from_str::<RecallId>("\"../x\"").is_err());
    }
}
