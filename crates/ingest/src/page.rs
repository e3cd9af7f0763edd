//! A parsed page and the within-page de-duplication every source shares.

use std::collections::HashSet;

use babyshield_domain::Recall;

use crate::error::RecordError;

/// The outcome of one response body.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPage {
    /// One entry per distinct record, in page order.
    pub records: Vec<Result<Recall, RecordError>>,
    /// The source's count of all matching records (openFDA
    /// `meta.results.total`, Health Canada search `results_count`), for paging.
    pub total: Option<u64>,
    /// The source ids of the records kept, in page order (records whose id
    /// could not be read have none), so a run can tell which upstream
    /// records it has seen.
    pub source_ids: Vec<String>,
    /// Earlier occurrences dropped because a later record on the page had
    /// the same source id (sources re-send a corrected record in place).
    pub duplicates: usize,
}

/// Collects records with their source ids and keeps the last occurrence of
/// each id when finished.
#[derive(Default)]
pub(crate) struct PageBuilder {
    entries: Vec<(Option<String>, Result<Recall, RecordError>)>,
}

impl PageBuilder {
    /// Adds the record found at `index`, stamping any error with its
    /// position and id.
    pub(crate) fn push(
        &mut self,
        index: usize,
        source_id: Option<String>,
        result: Result<Recall, RecordError>,
    ) {
        let result = result.map_err(|mut e| {
            e.index = index;
            e.source_id = source_id.clone();
            e
        });
        self.entries.push((source_id, result));
    }

    pub(crate) fn finish(self, total: Option<u64>) -> ParsedPage {
        let mut seen = HashSet::new();
        let mut kept = Vec::with_capacity(self.entries.len());
        let mut duplicates = 0;
        for (id, result) in self.entries.into_iter().rev() {
            if let Some(id) = &id
                && !seen.insert(id.clone())
            {
                duplicates += 1;
                continue;
            }
            kept.push((id, result));
        }
        kept.reverse();
        let source_ids = kept.iter().filter_map(|(id, _)| id.clone()).collect();
        let records = kept.into_iter().map(|(_, r)| r).collect();
        ParsedPage { records, total, source_ids, duplicates }
    }
}
