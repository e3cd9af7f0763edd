//! Writing recalls: idempotent batched upserts keyed by recall id.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use babyshield_domain::{Recall, ymd};
use babyshield_security::to_hex;
use sha2::{Digest, Sha256};

use super::args::{Args, bind_args};
use super::index_sync::IndexUpdate;
use crate::{StorageError, Store};

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Ids of recalls inserted or changed (for cache invalidation and alert
    /// matching downstream).
    pub changed_ids: Vec<String>,
}

impl UpsertOutcome {
    pub fn add(&mut self, other: UpsertOutcome) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.changed_ids.extend(other.changed_ids);
    }
}

/// A recall with everything the row needs computed up front, outside the
/// transaction.
struct Prepared {
    /// Shared with the search pages' document cache once written
    /// (`documents.rs`): the stored document decodes to this same value
    /// (`serialized_recall_reads_back_identically` in the domain's tests).
    recall: Arc<Recall>,
    doc: String,
    hash: String,
    title: String,
    body: String,
    gtins: Vec<String>,
    /// PostgreSQL's search vectors as `tsvector` literals (migration 0012):
    /// the distinct words of title and body, and of the title alone. `None`
    /// when prepared for SQLite, whose full-text index is filled by triggers.
    vectors: Option<(String, String)>,
}

/// A batch of recalls ready to write: serialized, hashed and turned into
/// search text. This is CPU work with no I/O, so callers that have a thread
/// to spare (the import's reader, an ingest's page parser) do it there,
/// while the previous batch is being written, and hand the result to
/// [`Store::upsert_prepared`].
pub struct PreparedRecalls {
    rows: Vec<Prepared>,
    /// New words for typo matching (`search_terms`), sorted.
    vocabulary: Vec<String>,
}

/// The words a load has already offered to the vocabulary (`search_terms`),
/// so that its later batches do not offer them again. A batch offers each
/// of its words once; a load of many batches (an import) keeps one of
/// these across them: the synthetic 1M file has some 600,000 distinct words
/// and each batch of 20,000 recalls about 40,000, nearly all seen before,
/// which the writer looked up in `search_terms` again batch after batch.
/// Only for loads that stop at their first failed batch: a word is taken
/// as written once a batch carried it. Words are never removed from the
/// vocabulary, so one already there needs no second offer.
#[derive(Default)]
pub struct KnownWords {
    words: HashSet<Box<str>, foldhash::fast::RandomState>,
}

impl KnownWords {
    /// Most words kept: a load past this forgets them all and offers them
    /// again (about 40 bytes each).
    const MOST: usize = 1 << 21;

    /// True the first time `word` is seen.
    fn first_sight(&mut self, word: &str) -> bool {
        if self.words.contains(word) {
            return false;
        }
        if self.words.len() >= Self::MOST {
            self.words.clear();
        }
        self.words.insert(word.into())
    }
}

impl PreparedRecalls {
    /// Within a batch the last copy of an id wins. `backend` is the store's
    /// that will write the batch ([`Store::backend`]).
    pub fn new(batch: Vec<Recall>, backend: crate::Backend) -> Result<PreparedRecalls, StorageError> {
        Self::after(batch, backend, &mut KnownWords::default())
    }

    /// [`PreparedRecalls::new`] for a batch of a load that keeps `known`
    /// across its batches: words an earlier batch offered are not offered
    /// again.
    pub fn after(
        batch: Vec<Recall>,
        backend: crate::Backend,
        known: &mut KnownWords,
    ) -> Result<PreparedRecalls, StorageError> {
        let mut latest: HashMap<String, usize> = HashMap::with_capacity(batch.len());
        for (i, recall) in batch.iter().enumerate() {
            latest.insert(recall.id.as_str().to_string(), i);
        }
        let mut rows = Vec::with_capacity(latest.len());
        let mut vocabulary = Vec::new();
        let mut doc_capacity = 2048;
        for (i, recall) in batch.into_iter().enumerate() {
            if latest.get(recall.id.as_str()) != Some(&i) {
                continue;
            }
            // Sized like the document before it: growing a string from
            // empty copies it about ten times on the way to 1-2 KB.
            let mut doc = Vec::with_capacity(doc_capacity);
            serde_json::to_writer(&mut doc, &recall)?;
            doc_capacity = doc.len() + doc.len() / 4;
            let doc = String::from_utf8(doc).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            let hash = to_hex(&Sha256::digest(doc.as_bytes()));
            let document = recall.search_document();
            for word in document.title.split(' ').chain(document.body.split(' ')) {
                // A hash set: an ordered one spent a sixth of the import's
                // parsing thread comparing words.
                if VOCABULARY_WORD_LEN.contains(&word.len())
                    && word.bytes().all(|b| b.is_ascii_lowercase())
                    && known.first_sight(word)
                {
                    vocabulary.push(word.to_string());
                }
            }
            let gtins = recall.gtins().iter().map(|g| g.as_str().to_string()).collect();
            // Padded so whole-word and word-prefix tests are plain substring
            // searches (see query.rs).
            let vectors = (backend == crate::Backend::Postgres)
                .then(|| search_vectors(&document.title, &document.body));
            let title = format!(" {} ", document.title);
            let recall = Arc::new(recall);
            rows.push(Prepared { recall, doc, hash, title, body: document.body, gtins, vectors });
        }
        // In key order: the vocabulary's B-tree takes them in one pass.
        vocabulary.sort_unstable();
        Ok(PreparedRecalls { rows, vocabulary })
    }

