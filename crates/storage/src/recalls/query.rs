//! Search and list queries over recalls.
//!
//! Relevance is an integer computed from the recall and the query alone (never
//! from corpus statistics), so a recall's score does not move when others are
//! inserted and keyset cursors stay exact. Per query term: 100 = whole word in
//! the title (title, product name, brand), 70 = a word of the title starts
//! with it or is one of its typo variants, 40 = it matched elsewhere.
//!
//! Queries of up to three term groups read relevance tiers best first and
//! stop after one page (`tiers.rs`); longer ones rank every match. Either way
//! ranking runs on narrow rows (rid, date, id, score) and the stored
//! documents are read only for the rows of the page.

use std::{collections::HashMap, sync::Arc};

use babyshield_domain::{Recall, RecallFilters, ymd};

use super::{
    args::{Arg, Args, bind_args},
    dialect::{self, TierRead, where_clause},
    documents::DocumentCache,
    index::Hit,
    read::StoredDocument,
    tiers::{self, Tier},
};
use crate::{Backend, StorageError, Store};

/// One query term and the vocabulary words it may also match (typo variants).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TermGroup {
    pub term: String,
    pub variants: Vec<String>,
}

/// Rows SQLite reads past a tier's page so that the page's last date is
/// usually complete without a second read (see `search_in_tiers`).
const SAME_DAY_LOOKAHEAD: usize = 32;

/// Points for one term, see the module docs.
pub const POINTS_PER_TERM: i64 = 100;

/// What to look for. No groups and no id lists everything the filters allow.
#[derive(Debug, Clone, Default)]
pub struct RecallQuery {
    pub groups: Vec<TermGroup>,
    pub id: Option<String>,
    pub filters: RecallFilters,
}

/// Keyset position: the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub score: i64,
    pub recall_date: String,
    pub id: String,
}

#[derive(Debug, Clone)]
pub struct ScoredRecall {
    /// Shared with the document cache (`documents.rs`) when it came from there.
    pub recall: Arc<Recall>,
    pub score: i64,
    pub recall_date: String,
}

#[derive(Debug, Clone)]
pub struct RecallPage {
    pub items: Vec<ScoredRecall>,
    /// Every recall the query matches, regardless of paging.
    pub total: i64,
}

impl RecallQuery {
    /// The highest score a recall can reach for this query.
    pub fn max_score(&self) -> i64 {
        POINTS_PER_TERM * (self.groups.len().max(1) as i64)
    }
}

impl Store {
    /// One page of matching recalls, ordered by score desc, recall date desc,
    /// id asc, starting after `after` (keyset) or at `offset`.
    pub async fn search_recalls(
        &self,
        query: &RecallQuery,
        after: Option<&After>,
        offset: u32,
        limit: u32,
    ) -> Result<RecallPage, StorageError> {
        if let Some(page) = self.search_in_index(query, after, offset, limit).await? {
            metrics::counter!("search_engine_total", "engine" => "index").increment(1);
            return Ok(page);
        }
        metrics::counter!("search_engine_total", "engine" => "database").increment(1);
        self.search_in_database(query, after, offset, limit).await
    }

    /// [`Store::search_recalls`] from the database's own indexes, also when
    /// the in-memory index is enabled. Tests hold both to the reference.
    #[doc(hidden)]
    pub async fn search_in_database(
        &self,
        query: &RecallQuery,
        after: Option<&After>,
        offset: u32,
        limit: u32,
    ) -> Result<RecallPage, StorageError> {
        if let Some(tiers) = tiers::tiers(&query.groups) {
            return self.search_in_tiers(query, &tiers, after, offset, limit).await;
        }
        self.search_ranking_every_match(query, after, offset, limit).await
    }

    /// The page from the in-memory index (`index/`), brought up to date
    /// first; `None` when it is disabled, not built yet, or leaves this
    /// query to SQL. Only the page's stored documents are read.
    async fn search_in_index(
        &self,
        query: &RecallQuery,
        after: Option<&After>,
        offset: u32,
        limit: u32,
    ) -> Result<Option<RecallPage>, StorageError> {
        let slot = match self.current_search_index().await {
            Ok(Some(slot)) => slot,
            Ok(None) => return Ok(None),
            Err(e @ StorageError::Unavailable(_)) => return Err(e),
            // A row the index cannot take (it never should): the database
            // still answers, and the refresher keeps reporting it.
            Err(e) => {
                tracing::warn!(error = %e, "search index cannot catch up; searching in the database");
                return Ok(None);
            }
        };
        let Some((total, hits)) =
            slot.with(|index| index.search(query, after, offset, limit, slot.term_levels())).flatten()
        else {
            return Ok(None);
        };
        let docs = self.page_documents(slot.documents(), &hits).await?;
        let rows = hits.into_iter().map(|hit| (hit.score, hit.rid, hit.recall_date));
        Ok(Some(RecallPage {
            items: scored_items(rows, &docs, "is in the search index but not stored")?,
            total,
        }))
    }

