//! Watched products: what a family keeps at home, and the job that turns
//! new recalls into alerts for them.
//!
//! A watched product is sealed; its match keys (GTIN, normalized model,
//! normalized brand) are stored as keyed blind indexes. When recalls are
//! stored, `upsert_recalls` queues a `match_recalls` job in the same
//! transaction; the job computes the same keys for those recalls, finds
//! the candidate watches through the indexes, opens them, scores each pair
//! with the domain rules and records the alerts (unique per user and
//! recall) and finishes the job in one transaction.

use std::collections::HashMap;

use babyshield_domain::{
    Recall,
    safety::{self, MatchType, ProductQuery},
    text,
};
use babyshield_storage::{
    family::{NewNotification, NewWatch, WatchRow},
    jobs::{Job, MatchRecalls},
};
use serde::{Deserialize, Serialize};

use super::{
    Family, PageRequest, SafetyReport, SealedColumn, aad, new_id, optional_text,
    paging::Page,
    safety::{Checked, parse_barcode},
};
use crate::{accounts::AuthUser, error::ApiError};

const MAX_TEXT: usize = 200;
const MAX_MODEL: usize = 100;
/// Weakest match that raises an alert for a watched product. Name matches
/// need brand agreement and most of the name to get here.
pub const ALERT_MIN_CONFIDENCE: f32 = 0.7;

/// `POST /api/v1/monitoring/products`: a barcode, a model, or a brand with
/// a product name.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WatchInput {
    #[serde(default)]
    pub barcode: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub product_name: Option<String>,
    /// The family's own name for it ("Mia's car seat").
    #[serde(default)]
    pub label: Option<String>,
}

/// What is sealed in `watched_products.details_sealed`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Details {
    barcode: Option<String>,
    brand: Option<String>,
    model: Option<String>,
    product_name: Option<String>,
    label: Option<String>,
}

impl Details {
    fn query(&self) -> ProductQuery {
        ProductQuery {
            gtin: self.barcode.as_deref().and_then(|b| babyshield_domain::Gtin::parse(b).ok()),
            name: self.product_name.clone(),
            brand: self.brand.clone(),
            model: self.model.clone(),
        }
    }
}

/// A watched product as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WatchedProduct {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created_at: String,
    /// On creation only: the product checked against today's recalls
    /// (alerts are raised for recalls stored later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_check: Option<SafetyReport>,
}

pub type WatchPage = Page<WatchedProduct>;

/// Model numbers compared as the domain rules compare them (no case,
/// spaces or punctuation); too short to identify a product is no key.
fn model_key(model: &str) -> Option<String> {
    let key = safety::model_key(model);
    (key.len() >= 3).then_some(key)
}

fn brand_key(brand: &str) -> Option<String> {
    let key = text::normalize(brand);
    (!key.is_empty()).then_some(key)
}

impl Family {
    fn watch_view(&self, row: WatchRow) -> Result<WatchedProduct, ApiError> {
        let details: Details = self.open(&row.details_sealed, &aad(SealedColumn::WatchDetails, &row.id))?;
        Ok(WatchedProduct {
            id: row.id,
            barcode: details.barcode,
            brand: details.brand,
            model: details.model,
            product_name: details.product_name,
            label: details.label,
            created_at: row.created_at,
            current_check: None,
        })
    }

