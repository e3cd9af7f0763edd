//! Importing normalized recalls from JSON Lines (`babyshield import`, and the
//! bundled sample on first start). Each batch is one transaction; a bad line
//! is reported with its number and the rest go on.

use std::io::BufRead;

use babyshield_domain::Recall;
use babyshield_storage::{
    Backend, StorageError, Store,
    recalls::{FullTextBeside, FullTextBuild, KnownWords, PreparedRecalls, UpsertOutcome},
};

/// Recalls written per transaction while the catalogue's indexes are kept
/// current. Each commit writes every index page its recalls touched once,
/// and ids and dates arrive in no index's order, so a larger batch writes
/// fewer pages per recall: 1M recalls into SQLite imported 5,550/s at 5,000
/// per batch, 8,726/s at 20,000 and 9,423/s at 50,000 (with
/// `IMPORT_SQLITE_CACHE_MIB`). A batch holds SQLite's write lock until it
/// commits (about 2 s at 20,000 with the full-text index kept current): a
/// server writing to the same file meanwhile waits up to that long
/// (`--batch-size` lowers it).
pub const DEFAULT_BATCH: usize = 20_000;
/// Recalls written per transaction by a load into an empty SQLite
/// catalogue, whose full-text, facet and date indexes are built at the end
/// (`Store::begin_bulk_load`). What its commits still write again and again
/// is the indexes that stay: the ids' uniqueness, the barcodes and the
/// vocabulary. 1M recalls (full-text index still filled at the end): 7.3
/// GB written and 19,300-20,000 recalls/s at 50,000 against 8.6 GB and
/// 17,000/s at 20,000. A batch holds the write lock about 1.3 s. Two or
/// three batches are in memory at once (parsed, being prepared, being
/// written): the 1M import peaked at about 1.6 GB of anonymous memory.
pub const BULK_BATCH: usize = 50_000;
/// Page cache (MiB) of the `import` command's own connections at least.
/// A batch dirties a page of every secondary index for nearly each recall
/// (ids and dates arrive in no index's order); the pages must stay cached
/// until the commit writes each once.
pub const IMPORT_SQLITE_CACHE_MIB: u64 = 512;
/// How much of the file the `import` command's connections read through a
/// memory map at least: SQLite's largest (`SQLITE_MAX_MMAP_SIZE`, just under
/// 2 GiB). The indexes built after a bulk load read the whole table (2.4 GB
/// at 1M recalls); past the map every page is copied by a `pread`.
pub const IMPORT_SQLITE_MMAP_MIB: u64 = 2047;
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
    /// How long building the deferred indexes took, when they were
    /// ([`IndexUpkeep::DeferredWhenEmpty`] into an empty SQLite catalogue).
    pub deferred_index_build: Option<std::time::Duration>,
    /// How the full-text index of such a load was built.
    pub full_text: Option<FullTextBuild>,
}

/// How an import keeps the catalogue's secondary indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexUpkeep {
    /// Every index current after each batch.
    Live,
    /// Into an empty SQLite catalogue, the full-text and facet indexes are
    /// built once after the last batch (`Store::begin_bulk_load`), more
    /// than twice as fast at a million recalls; otherwise as `Live`.
    DeferredWhenEmpty,
}

/// Where an import stands, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bytes of the input consumed so far.
    Read(u64),
    /// Every line is read; the deferred indexes are being built.
    BuildingIndexes,
}

impl ImportReport {
    fn absorb(&mut self, outcome: UpsertOutcome) {
        self.inserted += outcome.inserted;
        self.updated += outcome.updated;
        self.unchanged += outcome.unchanged;
    }

    fn reject(&mut self, line: u64, error: String) {
        self.rejected += 1;
        if self.rejections.len() < MAX_REJECTIONS_KEPT {
            self.rejections.push(Rejection { line, error });
        }
    }
}

/// What the parsing thread hands to the writer: a batch of valid recalls,
/// prepared for writing, and the lines it rejected, plus how far into the
/// input it got.
struct Parsed {
    recalls: PreparedRecalls,
    rejections: Vec<Rejection>,
    lines: u64,
    consumed: u64,
}

