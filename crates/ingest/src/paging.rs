//! How a scheduled pull walks a source's list endpoint, page by page: the
//! URL of each page and where the next one starts. Pure, like the parsers:
//! the caller fetches, parses, stores, then asks for the next position.
//!
//! A pull covers a date range `from..=to` (both days inclusive). The range is
//! cut into windows of `window_days` (CPSC and openFDA filter by date on the
//! server), and a window is read in pages of `page_size` (openFDA `skip`,
//! Health Canada `off`). Health Canada's search cannot filter by date; it
//! lists the newest recalls first, so its pull reads one window and stops at
//! the first page holding nothing as new as `from`.

use babyshield_domain::ymd;
use serde_json::{Value, json};
use time::{Date, Duration};

use crate::source::Source;

/// Where a pull stands. Saved after every stored page, so a pull that
/// stopped (crash, shutdown, upstream failure) resumes exactly here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// First day of the pull's range.
    pub from: Date,
    /// Last day of the pull's range (the day the pull started).
    pub to: Date,
    /// First day of the window being read.
    pub window_start: Date,
    /// Records of the window already read.
    pub offset: u64,
}

impl Cursor {
    /// The cursor as stored: `{"from":"2024-01-01","to":...,"windowStart":...,"offset":0}`.
    pub fn encode(&self) -> String {
        json!({
            "from": ymd::format(self.from),
            "to": ymd::format(self.to),
            "windowStart": ymd::format(self.window_start),
            "offset": self.offset,
        })
        .to_string()
    }

    /// Reads a stored cursor back; a cursor that is not one (or is
    /// inconsistent) is refused, so the caller starts afresh instead.
    pub fn decode(text: &str) -> Result<Cursor, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("cursor is not JSON: {e}"))?;
        let day = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .and_then(ymd::parse)
                .ok_or_else(|| format!("cursor.{name} must be a YYYY-MM-DD date"))
        };
        let cursor = Cursor {
            from: day("from")?,
            to: day("to")?,
            window_start: day("windowStart")?,
            offset: value
                .get("offset")
                .and_then(Value::as_u64)
                .ok_or_else(|| "cursor.offset must be a count".to_string())?,
        };
        if cursor.from > cursor.to || cursor.window_start < cursor.from || cursor.window_start > cursor.to {
            return Err("cursor dates are out of order".into());
        }
        Ok(cursor)
    }
}

/// What the caller learnt from one list page, to decide where the next
/// one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFacts {
    /// Items in the page's list, bad and duplicate ones included
    /// ([`crate::ParsedPage::records`] plus [`crate::ParsedPage::duplicates`]).
    pub items: u64,
    /// The source's count of all matching records, when it gives one.
    pub total: Option<u64>,
    /// Every dated item of the page is older than the pull's `from`
    /// (Health Canada: the rest of the list is older still).
    pub all_older: bool,
}

/// How one source is paged: from the `[ingest.<source>]` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePlan {
    pub source: Source,
    /// CPSC: the Recall endpoint (`…/RestWebServices/Recall`); openFDA: the
    /// enforcement endpoint (`https://api.fda.gov/food/enforcement.json`);
    /// Health Canada: the API root (`…/recall-alert-rappel-avis/api`).
    pub base_url: String,
    /// Records per request (openFDA `limit`, Health Canada `lim`); CPSC
    /// returns a whole window at once.
    pub page_size: u32,
    /// Days per window (CPSC, openFDA).
    pub window_days: u32,
    /// Health Canada's `lang` (`en` or `fr`).
    pub language: String,
}

impl PagePlan {
    /// The first position of a pull over `from..=to`.
    pub fn start(&self, from: Date, to: Date) -> Cursor {
        let from = from.min(to);
        Cursor { from, to, window_start: from, offset: 0 }
    }

    /// The last day of the cursor's window.
    pub fn window_end(&self, cursor: &Cursor) -> Date {
        match self.source {
            Source::HealthCanada => cursor.to,
            _ => {
                let days = i64::from(self.window_days.max(1)) - 1;
                cursor.window_start.checked_add(Duration::days(days)).unwrap_or(cursor.to).min(cursor.to)
            }
        }
    }

    /// The list page at `cursor`.
    pub fn url(&self, cursor: &Cursor) -> String {
        let end = self.window_end(cursor);
        match self.source {
            Source::Cpsc => {
                let format = if self.base_url.contains("format=") { "" } else { "format=json&" };
                with_query(
                    &self.base_url,
                    &format!(
                        "{format}RecallDateStart={}&RecallDateEnd={}",
                        ymd::format(cursor.window_start),
                        ymd::format(end)
                    ),
                )
            }
            Source::FdaFood | Source::FdaDrug | Source::FdaDevice => with_query(
                &self.base_url,
                &format!(
                    "search=report_date:[{}+TO+{}]&limit={}&skip={}",
                    compact(cursor.window_start),
                    compact(end),
                    self.page_size,
                    cursor.offset
                ),
            ),
            Source::HealthCanada => format!(
                "{}/search?search=&lang={}&cat=&lim={}&off={}",
                self.base_url.trim_end_matches('/'),
                self.language,
                self.page_size,
                cursor.offset
            ),
        }
    }

    /// Health Canada's single-recall endpoint for `recall_id`.
    pub fn detail_url(&self, recall_id: &str) -> String {
        let id: String =
            recall_id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')).collect();
        format!("{}/{id}/{}", self.base_url.trim_end_matches('/'), self.language)
    }

