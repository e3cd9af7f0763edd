//! Importing normalized recalls from JSON Lines (`babyshield import`, and the
//! bundled sample on first start). Each batch is one transaction; a bad line
//! is reported with its number and the rest go on.

use std::io::BufRead;

use babyshield_domain::Recall;
use babyshield_storage::{StorageError, Store, recalls::UpsertOutcome};

/// Recalls written per transaction.
pub const DEFAULT_BATCH: usize = 1000;
/// Longest accepted line (a recall with a 20,000-character description fits).
pub const MAX_LINE_BYTES: usize = 256 * 1024;
/// Rejections kept with their message (the count is always exact).
const MAX_REJECTIONS_KEPT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub line: u64,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub lines: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// The first rejections, with line numbers.
    pub rejections: Vec<Rejection>,
    pub changed_ids: Vec<String>,
}

impl ImportReport {
    fn absorb(&mut self, outcome: UpsertOutcome) {
        self.inserted += outcome.inserted;
        self.updated += outcome.updated;
        self.unchanged += outcome.unchanged;
        self.changed_ids.extend(outcome.changed_ids);
    }

    fn reject(&mut self, line: u64, error: String) {
        self.rejected += 1;
        if self.rejections.len() < MAX_REJECTIONS_KEPT {
            self.rejections.push(Rejection { line, error });
        }
    }
}

/// Reads every line of `input`, validates it, and upserts in batches.
/// `progress` is called after each batch with the bytes consumed so far.
/// A storage failure stops the import (earlier batches stay committed,
/// the failing batch leaves nothing behind).
pub async fn import_jsonl<R: BufRead>(
    store: &Store,
    mut input: R,
    batch_size: usize,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, StorageError> {
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(batch_size);
    let mut line = Vec::new();
    let mut consumed = 0u64;
    loop {
        line.clear();
        let read = read_bounded_line(&mut input, &mut line)
            .map_err(|e| StorageError::Unavailable(format!("cannot read input: {e}")))?;
        if read == 0 {
            break;
        }
        consumed += read as u64;
        report.lines += 1;
        let number = report.lines;
        if line.len() > MAX_LINE_BYTES {
            report.reject(number, format!("line is longer than {MAX_LINE_BYTES} bytes"));
            continue;
        }
        let text = match std::str::from_utf8(&line) {
            Ok(t) => t.trim(),
            Err(_) => {
                report.reject(number, "line is not valid UTF-8".into());
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        match Recall::from_json_line(text) {
            Ok(recall) => batch.push(recall),
            Err(e) => report.reject(number, e.to_string()),
        }
        if batch.len() >= batch_size {
            report.absorb(store.upsert_recalls(&batch).await?);
            batch.clear();
            progress(consumed);
        }
    }
    if !batch.is_empty() {
        report.absorb(store.upsert_recalls(&batch).await?);
    }
    progress(consumed);
    Ok(report)
}

/// Reads one line, keeping at most `MAX_LINE_BYTES + 1` bytes of it in memory
/// (the rest is consumed and dropped) so one huge line cannot exhaust memory.
fn read_bounded_line<R: BufRead>(input: &mut R, out: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = (MAX_LINE_BYTES + 1).saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        input.consume(used);
        total += used;
        if done {
            if out.last() == Some(&b'\n') {
                out.pop();
            }
            return Ok(total);
        }
    }
}

/// Loads the bundled sample recalls into an empty catalogue.
pub async fn load_sample_if_empty(store: &Store) -> Result<Option<ImportReport>, StorageError> {
    if store.count_recalls().await? > 0 {
        return Ok(None);
    }
    let report =
        import_jsonl(store, babyshield_datagen::SAMPLE_RECALLS_JSONL.as_bytes(), DEFAULT_BATCH, |_| {})
            .await?;
    Ok(Some(report))
}