/// Reads every line of `input`, validates it, and upserts in batches.
/// Parsing and preparing the rows (serializing, hashing, search text) run
/// on a blocking thread, one batch ahead of the database writes. `progress`
/// is told the bytes consumed after each batch. `batch_size` is the recalls
/// per transaction; `None` takes [`BULK_BATCH`] when the load defers the
/// indexes and [`DEFAULT_BATCH`] otherwise. A storage failure stops the
/// import (earlier batches stay committed, the failing batch leaves nothing
/// behind); deferred indexes are built even then, over what was stored.
pub async fn import_jsonl<R: BufRead + Send + 'static>(
    store: &Store,
    input: R,
    batch_size: Option<usize>,
    upkeep: IndexUpkeep,
    mut progress: impl FnMut(Progress),
) -> Result<ImportReport, StorageError> {
    let deferred = upkeep == IndexUpkeep::DeferredWhenEmpty && store.begin_bulk_load().await?;
    let batch_size = batch_size.unwrap_or(if deferred { BULK_BATCH } else { DEFAULT_BATCH });
    // The full-text index is built beside the batches where it can be.
    let beside = if deferred {
        store.full_text_beside().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the full-text index is filled after the last batch instead");
            None
        })
    } else {
        None
    };
    let loaded = load_batches(store, input, batch_size, beside.as_ref(), &mut progress).await;
    let report = if deferred {
        progress(Progress::BuildingIndexes);
        let started = std::time::Instant::now();
        match (loaded, store.finish_bulk_load_beside(beside).await) {
            (Ok(mut report), Ok(built)) => {
                report.deferred_index_build = Some(started.elapsed());
                report.full_text = built;
                report
            }
            (Ok(_), Err(e)) => return Err(e),
            (Err(e), finished) => {
                if let Err(build) = finished {
                    tracing::warn!(error = %build, "deferred indexes not built; the next migrate builds them");
                }
                return Err(e);
            }
        }
    } else {
        loaded?
    };
    if report.inserted + report.updated > 0 {
        store.analyze().await?;
    }
    Ok(report)
}

async fn load_batches<R: BufRead + Send + 'static>(
    store: &Store,
    input: R,
    batch_size: usize,
    beside: Option<&FullTextBeside>,
    progress: &mut impl FnMut(Progress),
) -> Result<ImportReport, StorageError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Parsed>>(2);
    let backend = store.backend();
    let parser = tokio::task::spawn_blocking(move || parse_batches(input, batch_size, backend, &tx));
    let mut report = ImportReport::default();
    while let Some(parsed) = rx.recv().await {
        let parsed = parsed.map_err(|e| StorageError::Unavailable(format!("cannot read input: {e}")))?;
        for rejection in parsed.rejections {
            report.reject(rejection.line, rejection.error);
        }
        report.lines = parsed.lines;
        if !parsed.recalls.is_empty() {
            report.absorb(store.upsert_prepared(parsed.recalls).await?);
            if let Some(beside) = beside {
                beside.written();
            }
        }
        progress(Progress::Read(parsed.consumed));
    }
    parser.await.map_err(|e| StorageError::Unavailable(format!("import reader failed: {e}")))?;
    Ok(report)
}

fn parse_batches<R: BufRead>(
    mut input: R,
    batch_size: usize,
    backend: Backend,
    out: &tokio::sync::mpsc::Sender<std::io::Result<Parsed>>,
) {
    let mut line = Vec::new();
    let (mut lines, mut consumed) = (0u64, 0u64);
    let mut recalls: Vec<Recall> = Vec::with_capacity(batch_size);
    let mut rejections: Vec<Rejection> = Vec::new();
    // The import stops at its first failed batch.
    let mut words = KnownWords::default();
    loop {
        line.clear();
        let read = match read_bounded_line(&mut input, &mut line) {
            Ok(n) => n,
            Err(e) => {
                let _ = out.blocking_send(Err(e));
                return;
            }
        };
        let done = read == 0;
        if !done {
            consumed += read as u64;
            lines += 1;
            match parse_line(&line) {
                Some(Ok(recall)) => recalls.push(recall),
                Some(Err(error)) => rejections.push(Rejection { line: lines, error }),
                None => {}
            }
        }
        if done || recalls.len() >= batch_size {
            let batch = std::mem::replace(&mut recalls, Vec::with_capacity(batch_size));
            let parsed = PreparedRecalls::after(batch, backend, &mut words)
                .map(|recalls| Parsed {
                    recalls,
                    rejections: std::mem::take(&mut rejections),
                    lines,
                    consumed,
                })
                .map_err(std::io::Error::other);
            // The receiver is gone only when the import already failed.
            if out.blocking_send(parsed).is_err() || done {
                return;
            }
        }
    }
}

/// `None` for a blank line.
fn parse_line(line: &[u8]) -> Option<Result<Recall, String>> {
    if line.len() > MAX_LINE_BYTES {
        return Some(Err(format!("line is longer than {MAX_LINE_BYTES} bytes")));
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return Some(Err("line is not valid UTF-8".into()));
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(Recall::from_json_line(text).map_err(|e| e.to_string()))
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
    let report = import_jsonl(
        store,
        babyshield_datagen::SAMPLE_RECALLS_JSONL.as_bytes(),
        None,
        IndexUpkeep::Live,
        |_| {},
    )
    .await?;
    Ok(Some(report))
}
