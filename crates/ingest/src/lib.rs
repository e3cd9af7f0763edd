//! Source connectors' parsing half: a page of bytes from a recall source
//! becomes normalized [`Recall`]s.
//!
//! Fetching is someone else's job; keeping this crate free of I/O means every
//! mapping rule is tested against fixture payloads, and a bad record costs one
//! [`RecordError`] instead of the whole page. [`paging`] says which URL a
//! scheduled pull reads next, also without doing any I/O.

mod barcodes;
mod cpsc;
mod dates;
mod error;
mod hazard;
mod health_canada;
mod html;
mod limits;
mod links;
mod openfda;
mod page;
pub mod paging;
mod record;
mod risk_category;
mod source;

use babyshield_domain::Recall;

pub use error::{PageError, RecordError};
pub use page::ParsedPage;
pub use source::{Source, UnknownSource};

/// Parses one response body of `source`'s list endpoint.
///
/// A body that is not the documented shape at all is a [`PageError`]; one
/// bad record is a [`RecordError`] in [`ParsedPage::records`] and the rest of
/// the page still counts.
pub fn parse_page(source: Source, body: &[u8]) -> Result<ParsedPage, PageError> {
    match source {
        Source::Cpsc => cpsc::parse_page(body),
        Source::FdaFood | Source::FdaDrug | Source::FdaDevice => openfda::parse_page(source, body),
        Source::HealthCanada => health_canada::parse_list(body),
    }
}

/// Parses a document a person handed over (`babyshield ingest --file` or
/// `--url`): a list page of `source`, or for Health Canada also the
/// single-recall (detail) shape, which becomes a page of one record.
pub fn parse_document(source: Source, body: &[u8]) -> Result<ParsedPage, PageError> {
    if source == Source::HealthCanada && health_canada::looks_like_detail(body) {
        let result = health_canada::parse_detail(body)?;
        let id = match &result {
            Ok(recall) => recall.id.as_str().strip_prefix("HEALTH_CANADA-").map(str::to_owned),
            Err(e) => e.source_id.clone(),
        };
        let mut page = page::PageBuilder::default();
        page.push(0, id, result);
        return Ok(page.finish(Some(1)));
    }
    parse_page(source, body)
}

/// Parses Health Canada's single-recall endpoint (`{id}/{lang}`), which
/// carries the panels (description, issue, affected products) the list lacks.
///
/// The outer error is a body of the wrong shape; the inner one a recall that
/// could not be mapped.
pub fn parse_health_canada_detail(body: &[u8]) -> Result<Result<Recall, RecordError>, PageError> {
    health_canada::parse_detail(body)
}