    /// Recalls in the batch (one per id).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A recall version a write committed, for the search pages' document cache.
pub(crate) struct WrittenDocument {
    pub rid: i64,
    pub recall: Arc<Recall>,
    /// The length of its stored JSON document (what the cache counts).
    pub document_len: usize,
}

/// Most values bound to one statement: a few hundred saves most round trips.
const CHUNK: usize = 250;
/// Recalls per multi-row upsert (13 parameters each).
const WRITE_ROWS: usize = 40;
/// Most parameters of one statement that removes the barcodes changed
/// recalls no longer carry (a recall id, and a pair per barcode kept).
const STALE_LINK_PARAMS: usize = 4 * CHUNK;
/// Takes the catalogue's next generation (the row stays locked until commit).
pub(super) const NEXT_GENERATION: &str =
    "UPDATE catalogue_generation SET generation = generation + 1 WHERE singleton = 1 RETURNING generation";
/// Words shorter or longer than this are not offered as typo corrections.
const VOCABULARY_WORD_LEN: std::ops::RangeInclusive<usize> = 4..=30;

impl Store {
    /// Inserts new recalls and updates changed ones in ONE transaction: either
    /// the whole batch is stored or nothing is. A recall whose content is
    /// unchanged is not rewritten. Within a batch the last copy of an id wins.
    pub async fn upsert_recalls(&self, batch: &[Recall]) -> Result<UpsertOutcome, StorageError> {
        self.upsert_prepared(PreparedRecalls::new(batch.to_vec(), self.backend())?).await
    }

    /// [`Store::upsert_recalls`] for a batch prepared beforehand.
    pub async fn upsert_prepared(&self, batch: PreparedRecalls) -> Result<UpsertOutcome, StorageError> {
        self.upsert_prepared_on(batch, None).await
    }

    /// [`Store::upsert_prepared`] for a write nobody waits for (an agency
    /// pull's page): on SQLite on the background connection when
    /// [`Store::with_background_writes`] set one up, so that its CPU
    /// (statements, full-text indexing and merging) yields to requests.
    /// The write lock is the same: request writes wait for this one's
    /// commit, which takes longer while the CPU is saturated.
    pub async fn upsert_prepared_in_background(
        &self,
        batch: PreparedRecalls,
    ) -> Result<UpsertOutcome, StorageError> {
        self.upsert_prepared_on(batch, self.background.as_deref()).await
    }

    /// [`Store::upsert_prepared_in_background`] that returns once the batch
    /// is committed, with the search index's share of it still to apply
    /// ([`Store::index_written`]): a caller with another batch to write
    /// applies this one meanwhile.
    pub async fn write_prepared_in_background(
        &self,
        batch: PreparedRecalls,
    ) -> Result<(UpsertOutcome, IndexUpdate), StorageError> {
        self.write_prepared_on(batch, self.background.as_deref()).await
    }

    async fn upsert_prepared_on(
        &self,
        batch: PreparedRecalls,
        background: Option<&crate::pool::BackgroundWriter>,
    ) -> Result<UpsertOutcome, StorageError> {
        let (outcome, update) = self.write_prepared_on(batch, background).await?;
        self.index_written(update).await;
        Ok(outcome)
    }

