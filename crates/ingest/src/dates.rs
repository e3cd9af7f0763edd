//! Every date spelling the sources use, read into calendar dates.
//!
//! CPSC writes `2014-05-22T00:00:00`, openFDA `20140522`, Health Canada epoch
//! seconds (as a number or a string), and free text says `May 22, 2014`. A
//! value that parses but lies outside [`MIN_YEAR`]..=[`MAX_YEAR`] is a
//! placeholder or a typo, so it is refused rather than stored.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

pub(crate) const MIN_YEAR: i32 = 1900;
pub(crate) const MAX_YEAR: i32 = 2100;

const EXPECTED: &str =
    "expected a date (YYYY-MM-DD, ISO date-time, YYYYMMDD, epoch seconds or 'Month D, YYYY')";

/// A calendar date as the source wrote it; a time of day and zone, when
/// present, are checked but do not move the day.
pub(crate) fn parse_date(value: &Value) -> Result<Date, String> {
    parse_instant(value).map(|i| i.date)
}

/// A moment for `lastUpdated`: values without a zone are taken as UTC, bare
/// dates as midnight UTC.
pub(crate) fn parse_timestamp(value: &Value) -> Result<OffsetDateTime, String> {
    let instant = parse_instant(value)?;
    Ok(PrimitiveDateTime::new(instant.date, instant.time).assume_offset(instant.offset))
}

/// The parts of a parsed value, as written.
struct Instant {
    date: Date,
    time: Time,
    offset: UtcOffset,
}

impl Instant {
    fn day(date: Date) -> Instant {
        Instant { date, time: Time::MIDNIGHT, offset: UtcOffset::UTC }
    }
}

fn parse_instant(value: &Value) -> Result<Instant, String> {
    let instant = match value {
        Value::Number(n) => match n.as_i64() {
            Some(secs) => from_epoch(secs)?,
            None => return Err(format!("{EXPECTED}, got {n}")),
        },
        Value::String(s) => parse_str(s.trim())?,
        _ => return Err(EXPECTED.to_owned()),
    };
    let year = instant.date.year();
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(format!(
            "date {} is out of range ({MIN_YEAR}..={MAX_YEAR})",
            babyshield_domain::ymd::format(instant.date)
        ));
    }
    Ok(instant)
}

fn parse_str(s: &str) -> Result<Instant, String> {
    let odd = || format!("{EXPECTED}, got '{}'", s.chars().take(40).collect::<String>());
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        if s.len() == 8 {
            let date = Date::parse(s, format_description!("[year][month][day]")).map_err(|_| odd())?;
            return Ok(Instant::day(date));
        }
        return s.parse::<i64>().map_err(|_| odd()).and_then(from_epoch);
    }
    if let Some(date) = babyshield_domain::ymd::parse(s) {
        return Ok(Instant::day(date));
    }
    if s.len() > 10 && s.as_bytes()[0].is_ascii_digit() {
        if let Ok(at) = OffsetDateTime::parse(s, &Rfc3339) {
            return Ok(Instant { date: at.date(), time: at.time(), offset: at.offset() });
        }
        let local = format_description!(
            version = 2,
            "[year]-[month]-[day][first [T] [ ]][hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"
        );
        return PrimitiveDateTime::parse(s, local)
            .map(|at| Instant { date: at.date(), time: at.time(), offset: UtcOffset::UTC })
            .map_err(|_| odd());
    }
    month_day_year(s).map(Instant::day).ok_or_else(odd)
}

fn from_epoch(secs: i64) -> Result<Instant, String> {
    let at = OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| format!("epoch seconds {secs} are out of range"))?;
    Ok(Instant { date: at.date(), time: at.time(), offset: UtcOffset::UTC })
}

/// `May 22, 2014`, `Sept. 3, 2024`, `March 1 2023`.
fn month_day_year(s: &str) -> Option<Date> {
    let cleaned = s.replace([',', '.'], " ");
    let mut parts = cleaned.split_whitespace();
    let (month, day, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let month = month_named(month)?;
    let day: u8 = day.parse().ok()?;
    let year: i32 = if year.len() == 4 { year.parse().ok()? } else { return None };
    Date::from_calendar_date(year, month, day).ok()
}

fn month_named(word: &str) -> Option<Month> {
    const NAMES: [(&str, Month); 12] = [
        ("january", Month::January),
        ("february", Month::February),
        ("march", Month::March),
        ("april", Month::April),
        ("may", Month::May),
        ("june", Month::June),
        ("july", Month::July),
        ("august", Month::August),
        ("september", Month::September),
        ("october", Month::October),
        ("november", Month::November),
        ("december", Month::December),
    ];
    let word = word.to_ascii_lowercase();
    if word.len() < 3 {
        return None;
    }
    NAMES.iter().find(|(name, _)| name.starts_with(&word)).map(|(_, month)| *month)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::{date, datetime};

    #[test]
    fn every_documented_spelling_gives_the_written_day() {
        let day = date!(2014 - 05 - 22);
        for v in [
            json!("2014-05-22"),
            json!("2014-05-22T00:00:00"),
            json!("2014-05-22T23:30:00-04:00"),
            json!("2014-05-22T10:00:00Z"),
            json!("2014-05-22 10:00"),
            json!("2014-05-22T10:00:00.123"),
            json!("20140522"),
            json!(1400716800),
            json!("1400716800"),
            json!("May 22, 2014"),
            json!("may 22 2014"),
        ] {
            assert_eq!(parse_date(&v), Ok(day), "{v}");
        }
        assert_eq!(parse_date(&json!("Sept. 3, 2024")), Ok(date!(2024 - 09 - 03)));
    }

    #[test]
    fn odd_and_out_of_range_dates_are_refused_with_a_reason() {
        assert_eq!(
            parse_date(&json!("0001-01-01")).unwrap_err(),
            "date 0001-01-01 is out of range (1900..=2100)"
        );
        assert_eq!(
            parse_date(&json!("99991231")).unwrap_err(),
            "date 9999-12-31 is out of range (1900..=2100)"
        );
        assert!(parse_date(&json!("20230230")).unwrap_err().starts_with("expected a date"));
        assert!(parse_date(&json!("2024-13-01")).unwrap_err().starts_with("expected a date"));
        assert!(parse_date(&json!("yesterday")).unwrap_err().contains("'yesterday'"));
        assert!(parse_date(&json!("")).is_err());
        assert!(parse_date(&json!(true)).is_err());
        assert!(parse_date(&json!(1.5)).is_err());
        assert!(parse_date(&json!(i64::MAX)).unwrap_err().contains("out of range"));
    }

    #[test]
    fn timestamps_keep_their_zone_and_default_to_utc() {
        assert_eq!(
            parse_timestamp(&json!("2024-03-01T08:15:00-05:00")),
            Ok(datetime!(2024-03-01 08:15:00 -05:00))
        );
        assert_eq!(parse_timestamp(&json!("2024-03-01T08:15:00")), Ok(datetime!(2024-03-01 08:15:00 UTC)));
        assert_eq!(parse_timestamp(&json!(1709280900)), Ok(datetime!(2024-03-01 08:15:00 UTC)));
    }
}
