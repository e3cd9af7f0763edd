//! The sources this crate understands, named as the CLI and config name them.

use std::fmt;

/// A recall feed with its own payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Cpsc,
    FdaFood,
    FdaDrug,
    FdaDevice,
    HealthCanada,
}

/// The name matched no [`Source`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown source '{0}' (expected one of cpsc, fda-food, fda-drug, fda-device, health-canada)")]
pub struct UnknownSource(pub String);

impl Source {
    pub const ALL: &'static [Source] =
        &[Source::Cpsc, Source::FdaFood, Source::FdaDrug, Source::FdaDevice, Source::HealthCanada];

    pub fn parse(input: &str) -> Result<Source, UnknownSource> {
        let key = input.trim().to_ascii_lowercase();
        Source::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == key)
            .ok_or_else(|| UnknownSource(input.trim().chars().take(64).collect()))
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Cpsc => "cpsc",
            Source::FdaFood => "fda-food",
            Source::FdaDrug => "fda-drug",
            Source::FdaDevice => "fda-device",
            Source::HealthCanada => "health-canada",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Source {
    type Err = UnknownSource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_round_trips_through_its_name() {
        for source in Source::ALL {
            assert_eq!(Source::parse(source.as_str()), Ok(*source));
        }
        assert_eq!(Source::parse(" FDA-Food "), Ok(Source::FdaFood));
    }

    #[test]
    fn unknown_names_are_rejected_with_the_choices() {
        let err = Source::parse("rapex").unwrap_err();
        assert!(err.to_string().contains("health-canada"), "{err}");
    }
}