    /// A page's recalls, by row id: from the document cache when it holds
    /// the version the index found (or a newer one), the rest decoded from
    /// the documents read in one statement.
    async fn page_documents(
        &self,
        cache: Option<&DocumentCache>,
        hits: &[Hit],
    ) -> Result<HashMap<i64, Arc<Recall>>, StorageError> {
        let mut docs = HashMap::with_capacity(hits.len());
        let mut missing = Vec::new();
        for hit in hits {
            match cache.and_then(|c| c.get(hit.rid, hit.change_gen)) {
                Some(doc) => {
                    docs.insert(hit.rid, doc);
                }
                None => missing.push(hit.rid),
            }
        }
        if cache.is_some() {
            DocumentCache::record(docs.len(), missing.len());
        }
        if missing.is_empty() {
            return Ok(docs);
        }
        let found = self.point_reads.documents.load_many(missing.clone(), self, Store::docs_by_rid).await?;
        for (rid, found) in missing.into_iter().zip(found) {
            if let Some((change_gen, doc)) = found {
                let recall = Arc::new(super::decode(&doc)?);
                if let Some(cache) = cache {
                    cache.put(rid, change_gen, Arc::clone(&recall), doc.len());
                }
                docs.insert(rid, recall);
            }
        }
        Ok(docs)
    }

    /// The generation and stored document of these rows, by row id (one
    /// query): what the result pages read at the same time share.
    async fn docs_by_rid(self, rids: Vec<i64>) -> Result<HashMap<i64, StoredDocument>, StorageError> {
        let mut args = Args::in_order(self.backend());
        let list = args.padded_list(rids.into_iter().map(Arg::Int), Arg::Int(0));
        let sql = format!("SELECT rid, change_gen, doc FROM recalls WHERE rid IN ({list})");
        let rows: Vec<(i64, i64, String)> = self.read_rows(&sql, &args).await?;
        Ok(rows.into_iter().map(|(rid, change_gen, doc)| (rid, Some((change_gen, Arc::from(doc))))).collect())
    }

