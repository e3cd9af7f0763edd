//! The contract's `RecallItem`: the compact shape of search and lookup lists.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Recall, RecallStatus, RiskCategory, Severity};
use crate::agency::AgencyCode;

/// One entry of a recall list as the mobile apps expect it. Absent values
/// are omitted rather than sent as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecallItem {
    pub id: String,
    pub agency_code: AgencyCode,
    pub title: String,
    /// `YYYY-MM-DD`.
    pub recall_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_category: Option<RiskCategory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RecallStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_countries: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Relevance in `0..=1`; only set in search results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevance_score: Option<f64>,
}

impl RecallItem {
    /// Sets the relevance, clamped to `0..=1` (NaN becomes 0) so the
    /// contract's range holds whatever the ranking produced.
    pub fn with_relevance(mut self, score: f64) -> RecallItem {
        let score = if score.is_nan() { 0.0 } else { score.clamp(0.0, 1.0) };
        self.relevance_score = Some(score);
        self
    }
}

impl From<&Recall> for RecallItem {
    /// `upc` falls back to the first of `upcs`, so list views show a
    /// barcode whenever the recall has one.
    fn from(r: &Recall) -> RecallItem {
        RecallItem {
            id: r.id.as_str().to_owned(),
            agency_code: r.agency_code,
            title: r.title.clone(),
            recall_date: crate::ymd::format(r.recall_date),
            product_name: r.product_name.clone(),
            brand: r.brand.clone(),
            manufacturer: r.manufacturer.clone(),
            model: r.model.clone(),
            model_number: r.model_number.clone(),
            upc: r.upc.clone().or_else(|| r.upcs.first().cloned()),
            hazard: r.hazard.clone(),
            risk_category: r.risk_category,
            severity: r.severity,
            status: Some(r.status),
            image_url: r.image_url.clone(),
            affected_countries: r.affected_countries.clone(),
            country: r.country.clone(),
            last_updated: r.last_updated,
            source_url: r.source_url.clone(),
            description: r.description.clone(),
            url: r.url.clone(),
            relevance_score: None,
        }
    }
}
