//! The normalized recall (docs/RECALL_FORMAT.md) and its list view.
//!
//! Every source is converted into [`Recall`] and passed through
//! [`Recall::normalize`], so storage, search and the API only ever see
//! trimmed, length-checked values with verified barcodes.

mod id;
mod import;
mod item;
mod kinds;
mod normalize;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::agency::AgencyCode;
use crate::gtin::Gtin;
use crate::text::SearchDocument;

pub use id::{InvalidRecallId, MAX_RECALL_ID_LEN, RecallId};
pub use import::RecallError;
pub use item::RecallItem;
pub use kinds::{InvalidValue, RecallStatus, RiskCategory, Severity};
pub use normalize::{MAX_DESCRIPTION_LEN, MAX_LIST_LEN, MAX_TEXT_LEN, MAX_TITLE_LEN};

/// One recall in BabyShield's normalized format; serializes as the
/// contract's recall *detail* shape.
///
/// Fields are public so ingesters can build one, but only a value returned
/// by [`Recall::normalize`] should be stored.
///
/// Deserializing reads back what serializing wrote: the stored documents of
/// the catalogue, already normalized when they were written. Each field's
/// own type still checks its value (id, agency, dates, closed vocabularies),
/// but the import rules are not applied again; JSON from outside goes
/// through [`Recall::from_json_line`], which applies them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recall {
    pub id: RecallId,
    pub agency_code: AgencyCode,
    pub title: String,
    #[serde(serialize_with = "crate::ymd::serialize", deserialize_with = "crate::ymd::deserialize")]
    pub recall_date: Date,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upc: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upcs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_numbers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hazard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hazard_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_category: Option<RiskCategory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_class: Option<String>,
    pub status: RecallStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_countries: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions_affected: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
}

impl Recall {
    /// A recall with only the required fields set; ingesters fill in the
    /// rest and then call [`Recall::normalize`].
    pub fn new(id: RecallId, agency_code: AgencyCode, title: impl Into<String>, recall_date: Date) -> Recall {
        Recall {
            id,
            agency_code,
            title: title.into(),
            recall_date,
            product_name: None,
            brand: None,
            manufacturer: None,
            model: None,
            model_number: None,
            upc: None,
            upcs: Vec::new(),
            model_numbers: Vec::new(),
            hazard: None,
            hazard_category: None,
            recall_reason: None,
            risk_category: None,
            severity: None,
            recall_class: None,
            status: RecallStatus::Open,
            remedy: None,
            lot_number: None,
            batch_number: None,
            description: None,
            image_url: None,
            source_url: None,
            url: None,
            country: None,
            affected_countries: Vec::new(),
            regions_affected: Vec::new(),
            last_updated: None,
        }
    }

    /// Parses one line of the JSON Lines import and normalizes it. Errors
    /// name the offending field so a bad line can be fixed at the source.
    pub fn from_json_line(line: &str) -> Result<Recall, RecallError> {
        import::from_json_str(line)?.normalize()
    }

    /// Every barcode of the recall as GTINs, de-duplicated. Barcodes that do
    /// not parse are skipped (a normalized recall has none).
    pub fn gtins(&self) -> Vec<Gtin> {
        let mut gtins = Vec::new();
        for code in self.upc.iter().chain(&self.upcs) {
            if let Ok(gtin) = Gtin::parse(code)
                && !gtins.contains(&gtin)
            {
                gtins.push(gtin);
            }
        }
        gtins
    }

    /// The recall's searchable text: title words apart from the rest so that
    /// title hits can rank higher.
    pub fn search_document(&self) -> SearchDocument {
        let title = [Some(self.title.as_str()), self.product_name.as_deref(), self.brand.as_deref()];
        let singles = [
            self.manufacturer.as_deref(),
            self.model.as_deref(),
            self.model_number.as_deref(),
            self.hazard.as_deref(),
            self.hazard_category.as_deref(),
            self.recall_reason.as_deref(),
            self.description.as_deref(),
            self.remedy.as_deref(),
            self.upc.as_deref(),
            self.lot_number.as_deref(),
            self.batch_number.as_deref(),
            Some(self.agency_code.as_str()),
            self.country.as_deref(),
        ];
        let lists = self.model_numbers.iter().chain(&self.upcs).map(|s| Some(s.as_str()));
        SearchDocument::from_parts(title, singles.into_iter().chain(lists))
    }
}