    /// The reference ranking: scores every match in SQL and sorts. Serves
    /// queries without tiers; tests hold the tiered reads to its answers.
    #[doc(hidden)]
    pub async fn search_ranking_every_match(
        &self,
        query: &RecallQuery,
        after: Option<&After>,
        offset: u32,
        limit: u32,
    ) -> Result<RecallPage, StorageError> {
        let backend = self.backend();
        let (count_sql, count_args) = count_statement(backend, query);
        let mut args = Args::default();
        let (source, conditions) = source_and_conditions(backend, query, &mut args);

        let page_sql = if query.groups.is_empty() {
            // Constant score: order straight by the (recall_date, id) indexes.
            let mut conditions = conditions.clone();
            if let Some(after) = after {
                let (d, i) = (args.text(after.recall_date.clone()), args.text(after.id.clone()));
                conditions.push(format!("(r.recall_date < {d} OR (r.recall_date = {d} AND r.id > {i}))"));
            }
            let (limit_p, offset_p) = (args.int(i64::from(limit)), args.int(i64::from(offset)));
            format!(
                "SELECT r.doc, r.recall_date, CAST({POINTS_PER_TERM} AS BIGINT) AS score FROM {source}{} \
                 ORDER BY r.recall_date DESC, r.id ASC LIMIT {limit_p} OFFSET {offset_p}",
                where_clause(&conditions),
            )
        } else {
            let score = score_expression(backend, &query.groups, &mut args);
            let mut outer = Vec::new();
            if let Some(after) = after {
                let (s, d, i) = (
                    args.int(after.score),
                    args.text(after.recall_date.clone()),
                    args.text(after.id.clone()),
                );
                outer.push(format!(
                    "(score < {s} OR (score = {s} AND (recall_date < {d} OR (recall_date = {d} AND id > {i}))))"
                ));
            }
            let (limit_p, offset_p) = (args.int(i64::from(limit)), args.int(i64::from(offset)));
            format!(
                "SELECT d.doc, t.recall_date, t.score FROM (\
                   SELECT rid, recall_date, id, score FROM (\
                     SELECT r.rid, r.recall_date, r.id, CAST({score} AS BIGINT) AS score FROM {source}{}\
                   ) s{} ORDER BY score DESC, recall_date DESC, id ASC LIMIT {limit_p} OFFSET {offset_p}\
                 ) t JOIN recalls d ON d.rid = t.rid ORDER BY t.score DESC, t.recall_date DESC, t.id ASC",
                where_clause(&conditions),
                where_clause(&outer),
            )
        };

        self.read(|| async {
            let (total, rows): (i64, Vec<(String, String, i64)>) = crate::on_pool!(self, p => {
                let total = bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), count_args)
                    .fetch_one(p)
                    .await?;
                let rows = bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(page_sql.clone())), args).fetch_all(p).await?;
                (total, rows)
            });
            let items = rows
                .into_iter()
                .map(|(doc, recall_date, score)| {
                    Ok(ScoredRecall { recall: Arc::new(super::decode(&doc)?), score, recall_date })
                })
                .collect::<Result<Vec<_>, StorageError>>()?;
            Ok(RecallPage { items, total })
        })
        .await
    }
    /// [`Store::search_recalls`] for queries that have tiers: every
    /// statement runs in one read snapshot, so a recall that moves between
    /// tiers meanwhile is neither shown twice nor missed.
    async fn search_in_tiers(
        &self,
        query: &RecallQuery,
        tiers: &[Tier],
        after: Option<&After>,
        offset: u32,
        limit: u32,
    ) -> Result<RecallPage, StorageError> {
        let backend = self.backend();
        let (count_sql, count_args) = count_statement(backend, query);
        let want = offset as usize + limit as usize;
        let statement = |tier: &Tier,
                         after: Option<&After>,
                         only_date: Option<&str>,
                         newest: Option<usize>,
                         limit: usize| {
            let mut args = Args::default();
            let conditions = filter_conditions(query, &mut args);
            let read = TierRead {
                groups: &query.groups,
                combos: &tier.combos,
                conditions: &conditions,
                filters: &query.filters,
                after,
                only_date,
                newest,
                limit,
            };
            dialect::tier_statement(backend, &read, &mut args).map(|sql| (sql, args))
        };
        self.read(|| async {
            let (total, picked, docs) = crate::on_pool!(self, p => {
                let mut tx = crate::BeginSnapshot::begin_snapshot(p).await?;
                let total: i64 = bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), count_args)
                    .fetch_one(&mut *tx)
                    .await?;
                // Every match is in exactly one tier, and the count read the
                // same snapshot: without a cursor, once `total` rows are picked
                // the remaining tiers are empty (a query matching nothing, or
                // less than a page, reads no tier it does not need).
                let available = match after {
                    None => usize::try_from(total).unwrap_or(0),
                    Some(_) if total <= 0 => 0,
                    Some(_) => usize::MAX,
                };
                // (score, rid, recall_date, id) in result order.
                let mut picked: Vec<(i64, i64, String, String)> = Vec::new();
                for tier in tiers {
                    if picked.len() >= want.min(available) {
                        break;
                    }
                    let position = match after {
                        Some(a) if tier.score > a.score => continue,
                        Some(a) if tier.score == a.score => Some(a),
                        _ => None,
                    };
                    let need = want - picked.len();
                    // SQLite reads a few rows past the page: FTS order is
                    // newest first but not id order within a date, so the
                    // page's last date must be read to its end.
                    let read = if backend == Backend::Sqlite { need + SAME_DAY_LOOKAHEAD } else { need };
                    let mut rows: Vec<(i64, String, String)> = Vec::new();
                    if backend == Backend::Postgres {
                        // The newest recalls first: a page found among them is
                        // the tier's page (any newer match would be among them).
                        let budget = dialect::NEWEST_FIRST_BUDGET;
                        let (sql, args) = statement(tier, position, None, Some(budget), need)?;
                        rows = bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), args).fetch_all(&mut *tx).await?;
                    }
                    if rows.len() < need {
                        let (sql, args) = statement(tier, position, None, None, read)?;
                        rows = bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), args).fetch_all(&mut *tx).await?;
                    }
                    // Fewer rows than asked for: the tier ended, every row is here.
                    if backend == Backend::Sqlite && rows.len() == read {
                        let last = rows[need - 1].1.clone();
                        if rows.last().is_some_and(|row| row.1 != last) {
                            // The last date ended inside the lookahead.
                            rows.retain(|row| row.1 >= last);
                        } else {
                            // Still the same date: read that date's recalls of
                            // the tier in id order instead.
                            rows.retain(|row| row.1 != last);
                            let (sql, args) = statement(tier, position, Some(&last), None, need - rows.len())?;
                            let same_day: Vec<(i64, String, String)> =
                                bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), args).fetch_all(&mut *tx).await?;
                            rows.extend(same_day);
                        }
                    }
                    if backend == Backend::Sqlite {
                        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.2.cmp(&b.2)));
                        rows.truncate(need);
                    }
                    picked.extend(rows.into_iter().map(|(rid, date, id)| (tier.score, rid, date, id)));
                }
                picked.drain(..(offset as usize).min(picked.len()));
                let docs: Vec<(i64, String)> = if picked.is_empty() {
                    Vec::new()
                } else {
                    let mut args = Args::default();
                    let list: Vec<String> = picked.iter().map(|row| args.int(row.1)).collect();
                    let sql = format!("SELECT rid, doc FROM recalls WHERE rid IN ({})", list.join(", "));
                    bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), args).fetch_all(&mut *tx).await?
                };
                tx.rollback().await?;
                (total, picked, docs)
            });
            let docs = docs
                .into_iter()
                .map(|(rid, doc)| Ok((rid, Arc::new(super::decode(&doc)?))))
                .collect::<Result<HashMap<i64, Arc<Recall>>, StorageError>>()?;
            let rows = picked.into_iter().map(|(score, rid, recall_date, _)| (score, rid, recall_date));
            Ok(RecallPage { items: scored_items(rows, &docs, "vanished inside a snapshot")?, total })
        })
        .await
    }
}