    async fn write_prepared_on(
        &self,
        batch: PreparedRecalls,
        background: Option<&crate::pool::BackgroundWriter>,
    ) -> Result<(UpsertOutcome, IndexUpdate), StorageError> {
        let PreparedRecalls { rows: prepared, vocabulary } = batch;
        if prepared.is_empty() {
            return Ok((UpsertOutcome::default(), self.index_update(0, Vec::new(), Vec::new())));
        }
        let now = now_rfc3339();
        // PostgreSQL: the full-text indexes' pending lists are merged beside
        // this write, and once after it (`pending_lists.rs`).
        let _merging = match self.pool() {
            crate::Pool::Postgres(pool) => Some(self.pending_lists.writing(pool)),
            crate::Pool::Sqlite(_) => None,
        };

        let (outcome, generation, indexed, documents) = crate::in_write_tx!(self, unlocked tx, on background => {
            if self.backend() == crate::Backend::Postgres {
                // Concurrent imports of the same ids would both see them
                // missing and one would fail on the unique key: recall
                // writers take turns (SQLite's write lock does the same).
                sqlx::query("SELECT pg_advisory_xact_lock(7263)").execute(&mut *tx).await?;
            }
            // On PostgreSQL the statements that find rows (this lookup, the
            // removal of a changed recall's barcodes, the update) are not
            // kept prepared: each run is planned for the table as it is
            // then. A kept statement settles on a generic plan after five
            // runs, and one made while the table was nearly empty reads it
            // whole: a load into an empty catalogue looked each batch's ids
            // up by sequential scan long after the table held tens of
            // thousands of rows (0.6-1 s per 250 ids; the 100k import test
            // at 682-1,603/s instead of 1,930/s). SQLite has no generic
            // plans; re-preparing there only cost time.
            let sqlite = self.backend() == crate::Backend::Sqlite;
            let keep_prepared = sqlite;
            let mut existing: HashMap<String, (i64, String)> = HashMap::new();
            for chunk in prepared.chunks(CHUNK) {
                let mut args = Args::in_order(self.backend());
                let list: Vec<String> = chunk.iter().map(|r| args.text(r.recall.id.as_str())).collect();
                let sql = format!("SELECT id, rid, content_hash FROM recalls WHERE id IN ({})", list.join(", "));
                let rows: Vec<(String, i64, String)> =
                    bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)).persistent(keep_prepared), args)
                        .fetch_all(&mut *tx)
                        .await?;
                existing.extend(rows.into_iter().map(|(id, rid, hash)| (id, (rid, hash))));
            }

            let mut outcome = UpsertOutcome::default();
            // (recall, its rid when it exists already)
            let mut written: Vec<(&Prepared, Option<i64>)> = Vec::new();
            let mut replaced: Vec<i64> = Vec::new();
            for r in &prepared {
                match existing.get(r.recall.id.as_str()) {
                    Some((_, hash)) if *hash == r.hash => outcome.unchanged += 1,
                    Some((rid, _)) => {
                        replaced.push(*rid);
                        outcome.updated += 1;
                        written.push((r, Some(*rid)));
                    }
                    None => {
                        outcome.inserted += 1;
                        written.push((r, None));
                    }
                }
            }
            replaced.sort_unstable();
            // SQLite's FTS5 adds to its in-memory index only while rowids
            // ascend; a lower rowid flushes it to disk as a new segment, and
            // merging those costs more than the rows themselves (a batch in
            // file order flushed at nearly every row). Its rowids run newest
            // date first, then by rid (migration 0008), so rows are written
            // in that order: within a date the existing recalls first, then
            // the new ones, whose rids grow as they are inserted. Only a
            // recall whose date changed still writes out of order.
            written.sort_by_key(|(r, rid)| (std::cmp::Reverse(r.recall.recall_date), rid.unwrap_or(i64::MAX)));

            // The catalogue's next generation, stamped on every row written
            // (`change_gen`): the in-memory search index reads the rows of
            // the generations it has not seen (`index_sync.rs`). Taken
            // before any row is written, the generation row stays locked
            // until commit, so generations commit in order.
            let generation: i64 = if written.is_empty() {
                0
            } else {
                sqlx::query_scalar(NEXT_GENERATION).fetch_one(&mut *tx).await?
            };