    pub async fn create_watch(&self, user: &AuthUser, input: WatchInput) -> Result<WatchedProduct, ApiError> {
        let gtin = match input.barcode.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            Some(raw) => Some(parse_barcode("barcode", raw)?),
            None => None,
        };
        let details = Details {
            barcode: gtin.as_ref().map(|g| g.as_str().to_string()),
            brand: optional_text("brand", input.brand.as_deref(), MAX_TEXT)?,
            model: optional_text("model", input.model.as_deref(), MAX_MODEL)?,
            product_name: optional_text("productName", input.product_name.as_deref(), MAX_TEXT)?,
            label: optional_text("label", input.label.as_deref(), MAX_TEXT)?,
        };
        let model_index = details.model.as_deref().and_then(model_key).map(|k| self.blind("model", &k));
        if details.model.is_some() && model_index.is_none() {
            return Err(ApiError::invalid("model", "must have at least 3 letters or digits"));
        }
        let named_brand = details.brand.is_some() && details.product_name.is_some();
        if gtin.is_none() && model_index.is_none() && !named_brand {
            return Err(ApiError::invalid(
                "barcode",
                "give a barcode, a model, or a brand with a productName",
            ));
        }
        let id = new_id();
        let new = NewWatch {
            details_sealed: self.seal(&details, &aad(SealedColumn::WatchDetails, &id))?,
            gtin_index: gtin.as_ref().map(|g| self.blind("gtin", g.as_str())),
            model_index,
            brand_index: details.brand.as_deref().and_then(brand_key).map(|k| self.blind("brand", &k)),
            id: id.clone(),
            user_id: user.user_id.clone(),
        };
        if !self.store.create_watch(&new, self.config.max_watched_products).await? {
            return Err(ApiError::Conflict(format!(
                "an account can watch at most {} products",
                self.config.max_watched_products
            )));
        }
        let query = details.query();
        let input = super::ProductInput {
            barcode: details.barcode.clone(),
            product_name: details.product_name.clone(),
            brand: details.brand.clone(),
            model: details.model.clone(),
        };
        let current = self.check(Checked { input, query }, None).await?;
        Ok(WatchedProduct {
            id,
            barcode: details.barcode,
            brand: details.brand,
            model: details.model,
            product_name: details.product_name,
            label: details.label,
            created_at: super::rfc3339(super::now()),
            current_check: Some(current),
        })
    }

    /// Newest first.
    pub async fn watches(&self, user: &AuthUser, page: &PageRequest) -> Result<WatchPage, ApiError> {
        let rows = self.store.list_watches(&user.user_id, page.after.as_deref(), page.fetch()).await?;
        page.page(rows, |r| &r.id, |r| self.watch_view(r))
    }

    pub async fn delete_watch(&self, user: &AuthUser, id: &str) -> Result<(), ApiError> {
        if self.store.delete_watch(&user.user_id, id).await? {
            Ok(())
        } else {
            Err(ApiError::NotFound("no watched product with this id".into()))
        }
    }

    /// Runs one `match_recalls` job: finds the watched products the recalls
    /// concern and records one alert per user and recall. Returns the
    /// number of alerts created.
    pub(crate) async fn run_match_job(&self, job: &Job, owner: &str) -> Result<u64, ApiError> {
        let payload: MatchRecalls = serde_json::from_str(&job.payload)
            .map_err(|e| ApiError::internal(format!("bad job payload: {e}")))?;
        let alerts = if self.store.any_watched_products().await? {
            let recalls = self.store.recalls_by_ids(&payload.recall_ids).await?;
            self.alerts_for(&recalls).await?
        } else {
            Vec::new()
        };
        let outcome = self.store.record_alerts(job.id, owner, &alerts).await?;
        if outcome.job_finished {
            metrics::counter!("recall_alerts_created_total").increment(outcome.created);
            metrics::counter!("webhook_deliveries_queued_total").increment(outcome.deliveries);
        }
        Ok(outcome.created)
    }

    /// The alerts a batch of recalls raises: best match per user and recall.
    /// Each watched product is scored only against the recalls that share
    /// one of its keys, so a popular brand watched by many families costs
    /// (watchers x that brand's recalls), not (watchers x batch).
    async fn alerts_for(&self, recalls: &[Recall]) -> Result<Vec<NewNotification>, ApiError> {
        // Blind-indexed key -> positions of the recalls carrying it.
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, recall) in recalls.iter().enumerate() {
            let gtins = recall.gtins().iter().map(|g| self.blind("gtin", g.as_str())).collect::<Vec<_>>();
            let model_values =
                recall.model.iter().chain(recall.model_number.iter()).chain(recall.model_numbers.iter());
            let models = model_values.filter_map(|m| model_key(m)).map(|k| self.blind("model", &k));
            let brand_values = recall.brand.iter().chain(recall.manufacturer.iter());
            let brands = brand_values.filter_map(|b| brand_key(b)).map(|k| self.blind("brand", &k));
            for key in gtins.into_iter().chain(models).chain(brands) {
                let positions = by_key.entry(key).or_default();
                if positions.last() != Some(&i) {
                    positions.push(i);
                }
            }
        }
        let keys: Vec<String> = by_key.keys().cloned().collect();
        let candidates = self.store.watches_matching(&keys).await?;
        let mut best: HashMap<(String, String), NewNotification> = HashMap::new();
        for candidate in candidates {
            let row = &candidate.row;
            let details: Details =
                self.open(&row.details_sealed, &aad(SealedColumn::WatchDetails, &row.id))?;
            let query = details.query();
            let mut positions: Vec<usize> =
                [&candidate.gtin_index, &candidate.model_index, &candidate.brand_index]
                    .into_iter()
                    .flatten()
                    .filter_map(|k| by_key.get(k))
                    .flatten()
                    .copied()
                    .collect();
            positions.sort_unstable();
            positions.dedup();
            for recall in positions.into_iter().map(|i| &recalls[i]) {
                let Some(m) = safety::score_match(&query, recall) else { continue };
                if m.match_type != MatchType::ExactGtin && m.confidence < ALERT_MIN_CONFIDENCE {
                    continue;
                }
                let key = (row.user_id.clone(), recall.id.as_str().to_string());
                let better = best.get(&key).is_none_or(|n| f64::from(m.confidence) > n.confidence);
                if better {
                    best.insert(
                        key,
                        NewNotification {
                            id: new_id(),
                            user_id: row.user_id.clone(),
                            recall_id: recall.id.as_str().to_string(),
                            watch_id: Some(row.id.clone()),
                            match_type: m.match_type.as_str().to_string(),
                            confidence: (f64::from(m.confidence) * 100.0).round() / 100.0,
                        },
                    );
                }
            }
        }
        let mut alerts: Vec<NewNotification> = best.into_values().collect();
        alerts.sort_by(|a, b| a.user_id.cmp(&b.user_id).then(a.recall_id.cmp(&b.recall_id)));
        Ok(alerts)
    }

    /// Opens a watched product's label for alert payloads.
    pub(super) fn watch_label(&self, id: &str, sealed: &str) -> Option<String> {
        let details: Details = self.open(sealed, &aad(SealedColumn::WatchDetails, id)).ok()?;
        details.label.or(details.product_name).or(details.model).or(details.barcode)
    }
}
