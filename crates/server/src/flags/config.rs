//! The `[flags]` section: how often overrides are re-read, and every flag
//! with its default. Dotted names are nested keys, so TOML and environment
//! variables spell them naturally:
//!
//! ```toml
//! [flags]
//! refresh_ms = 2000
//! auth.registration_open = { enabled = true }
//! search.new_ranking = { percent = 25 }
//! ```
//!
//! `BABYSHIELD__FLAGS__AUTH__REGISTRATION_OPEN__ENABLED=false` works too.
//! A flag is either boolean or a percentage: setting both is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use serde_json::{Map, Value};

use crate::config::ConfigError;

/// A flag's value: on or off for everyone, or on for a stable share of
/// subjects (users, or client addresses when anonymous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagValue {
    Enabled(bool),
    Percent(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagsConfig {
    /// How often each instance re-reads the overrides admins set.
    pub refresh_ms: u64,
    /// Every flag the service knows, by dotted name, with its default.
    pub flags: BTreeMap<String, FlagValue>,
}

impl Default for FlagsConfig {
    fn default() -> Self {
        let flags = super::BUILT_IN.iter().map(|(name, value)| (name.to_string(), *value)).collect();
        FlagsConfig { refresh_ms: 2_000, flags }
    }
}

impl FlagsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(100..=60_000).contains(&self.refresh_ms) {
            return Err(ConfigError::new("flags.refresh_ms", "must be between 100 and 60000"));
        }
        Ok(())
    }
}

const REFRESH_KEY: &str = "refresh_ms";

/// `[a-z0-9_-]` segments joined by dots, at most 64 characters in all.
pub(super) fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
}

impl<'de> Deserialize<'de> for FlagsConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = Map::<String, Value>::deserialize(deserializer)?;
        let refresh_ms = match table.remove(REFRESH_KEY) {
            None => FlagsConfig::default().refresh_ms,
            Some(value) => value
                .as_u64()
                .ok_or_else(|| D::Error::custom("flags.refresh_ms: must be a positive integer"))?,
        };
        let mut flags = BTreeMap::new();
        for (key, value) in &table {
            collect(key, value, &mut flags).map_err(D::Error::custom)?;
        }
        Ok(FlagsConfig { refresh_ms, flags })
    }
}

/// Walks nested tables down to `{enabled}` / `{percent}` leaves.
fn collect(name: &str, value: &Value, out: &mut BTreeMap<String, FlagValue>) -> Result<(), String> {
    let key = format!("flags.{name}");
    let Value::Object(table) = value else {
        return Err(format!("{key}: expected a table such as {{ enabled = true }} or {{ percent = 25 }}"));
    };
    if !table.contains_key("enabled") && !table.contains_key("percent") {
        if table.is_empty() {
            return Err(format!("{key}: expected {{ enabled = true }} or {{ percent = 25 }}"));
        }
        for (child, value) in table {
            if child.contains('.') {
                return Err(format!("{key}.\"{child}\": write dotted flag names as unquoted keys"));
            }
            collect(&format!("{name}.{child}"), value, out)?;
        }
        return Ok(());
    }
    if !valid_name(name) {
        return Err(format!("{key}: names are [a-z0-9_-] segments joined by dots, at most 64 characters"));
    }
    if table.len() != 1 {
        return Err(format!("{key}: set exactly one of `enabled` (true/false) or `percent` (0..100)"));
    }
    let flag = match (table.get("enabled"), table.get("percent")) {
        (Some(Value::Bool(on)), _) => FlagValue::Enabled(*on),
        (Some(_), _) => return Err(format!("{key}.enabled: must be true or false")),
        (_, Some(n)) => match n.as_u64().and_then(|n| u8::try_from(n).ok()).filter(|n| *n <= 100) {
            Some(percent) => FlagValue::Percent(percent),
            None => return Err(format!("{key}.percent: must be an integer between 0 and 100")),
        },
        (None, None) => unreachable!("checked above"),
    };
    out.insert(name.to_string(), flag);
    Ok(())
}

impl Serialize for FlagsConfig {
    /// The same nested shape the file uses, so defaults and the file merge
    /// key by key.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut root = Map::new();
        root.insert(REFRESH_KEY.into(), Value::from(self.refresh_ms));
        for (name, value) in &self.flags {
            let mut table = &mut root;
            let mut segments = name.split('.').peekable();
            while let Some(segment) = segments.next() {
                if segments.peek().is_none() {
                    table.insert(
                        segment.into(),
                        serde_json::to_value(value).map_err(serde::ser::Error::custom)?,
                    );
                } else {
                    let entry = table.entry(segment).or_insert_with(|| Value::Object(Map::new()));
                    let Value::Object(next) = entry else {
                        return Err(serde::ser::Error::custom(format!(
                            "flag {name} nests under another flag"
                        )));
                    };
                    table = next;
                }
            }
        }
        root.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn nested_keys_define_dotted_flags_over_the_built_in_defaults() {
        let config = Config::from_toml(
            "[flags]\nrefresh_ms = 500\nauth.registration_open = { enabled = false }\n\
             search.new_ranking = { percent = 25 }",
        )
        .unwrap();
        assert_eq!(config.flags.refresh_ms, 500);
        assert_eq!(config.flags.flags["auth.registration_open"], FlagValue::Enabled(false));
        assert_eq!(config.flags.flags["search.new_ranking"], FlagValue::Percent(25));
    }

    #[test]
    fn the_built_in_flags_are_there_without_a_file() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config.flags.flags[super::super::REGISTRATION_OPEN], FlagValue::Enabled(true));
    }

    #[test]
    fn bad_flags_are_refused_naming_the_key() {
        for (toml, needle) in [
            ("x = { percent = 101 }", "flags.x.percent"),
            ("x = { enabled = 1 }", "flags.x.enabled"),
            ("x = { enabled = true, percent = 5 }", "exactly one"),
            ("x = { enabled = true, colour = 1 }", "exactly one"),
            ("X = { enabled = true }", "flags.X"),
            ("x = 3", "flags.x"),
            ("refresh_ms = \"soon\"", "flags.refresh_ms"),
            ("auth.registration_open = { percent = 5 }", "exactly one"),
        ] {
            let error = Config::from_toml(&format!("[flags]\n{toml}")).unwrap_err();
            assert!(error.to_string().contains(needle), "{toml}: {error}");
        }
        let error = Config::from_toml("[flags]\nrefresh_ms = 5").unwrap_err();
        assert_eq!(error.key, "flags.refresh_ms");
    }

    #[test]
    fn the_effective_config_prints_the_flags_as_the_file_spells_them() {
        let shown = Config::default().redacted_toml();
        assert!(shown.contains("registration_open"), "{shown}");
        let text = toml::to_string(&FlagsConfig::default()).unwrap();
        assert_eq!(toml::from_str::<FlagsConfig>(&text).unwrap(), FlagsConfig::default(), "{text}");
    }

    #[test]
    fn names_are_lowercase_dotted_segments() {
        assert!(valid_name("auth.registration_open"));
        assert!(valid_name("a-b.c_d.9"));
        for bad in ["", "a..b", ".a", "a.", "A", "a b", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
