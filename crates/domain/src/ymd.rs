//! Calendar dates in the contract's `YYYY-MM-DD` form.
//!
//! `time`'s format parser is lenient about signs and widths; the API promises
//! exactly ten characters, so the shape is checked before parsing.

use serde::{Deserialize, Deserializer, Serializer};
use time::Date;
use time::macros::format_description;

const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

/// Parses exactly `YYYY-MM-DD` (a real calendar day), else `None`.
pub fn parse(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() });
    if !shaped {
        return None;
    }
    Date::parse(s, FORMAT).ok()
}

/// Formats as `YYYY-MM-DD`.
pub fn format(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// For `#[serde(serialize_with = "crate::ymd::serialize")]`.
pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*date))
}

/// For `#[serde(deserialize_with = "crate::ymd::deserialize")]`: only the
/// ten-character form [`format`] writes.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
    parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a YYYY-MM-DD date: {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn parses_only_real_days_in_the_ten_character_form() {
        assert_eq!(parse("2024-02-29"), Some(date!(2024 - 02 - 29)));
        assert_eq!(parse("2023-02-29"), None);
        assert_eq!(parse("2024-2-9"), None);
        assert_eq!(parse("+2024-02-2"), None);
        assert_eq!(parse("2024-02-29T00:00:00"), None);
        assert_eq!(parse("20240229"), None);
    }

    #[test]
    fn formats_with_zero_padding() {
        assert_eq!(format(date!(2024 - 03 - 05)), "2024-03-05");
    }
}