            // On SQLite the rids of new recalls are given here, as SQLite
            // would give them (the largest so far plus one, in the order
            // written: `rid` is the table's INTEGER PRIMARY KEY, without
            // AUTOINCREMENT), so that no statement has to return rows: the
            // SQLite worker hands rows back one at a time, and a page of
            // new recalls cost a thread switch for each. The write lock is
            // held since BEGIN IMMEDIATE, so nobody takes a rid meanwhile.
            if sqlite && written.iter().any(|(_, rid)| rid.is_none()) {
                let mut next: i64 =
                    sqlx::query_scalar("SELECT COALESCE(MAX(rid), 0) FROM recalls").fetch_one(&mut *tx).await?;
                for (_, rid) in written.iter_mut().filter(|(_, rid)| rid.is_none()) {
                    next += 1;
                    *rid = Some(next);
                }
            }

            // New and changed recalls in multi-row statements, a few per
            // batch (one statement per changed recall made updates cost twice
            // what inserts did); a changed row keeps its rid and created_at.
            // SQLite writes both kinds, in the order above, as upserts keyed
            // by id. On PostgreSQL changed recalls get an UPDATE of their
            // own: while the search vectors were generated columns (before
            // migration 0012) an upsert computed them for the proposed row
            // and again for the update (changed 2,673 -> 3,375/s then).
            let mut links: Vec<(&str, i64)> = Vec::new();
            // What the rows now hold, for the in-memory search index and
            // its document cache.
            let mut indexed: Vec<super::index::IndexRow> = Vec::new();
            let mut documents: Vec<WrittenDocument> = Vec::new();
            let keep_documents = self.search_index.as_ref().is_some_and(|index| index.documents().is_some());
            let (updates, upserts): (Vec<_>, Vec<_>) = if self.backend() == crate::Backend::Postgres {
                written.iter().partition(|(_, rid)| rid.is_some())
            } else {
                (Vec::new(), written.iter().collect())
            };
            // PostgreSQL's search vectors, sent by the server (migration 0012).
            let send_vectors = self.backend() == crate::Backend::Postgres;
            let (vector_columns, vectors_from_values, vectors_from_excluded) = if send_vectors {
                (
                    ", search_tsv, search_title_tsv",
                    ", search_tsv = v.column14, search_title_tsv = v.column15",
                    ", search_tsv = excluded.search_tsv, search_title_tsv = excluded.search_title_tsv",
                )
            } else {
                ("", "", "")
            };
            // SQLite: every rid is known (above), so nothing is returned.
            let (rid_column, returning) = if sqlite { ("rid, ", "") } else { ("", " RETURNING id, rid") };
            let batches = (updates.chunks(WRITE_ROWS).map(|c| (true, c)))
                .chain(upserts.chunks(WRITE_ROWS).map(|c| (false, c)));
            for (update, chunk) in batches {
                let mut args = Args::in_order(self.backend());
                let rows: Vec<String> = chunk
                    .iter()
                    .map(|&&(r, ref rid)| {
                        let mut values = Vec::with_capacity(16);
                        if let (true, Some(rid)) = (sqlite, rid) {
                            values.push(args.int(*rid));
                        }
                        values.extend([
                            args.text(r.recall.id.as_str()),
                            args.text(r.recall.agency_code.as_str()),
                            args.text(ymd::format(r.recall.recall_date)),
                            args.opt_text(r.recall.severity.map(|s| s.as_str())),
                            args.opt_text(r.recall.risk_category.map(|c| c.as_str())),
                            args.text(r.recall.status.as_str()),
                            args.text(r.title.as_str()),
                            args.text(r.body.as_str()),
                            args.text(r.doc.as_str()),
                            args.text(r.hash.as_str()),
                            args.text(now.as_str()),
                            args.text(now.as_str()),
                            args.int(generation),
                        ]);
                        if send_vectors {
                            // Prepared with the batch, unless a caller
                            // prepared it for the other backend.
                            let (all, title) = match &r.vectors {
                                Some(vectors) => vectors.clone(),
                                None => search_vectors(&r.title, &r.body),
                            };
                            values.push(format!("CAST({} AS tsvector)", args.text(all)));
                            values.push(format!("CAST({} AS tsvector)", args.text(title)));
                        }
                        format!("({})", values.join(", "))
                    })
                    .collect();
                let values = rows.join(", ");
                let sql = if update {
                    format!(
                        "UPDATE recalls SET agency_code = v.column2, recall_date = v.column3, severity = v.column4, \
                         risk_category = v.column5, status = v.column6, search_title = v.column7, \
                         search_body = v.column8, doc = v.column9, content_hash = v.column10, \
                         updated_at = v.column12, change_gen = v.column13{vectors_from_values} \
                         FROM (VALUES {values}) AS v WHERE recalls.id = v.column1 RETURNING recalls.id, recalls.rid"
                    )
                } else {
                    format!(
                        "INSERT INTO recalls ({rid_column}id, agency_code, recall_date, severity, risk_category, status, \
                         search_title, search_body, doc, content_hash, created_at, updated_at, change_gen{vector_columns}) \
                         VALUES {values} \
                         ON CONFLICT (id) DO UPDATE SET agency_code = excluded.agency_code, \
                         recall_date = excluded.recall_date, severity = excluded.severity, \
                         risk_category = excluded.risk_category, status = excluded.status, \
                         search_title = excluded.search_title, search_body = excluded.search_body, \
                         doc = excluded.doc, content_hash = excluded.content_hash, updated_at = excluded.updated_at, \
                         change_gen = excluded.change_gen{vectors_from_excluded}{returning}"
                    )
                };
                let persistent = keep_prepared || !update;
                let rids: HashMap<String, i64> = if sqlite {
                    bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(persistent), args)
                        .execute(&mut *tx)
                        .await?;
                    HashMap::new()
                } else {
                    let stored: Vec<(String, i64)> =
                        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)).persistent(persistent), args)
                            .fetch_all(&mut *tx)
                            .await?;
                    stored.into_iter().collect()
                };
                for &&(r, known) in chunk {
                    let rid = match known.filter(|_| sqlite) {
                        Some(rid) => rid,
                        None => *rids.get(r.recall.id.as_str()).ok_or_else(|| {
                            StorageError::Corrupt(format!("upsert returned no row id for {}", r.recall.id.as_str()))
                        })?,
                    };
                    links.extend(r.gtins.iter().map(|g| (g.as_str(), rid)));
                    outcome.changed_ids.push(r.recall.id.as_str().to_string());
                    if self.search_index.is_some() {
                        indexed.push(super::index::IndexRow {
                            rid,
                            id: r.recall.id.as_str().to_string(),
                            recall_date: ymd::format(r.recall.recall_date),
                            agency_code: r.recall.agency_code.as_str().to_string(),
                            severity: r.recall.severity.map(|v| v.as_str().to_string()),
                            risk_category: r.recall.risk_category.map(|v| v.as_str().to_string()),
                            search_title: r.title.clone(),
                            search_body: r.body.clone(),
                            change_gen: generation,
                        });
                    }
                    if keep_documents {
                        documents.push(WrittenDocument {
                            rid,
                            recall: Arc::clone(&r.recall),
                            document_len: r.doc.len(),
                        });
                    }
                }
            }

            // A changed recall keeps the barcodes it still carries: only the
            // ones it lost are deleted, and its others inserted where
            // missing. A revised recall nearly always names the same
            // products, and deleting and inserting them again rewrote both
            // barcode indexes for nothing.
            let mut still: HashMap<i64, Vec<&str>> = HashMap::new();
            let mut added: Vec<(&str, i64)> = Vec::new();
            for &(gtin, rid) in &links {
                match replaced.binary_search(&rid) {
                    Ok(_) => still.entry(rid).or_default().push(gtin),
                    Err(_) => added.push((gtin, rid)),
                }
            }
            let bound = |rid: &i64| 1 + 2 * still.get(rid).map_or(0, Vec::len);
            let mut rest: &[i64] = &replaced;
            while !rest.is_empty() {
                // As many recalls as fit in one statement's parameters (a
                // recall may carry up to a thousand barcodes).
                let mut take = 1;
                let mut params = bound(&rest[0]);
                while take < rest.len().min(CHUNK) && params + bound(&rest[take]) <= STALE_LINK_PARAMS {
                    params += bound(&rest[take]);
                    take += 1;
                }
                let (chunk, later) = rest.split_at(take);
                rest = later;
                let mut args = Args::in_order(self.backend());
                let rids: Vec<String> = chunk.iter().map(|rid| args.int(*rid)).collect();
                let current: Vec<String> = chunk
                    .iter()
                    .flat_map(|rid| still.get(rid).into_iter().flatten().map(move |gtin| (*gtin, *rid)))
                    .map(|(gtin, rid)| format!("({}, {})", args.text(gtin), args.int(rid)))
                    .collect();
                let mut sql = format!("DELETE FROM recall_gtins WHERE recall_rid IN ({})", rids.join(", "));
                // Its shape depends on how many barcodes each recall has:
                // not worth a place in the connection's statement cache.
                let persistent = keep_prepared && current.is_empty();
                if !current.is_empty() {
                    sql += &format!(" AND (gtin, recall_rid) NOT IN (VALUES {})", current.join(", "));
                }
                bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(persistent), args)
                    .execute(&mut *tx)
                    .await?;
            }
            let kept: Vec<(&str, i64)> =
                still.iter().flat_map(|(rid, gtins)| gtins.iter().map(move |gtin| (*gtin, *rid))).collect();
            for (rows, on_conflict) in [(&added, ""), (&kept, " ON CONFLICT DO NOTHING")] {
                for chunk in rows.chunks(CHUNK / 2) {
                    let mut args = Args::in_order(self.backend());
                    let rows: Vec<String> = chunk
                        .iter()
                        .map(|(gtin, rid)| format!("({}, {})", args.text(*gtin), args.int(*rid)))
                        .collect();
                    let sql =
                        format!("INSERT INTO recall_gtins (gtin, recall_rid) VALUES {}{on_conflict}", rows.join(", "));
                    bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), args).execute(&mut *tx).await?;
                }
            }

            if !outcome.changed_ids.is_empty() {
                for chunk in vocabulary.chunks(CHUNK) {
                    let mut args = Args::in_order(self.backend());
                    let rows: Vec<String> = chunk.iter().map(|w| format!("({})", args.text(w.as_str()))).collect();
                    let sql = format!(
                        "INSERT INTO search_terms (term) VALUES {} ON CONFLICT (term) DO NOTHING",
                        rows.join(", ")
                    );
                    bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), args).execute(&mut *tx).await?;
                }
                // Alert matching for the new and changed recalls, queued in
                // the same transaction: no stored recall is ever missed.
                let job = crate::jobs::match_recalls_job(&outcome.changed_ids);
                crate::jobs::enqueue_job_in_tx!(tx, &job, &now);
            }
            (outcome, generation, indexed, documents)
        });
        Ok((outcome, self.index_update(generation, indexed, documents)))
    }

    /// Waits until the full-text indexes' pending lists that committed
    /// recall writes asked to merge are merged (PostgreSQL; at once on
    /// SQLite).
    pub async fn pending_lists_merged(&self) {
        self.pending_lists.settled().await;
    }
}

