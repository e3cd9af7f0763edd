//! The advanced search request (`POST /api/v1/search/advanced`), validated.
//!
//! Parsed from a `serde_json::Value` rather than derived so that every
//! unknown key can be listed back to the client and each error names the
//! field and the alias the client actually sent.

mod request;

use sha2::{Digest, Sha256};
use time::Date;

use crate::agency::AgencyCode;
use crate::recall::{RecallId, RiskCategory, Severity};
use crate::text::tokenize;

pub use request::{
    DEFAULT_LIMIT, MAX_CURSOR_LEN, MAX_KEYWORD_LEN, MAX_KEYWORDS, MAX_LIMIT, MAX_OFFSET, MAX_QUERY_LEN,
    MIN_QUERY_LEN,
};

/// A search request that passed every contract rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvancedSearch {
    /// `query` or its alias `product`, trimmed.
    pub text: Option<String>,
    /// Every keyword must match (AND).
    pub keywords: Vec<String>,
    pub id: Option<RecallId>,
    pub filters: RecallFilters,
    pub limit: u32,
    pub offset: u32,
    /// The opaque `nextCursor`, decoded by [`crate::cursor`] later.
    pub cursor: Option<String>,
}

/// Filters that restrict which recalls can match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecallFilters {
    /// Empty means every agency.
    pub agencies: Vec<AgencyCode>,
    pub severity: Option<Severity>,
    pub risk_category: Option<RiskCategory>,
    /// Inclusive.
    pub date_from: Option<Date>,
    /// Inclusive.
    pub date_to: Option<Date>,
}

/// Why a search request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchRequestError {
    /// Sorted, so the response is stable.
    #[error("unknown fields: {}", .0.join(", "))]
    UnknownFields(Vec<String>),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

/// Most terms a query may contribute; more would only slow ranking.
pub const MAX_TERMS: usize = 16;

impl AdvancedSearch {
    pub fn from_json(value: serde_json::Value) -> Result<AdvancedSearch, SearchRequestError> {
        request::parse(value)
    }

    /// The search terms of this request (see [`parse_terms`]).
    pub fn terms(&self) -> Vec<String> {
        parse_terms(self.text.as_deref(), &self.keywords)
    }

    /// SHA-256 over everything that decides *which* recalls match and in
    /// what order (not limit, offset or cursor), so a cursor can be bound
    /// to the query that issued it.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"babyshield-search-v1");
        let mut field = |tag: u8, value: Option<&str>| {
            hasher.update([tag]);
            match value {
                None => hasher.update([0]),
                Some(v) => {
                    hasher.update([1]);
                    hasher.update((v.len() as u64).to_be_bytes());
                    hasher.update(v.as_bytes());
                }
            }
        };
        field(1, self.text.as_deref());
        for keyword in &self.keywords {
            field(2, Some(keyword));
        }
        field(3, self.id.as_ref().map(RecallId::as_str));
        let mut agencies: Vec<&str> = self.filters.agencies.iter().map(|a| a.as_str()).collect();
        agencies.sort_unstable();
        agencies.dedup();
        for agency in agencies {
            field(4, Some(agency));
        }
        field(5, self.filters.severity.map(|s| s.as_str()));
        field(6, self.filters.risk_category.map(|c| c.as_str()));
        let from = self.filters.date_from.map(crate::ymd::format);
        let to = self.filters.date_to.map(crate::ymd::format);
        field(7, from.as_deref());
        field(8, to.as_deref());
        hasher.finalize().into()
    }
}

/// The query's search terms: the tokens of `text` then of each keyword,
/// de-duplicated in order, at most [`MAX_TERMS`].
pub fn parse_terms(text: Option<&str>, keywords: &[String]) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let sources = text.into_iter().chain(keywords.iter().map(String::as_str));
    for token in sources.flat_map(tokenize) {
        if terms.len() == MAX_TERMS {
            break;
        }
        if !terms.contains(&token) {
            terms.push(token);
        }
    }
    terms
}

#[cfg(test)]
mod tests;
