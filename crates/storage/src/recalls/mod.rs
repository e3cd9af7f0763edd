//! The recall catalogue in the database.

pub(crate) mod args;
mod bulk;
mod dialect;
mod documents;
mod index;
mod index_sync;
mod pending_lists;
mod query;
mod read;
mod tiers;
mod write;

pub use bulk::{FullTextBeside, FullTextBuild};
pub use index::IndexStats;
pub(crate) use index_sync::SearchIndex;
pub use index_sync::{
    DEFAULT_DOCUMENT_CACHE_MIB, DEFAULT_TERM_CACHE_MIB, IndexRefresh, IndexUpdate, SearchCaches,
};
pub(crate) use pending_lists::PendingLists;
pub use query::{After, POINTS_PER_TERM, RecallPage, RecallQuery, ScoredRecall, TermGroup};
pub(crate) use read::PointReads;
pub use read::{AgencyFreshness, AgencyRow, Count, MAX_RECALLS_PER_BARCODE, RecallStats};
pub(crate) use write::now_rfc3339;
pub use write::{KnownWords, PreparedRecalls, UpsertOutcome};

use babyshield_domain::Recall;

use crate::StorageError;

/// Stored documents were normalized on the way in (`write.rs`), so reading
/// one back is a plain deserialization: each field's type still checks its
/// value (a row edited by hand into a bad id, agency, date or severity is
/// `Corrupt`), but the import rules are not run again on every read; they
/// were half the cost of a search page's documents.
fn decode(doc: &str) -> Result<Recall, StorageError> {
    serde_json::from_str(doc).map_err(|e| StorageError::Corrupt(format!("stored recall: {e}")))
}