/// PostgreSQL's two search vectors of a recall (migration 0012): every word
/// of title and body, and the title's words alone.
fn search_vectors(title: &str, body: &str) -> (String, String) {
    let title_words = || title.split(' ');
    (tsvector_literal(title_words().chain(body.split(' '))), tsvector_literal(title_words()))
}

/// Longest word a `tsvector` holds, in bytes (PostgreSQL refuses longer ones);
/// `to_tsvector` skipped longer ones, and so does [`tsvector_literal`].
const TSVECTOR_MAX_WORD: usize = 2046;

/// A `tsvector` literal of the distinct `words`, taken verbatim: `'a' 'b'`.
/// The words are the domain tokenizer's, lowercase letters and digits, but
/// quotes and backslashes are escaped all the same.
fn tsvector_literal<'a>(words: impl Iterator<Item = &'a str>) -> String {
    let words: BTreeSet<&str> = words.filter(|w| !w.is_empty() && w.len() <= TSVECTOR_MAX_WORD).collect();
    let mut literal = String::with_capacity(words.iter().map(|w| w.len() + 3).sum());
    for word in words {
        if !literal.is_empty() {
            literal.push(' ');
        }
        literal.push('\'');
        for c in word.chars() {
            match c {
                '\'' => literal.push_str("''"),
                '\\' => literal.push_str("\\\\"),
                c => literal.push(c),
            }
        }
        literal.push('\'');
    }
    literal
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hashes_are_lowercase_hex_of_the_digest() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            to_hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn search_vectors_hold_each_word_once_verbatim_and_escaped() {
        let (all, title) = search_vectors(" crib ab² crib ", "fall hazard crib");
        assert_eq!(all, "'ab²' 'crib' 'fall' 'hazard'");
        assert_eq!(title, "'ab²' 'crib'");
        assert_eq!(tsvector_literal(["it's", "a\\b", ""].into_iter()), "'a\\\\b' 'it''s'");
        let long = "x".repeat(TSVECTOR_MAX_WORD + 1);
        let longest = "y".repeat(TSVECTOR_MAX_WORD);
        assert_eq!(tsvector_literal([long.as_str(), longest.as_str()].into_iter()), format!("'{longest}'"));
        assert_eq!(search_vectors("", ""), (String::new(), String::new()));
    }
}
