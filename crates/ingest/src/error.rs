//! The two ways a page can fail: all of it, or one record of it.

use std::fmt;

use babyshield_domain::RecallError;

/// The body is not the source's documented shape at all, so no record of it
/// can be trusted; the caller retries or alerts rather than skipping ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("unexpected page shape: expected {0}")]
    Shape(&'static str),
    #[error("the source answered with an error: {0}")]
    Upstream(String),
}

impl PageError {
    pub(crate) fn json(e: serde_json::Error) -> PageError {
        PageError::Json(e.to_string())
    }
}

/// One record that could not become a valid recall. Names the source's own
/// field so the fault can be traced in the upstream payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RecordError {
    /// Position of the record in the page (0-based).
    pub index: usize,
    /// The record's id in the source (`RecallID`, `recall_number`,
    /// `recallId`), when it could be read.
    pub source_id: Option<String>,
    /// The field at fault, as the source spells it (or the normalized field
    /// name when the normalized recall was rejected).
    pub field: String,
    pub message: String,
}

impl RecordError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> RecordError {
        RecordError { index: 0, source_id: None, field: field.into(), message: message.into() }
    }

    pub(crate) fn from_recall(err: RecallError) -> RecordError {
        match err {
            RecallError::Invalid { field, message } => RecordError::new(field, message),
            RecallError::MissingField(field) => RecordError::new(field, "missing"),
            other => RecordError::new("record", other.to_string()),
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source_id {
            Some(id) => write!(f, "record {} ({id}): {}: {}", self.index, self.field, self.message),
            None => write!(f, "record {}: {}: {}", self.index, self.field, self.message),
        }
    }
}