    /// Where the pull goes after the page at `cursor`; `None` when the
    /// range is done.
    pub fn advance(&self, cursor: &Cursor, page: PageFacts) -> Option<Cursor> {
        let offset = cursor.offset + page.items;
        let window_done = match self.source {
            // One response holds the whole window.
            Source::Cpsc => true,
            _ => {
                page.items == 0
                    || page.items < u64::from(self.page_size)
                    || page.total.is_some_and(|total| offset >= total)
                    || (self.source == Source::HealthCanada && page.all_older)
            }
        };
        if !window_done {
            return Some(Cursor { offset, ..*cursor });
        }
        let end = self.window_end(cursor);
        if end >= cursor.to {
            return None;
        }
        let next = end.next_day()?;
        Some(Cursor { window_start: next, offset: 0, ..*cursor })
    }
}

/// `20240131`, openFDA's date form.
fn compact(date: Date) -> String {
    ymd::format(date).replace('-', "")
}

fn with_query(base: &str, query: &str) -> String {
    let separator = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{base}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn plan(source: Source, page_size: u32, window_days: u32) -> PagePlan {
        PagePlan {
            source,
            base_url: "http://feed.test/api".into(),
            page_size,
            window_days,
            language: "en".into(),
        }
    }

    fn facts(items: u64, total: Option<u64>) -> PageFacts {
        PageFacts { items, total, all_older: false }
    }

    #[test]
    fn openfda_pages_by_skip_within_windows_of_days() {
        let p = plan(Source::FdaFood, 2, 10);
        let c = p.start(date!(2024 - 01 - 01), date!(2024 - 01 - 15));
        assert_eq!(
            p.url(&c),
            "http://feed.test/api?search=report_date:[20240101+TO+20240110]&limit=2&skip=0"
        );
        let c = p.advance(&c, facts(2, Some(3))).unwrap();
        assert_eq!(c.offset, 2);
        assert!(p.url(&c).ends_with("limit=2&skip=2"));
        // The last, short page of the window moves to the next window.
        let c = p.advance(&c, facts(1, Some(3))).unwrap();
        assert_eq!((c.window_start, c.offset), (date!(2024 - 01 - 11), 0));
        assert!(p.url(&c).contains("[20240111+TO+20240115]"), "{}", p.url(&c));
        // A full page whose skip reaches the total also ends the window.
        assert_eq!(p.advance(&c, facts(2, Some(2))), None, "the last window is done");
    }

    #[test]
    fn cpsc_reads_one_response_per_window() {
        let p = PagePlan {
            base_url: "http://feed.test/Recall?format=json".into(),
            ..plan(Source::Cpsc, 100, 31)
        };
        let c = p.start(date!(2024 - 01 - 01), date!(2024 - 02 - 15));
        assert_eq!(
            p.url(&c),
            "http://feed.test/Recall?format=json&RecallDateStart=2024-01-01&RecallDateEnd=2024-01-31"
        );
        let c = p.advance(&c, facts(500, None)).unwrap();
        assert_eq!(c.window_start, date!(2024 - 02 - 01));
        assert!(p.url(&c).ends_with("RecallDateEnd=2024-02-15"));
        assert_eq!(p.advance(&c, facts(0, None)), None);
        let bare = plan(Source::Cpsc, 100, 31);
        assert!(bare.url(&c).starts_with("http://feed.test/api?format=json&RecallDateStart="));
    }

    #[test]
    fn health_canada_stops_at_the_first_page_older_than_the_range() {
        let p = plan(Source::HealthCanada, 2, 7);
        let c = p.start(date!(2024 - 01 - 01), date!(2024 - 03 - 01));
        assert_eq!(p.url(&c), "http://feed.test/api/search?search=&lang=en&cat=&lim=2&off=0");
        assert_eq!(p.window_end(&c), date!(2024 - 03 - 01), "one window: the search has no date filter");
        let c = p.advance(&c, facts(2, Some(100))).unwrap();
        assert_eq!(c.offset, 2);
        assert_eq!(p.advance(&c, PageFacts { items: 2, total: Some(100), all_older: true }), None);
        assert_eq!(p.detail_url("RA-75001"), "http://feed.test/api/RA-75001/en");
        assert_eq!(p.detail_url("../x?y"), "http://feed.test/api/xy/en", "ids cannot leave the API path");
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let p = plan(Source::FdaDrug, 10, 30);
        let c = Cursor { offset: 40, ..p.start(date!(2023 - 12 - 01), date!(2024 - 01 - 31)) };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        assert!(Cursor::decode("{}").is_err());
        assert!(Cursor::decode("not json").is_err());
        let backwards = r#"{"from":"2024-02-01","to":"2024-01-01","windowStart":"2024-02-01","offset":0}"#;
        assert!(Cursor::decode(backwards).is_err());
    }

    #[test]
    fn a_range_in_the_future_is_one_empty_window() {
        let p = plan(Source::FdaDevice, 10, 30);
        let c = p.start(date!(2030 - 01 - 01), date!(2024 - 01 - 01));
        assert_eq!(c.from, c.to);
        assert_eq!(p.advance(&c, facts(0, Some(0))), None);
    }

    #[test]
    fn query_strings_join_an_existing_query() {
        assert_eq!(with_query("http://x/a", "q=1"), "http://x/a?q=1");
        assert_eq!(with_query("http://x/a?key=k", "q=1"), "http://x/a?key=k&q=1");
        assert_eq!(with_query("http://x/a?", "q=1"), "http://x/a?q=1");
    }
}
