//! Reading recalls: detail, barcode lookup, agencies, statistics, and what
//! search needs to know about the catalogue.

use std::{collections::HashMap, sync::Arc};

use babyshield_domain::{Gtin, Recall};
use serde::Serialize;

use super::args::{Arg, Args};
use crate::{StorageError, Store, coalesce::Coalescer};

/// Most recalls returned for one barcode (a product recalled in many
/// countries has a handful; this bounds a pathological code).
pub const MAX_RECALLS_PER_BARCODE: i64 = 200;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AgencyRow {
    pub code: String,
    pub name: String,
    pub country: String,
    pub website: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Count {
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgencyFreshness {
    pub agency_code: String,
    pub newest_recall_date: String,
    pub count: i64,
}

/// The dashboard figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecallStats {
    pub total: i64,
    pub by_agency: Vec<Count>,
    pub by_severity: Vec<Count>,
    pub by_category: Vec<Count>,
    /// `YYYY-MM` -> count, newest month first.
    pub by_month: Vec<Count>,
    pub newest_by_agency: Vec<AgencyFreshness>,
}

/// Keys per shared lookup query.
const POINT_READ_BATCH: usize = 64;
/// Documents per shared read of result pages' documents (a page has up to 51).
const DOCUMENT_READ_BATCH: usize = 256;

/// A row's generation (`change_gen`) and stored document, if the row exists.
pub(super) type StoredDocument = Option<(i64, Arc<str>)>;

/// Point reads that arrive together share a query (`crate::coalesce`): at
/// most `max_in_flight` queries of each kind run at a time, and reads that
/// arrive meanwhile go together in the next one. Detail and barcode
/// lookups, and the documents of search result pages that are not in the
/// document cache (`query.rs`).
#[derive(Debug)]
pub(crate) struct PointReads {
    by_id: Arc<Coalescer<String, Option<String>>>,
    by_gtin: Arc<Coalescer<String, Vec<String>>>,
    /// By row id.
    pub(super) documents: Arc<Coalescer<i64, StoredDocument>>,
}

impl PointReads {
    pub(crate) fn new(max_in_flight: usize) -> PointReads {
        PointReads {
            by_id: Arc::new(Coalescer::new("recall_by_id", max_in_flight, POINT_READ_BATCH)),
            by_gtin: Arc::new(Coalescer::new("recalls_by_gtin", max_in_flight, POINT_READ_BATCH)),
            documents: Arc::new(Coalescer::new("page_documents", max_in_flight, DOCUMENT_READ_BATCH)),
        }
    }
}

impl Store {
    /// One recall by id. Lookups that arrive together share a query
    /// ([`PointReads`]).
    pub async fn recall_by_id(&self, id: &str) -> Result<Option<Recall>, StorageError> {
        let doc = self.point_reads.by_id.load(id.to_string(), self, Store::docs_by_id).await?;
        doc.map(|d| super::decode(&d)).transpose()
    }

    /// The recalls with these ids (unknown ids are skipped), in id order.
    pub async fn recalls_by_ids(&self, ids: &[String]) -> Result<Vec<Recall>, StorageError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(200) {
            let mut args = super::args::Args::default();
            let list: Vec<String> = chunk.iter().map(|id| args.text(id.as_str())).collect();
            let sql = format!("SELECT doc FROM recalls WHERE id IN ({}) ORDER BY id", list.join(", "));
            let docs: Vec<String> = self
                .read(|| async {
                    Ok(crate::on_pool!(self, p => {
                        super::args::bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())), args)
                            .fetch_all(p)
                            .await?
                    }))
                })
                .await?;
            for doc in docs {
                out.push(super::decode(&doc)?);
            }
        }
        Ok(out)
    }

    /// Every recall carrying `gtin` in any of its padded forms (they are all
    /// stored as the 14-digit form), newest first, at most
    /// [`MAX_RECALLS_PER_BARCODE`]. Lookups that arrive together share a
    /// query ([`PointReads`]).
    pub async fn recalls_by_gtin(&self, gtin: &Gtin) -> Result<Vec<Recall>, StorageError> {
        let docs =
            self.point_reads.by_gtin.load(gtin.as_str().to_string(), self, Store::docs_by_gtin).await?;
        docs.iter().map(|d| super::decode(d)).collect()
    }

    /// The stored documents of these recalls, by id (one query): what
    /// lookups that arrive together share. Public for the tests.
    #[doc(hidden)]
    pub async fn docs_by_id(self, ids: Vec<String>) -> Result<HashMap<String, Option<String>>, StorageError> {
        let mut args = Args::in_order(self.backend());
        let list = args.padded_list(ids.into_iter().map(Arg::Text), Arg::Text(String::new()));
        let sql = format!("SELECT id, doc FROM recalls WHERE id IN ({list})");
        let rows: Vec<(String, String)> = self.read_rows(&sql, &args).await?;
        Ok(rows.into_iter().map(|(id, doc)| (id, Some(doc))).collect())
    }

    /// The stored documents carrying each of these GTINs (14-digit form),
    /// newest first, then by id, at most [`MAX_RECALLS_PER_BARCODE`] per GTIN
    /// (one query): what lookups that arrive together share. Public for the
    /// tests.
    #[doc(hidden)]
    pub async fn docs_by_gtin(
        self,
        gtins: Vec<String>,
    ) -> Result<HashMap<String, Vec<String>>, StorageError> {
        let mut args = Args::in_order(self.backend());
        let count = gtins.len();
        let list = args.padded_list(gtins.into_iter().map(Arg::Text), Arg::Text(String::new()));
        let limit = args.int(MAX_RECALLS_PER_BARCODE);
        let sql = format!(
            "SELECT gtin, doc FROM (SELECT g.gtin, r.doc, ROW_NUMBER() OVER \
             (PARTITION BY g.gtin ORDER BY r.recall_date DESC, r.id ASC) AS n \
             FROM recall_gtins g JOIN recalls r ON r.rid = g.recall_rid WHERE g.gtin IN ({list})) AS m \
             WHERE n <= {limit} ORDER BY gtin, n"
        );
        let rows: Vec<(String, String)> = self.read_rows(&sql, &args).await?;
        let mut found: HashMap<String, Vec<String>> = HashMap::with_capacity(count);
        for (gtin, doc) in rows {
            found.entry(gtin).or_default().push(doc);
        }
        Ok(found)
    }

    pub async fn agencies(&self) -> Result<Vec<AgencyRow>, StorageError> {
        self.read(|| async {
            let rows: Vec<(String, String, String, String)> = crate::on_pool!(self, p => {
                sqlx::query_as("SELECT code, name, country, website FROM agencies ORDER BY position")
                    .fetch_all(p)
                    .await?
            });
            Ok(rows
                .into_iter()
                .map(|(code, name, country, website)| AgencyRow { code, name, country, website })
                .collect())
        })
        .await
    }

    pub async fn recall_stats(&self) -> Result<RecallStats, StorageError> {
        self.read(|| async {
            crate::on_pool!(self, p => {
                let counts = |sql: &'static str| async move {
                    let rows: Vec<(String, i64)> = sqlx::query_as(sql).fetch_all(p).await?;
                    Ok::<_, StorageError>(rows.into_iter().map(|(key, count)| Count { key, count }).collect::<Vec<_>>())
                };
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recalls").fetch_one(p).await?;
                let by_agency = counts(
                    "SELECT agency_code, COUNT(*) FROM recalls GROUP BY agency_code ORDER BY COUNT(*) DESC, agency_code",
                ).await?;
                let by_severity = counts(
                    "SELECT COALESCE(severity, 'unknown'), COUNT(*) FROM recalls GROUP BY 1 ORDER BY 2 DESC, 1",
                ).await?;
                let by_category = counts(
                    "SELECT COALESCE(risk_category, 'unknown'), COUNT(*) FROM recalls GROUP BY 1 ORDER BY 2 DESC, 1",
                ).await?;
                let by_month = counts(
                    "SELECT SUBSTR(recall_date, 1, 7), COUNT(*) FROM recalls GROUP BY 1 ORDER BY 1 DESC",
                ).await?;
                let newest: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT agency_code, MAX(recall_date), COUNT(*) FROM recalls GROUP BY agency_code ORDER BY agency_code",
                )
                .fetch_all(p)
                .await?;
                let newest_by_agency = newest
                    .into_iter()
                    .map(|(agency_code, newest_recall_date, count)| AgencyFreshness { agency_code, newest_recall_date, count })
                    .collect();
                Ok(RecallStats { total, by_agency, by_severity, by_category, by_month, newest_by_agency })
            })
        })
        .await
    }

    pub async fn count_recalls(&self) -> Result<i64, StorageError> {
        self.read(|| async {
            Ok(crate::on_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM recalls").fetch_one(p).await?))
        })
        .await
    }

    /// Changes whenever a write changes the catalogue.
    pub async fn catalogue_generation(&self) -> Result<i64, StorageError> {
        self.read(|| async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query_scalar("SELECT generation FROM catalogue_generation WHERE singleton = 1").fetch_one(p).await?
            }))
        })
        .await
    }

    /// Every word seen in recall text (for typo-tolerant search).
    pub async fn search_vocabulary(&self) -> Result<Vec<String>, StorageError> {
        Ok(
            crate::on_pool!(self, p => sqlx::query_scalar("SELECT term FROM search_terms").fetch_all(p).await?),
        )
    }
}