/// The page's recalls, in the order of `rows` (score, rid, recall date); a
/// row without a document is `Corrupt`, `missing` saying how it went missing.
fn scored_items(
    rows: impl Iterator<Item = (i64, i64, String)>,
    docs: &HashMap<i64, Arc<Recall>>,
    missing: &str,
) -> Result<Vec<ScoredRecall>, StorageError> {
    rows.map(|(score, rid, recall_date)| {
        let recall =
            docs.get(&rid).ok_or_else(|| StorageError::Corrupt(format!("recall {rid} {missing}")))?;
        Ok(ScoredRecall { recall: Arc::clone(recall), score, recall_date })
    })
    .collect()
}

/// The statement counting every match (the page's `total`).
fn count_statement(backend: Backend, query: &RecallQuery) -> (String, Args) {
    if let Some(statement) = dialect::count_in_index(backend, query) {
        return statement;
    }
    let mut args = Args::default();
    let (source, conditions) = source_and_conditions(backend, query, &mut args);
    (format!("SELECT COUNT(*) FROM {source}{}", where_clause(&conditions)), args)
}

fn source_and_conditions(backend: Backend, query: &RecallQuery, args: &mut Args) -> (String, Vec<String>) {
    let mut conditions = Vec::new();
    let source = if query.groups.is_empty() {
        "recalls r".to_string()
    } else {
        let (source, condition) = dialect::full_text_source(backend, query, args);
        conditions.extend(condition);
        source
    };
    conditions.extend(filter_conditions(query, args));
    (source, conditions)
}

/// The id and filter conditions on `r`, shared by every statement shape.
fn filter_conditions(query: &RecallQuery, args: &mut Args) -> Vec<String> {
    let mut conditions = Vec::new();
    if let Some(id) = &query.id {
        conditions.push(format!("r.id = {}", args.text(id.clone())));
    }
    let f = &query.filters;
    if !f.agencies.is_empty() {
        let list: Vec<String> = f.agencies.iter().map(|a| args.text(a.as_str())).collect();
        conditions.push(format!("r.agency_code IN ({})", list.join(", ")));
    }
    if let Some(severity) = f.severity {
        conditions.push(format!("r.severity = {}", args.text(severity.as_str())));
    }
    if let Some(category) = f.risk_category {
        conditions.push(format!("r.risk_category = {}", args.text(category.as_str())));
    }
    if let Some(from) = f.date_from {
        conditions.push(format!("r.recall_date >= {}", args.text(ymd::format(from))));
    }
    if let Some(to) = f.date_to {
        conditions.push(format!("r.recall_date <= {}", args.text(ymd::format(to))));
    }
    conditions
}

fn score_expression(backend: Backend, groups: &[TermGroup], args: &mut Args) -> String {
    if groups.is_empty() {
        return POINTS_PER_TERM.to_string();
    }
    // `search_title` is stored padded with one space on each side, so
    // " term " finds a whole word and " term" a word starting with it.
    let title = "r.search_title";
    let terms: Vec<String> = groups
        .iter()
        .map(|g| {
            let whole = args.text(format!(" {} ", g.term));
            let mut partial = Vec::new();
            if g.term.len() >= dialect::MIN_PREFIX_LEN {
                let prefix = args.text(format!(" {}", g.term));
                partial.push(format!("{} > 0", dialect::strpos(backend, title, &prefix)));
            }
            for variant in &g.variants {
                let v = args.text(format!(" {variant} "));
                partial.push(format!("{} > 0", dialect::strpos(backend, title, &v)));
            }
            let whole = format!("{} > 0", dialect::strpos(backend, title, &whole));
            if partial.is_empty() {
                format!("(CASE WHEN {whole} THEN 100 ELSE 40 END)")
            } else {
                format!("(CASE WHEN {whole} THEN 100 WHEN {} THEN 70 ELSE 40 END)", partial.join(" OR "))
            }
        })
        .collect();
    format!("({})", terms.join(" + "))
}
