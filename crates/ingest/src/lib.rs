//! Source connectors' parsing half: a page of bytes from a recall source
//! becomes normalized [`Recall`]s.
//!
//! Fetching is someone else's job; keeping this crate free of I/O means every
//! mapping rule is tested against fixture payloads, and a bad record costs one
//! [`RecordError`] instead of the whole page.

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

/// Parses Health Canada's single-recall endpoint (`{id}/{lang}`), which
/// carries the panels (description, issue, affected products) the list lacks.
///
/// The outer error is a body of the wrong shape; the inner one a recall that
/// could not be mapped.
pub fn parse_health_canada_detail(body: &[u8]) -> Result<Result<Recall, RecordError>, PageError> {
    health_canada::parse_detail(body)
}
