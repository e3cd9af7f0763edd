//! Reading a recall from JSON field by field.
//!
//! A derived deserializer reports type errors by line and column only; an
//! import of millions of lines needs the *field* that is wrong, so each field
//! is read and validated on its own.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Recall, RecallId, RecallStatus, RiskCategory, Severity};
use crate::agency::AgencyCode;

/// Why a recall was rejected. `Invalid` names the field, e.g.
/// `upcs[1]: barcode check digit is wrong: expected 5, found 3`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecallError {
    #[error("invalid JSON: {0}")]
    Syntax(String),
    #[error("a recall must be a JSON object")]
    NotAnObject,
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl RecallError {
    pub(super) fn invalid(field: impl Into<String>, message: impl ToString) -> RecallError {
        RecallError::Invalid { field: field.into(), message: message.to_string() }
    }
}

/// The fields of RECALL_FORMAT.md, in its order.
const FIELDS: &[&str] = &[
    "id",
    "agencyCode",
    "title",
    "recallDate",
    "productName",
    "brand",
    "manufacturer",
    "model",
    "modelNumber",
    "upc",
    "upcs",
    "modelNumbers",
    "hazard",
    "hazardCategory",
    "recallReason",
    "riskCategory",
    "severity",
    "recallClass",
    "status",
    "remedy",
    "lotNumber",
    "batchNumber",
    "description",
    "imageUrl",
    "sourceUrl",
    "url",
    "country",
    "affectedCountries",
    "regionsAffected",
    "lastUpdated",
];

pub(super) fn from_json_str(line: &str) -> Result<Recall, RecallError> {
    let value: Value = serde_json::from_str(line).map_err(|e| RecallError::Syntax(e.to_string()))?;
    from_value(value)
}

/// Builds a recall from a JSON value without normalizing it.
pub(super) fn from_value(value: Value) -> Result<Recall, RecallError> {
    let Value::Object(map) = value else {
        return Err(RecallError::NotAnObject);
    };
    let mut f = Fields::new(map)?;
    let mut recall = Recall::new(
        f.required("id", |s| RecallId::parse(s.trim()))?,
        f.required("agencyCode", AgencyCode::parse)?,
        f.required("title", |s| Ok::<_, String>(s.to_owned()))?,
        f.required("recallDate", |s| crate::ymd::parse(s.trim()).ok_or("expected YYYY-MM-DD"))?,
    );
    recall.product_name = f.string("productName")?;
    recall.brand = f.string("brand")?;
    recall.manufacturer = f.string("manufacturer")?;
    recall.model = f.string("model")?;
    recall.model_number = f.string("modelNumber")?;
    recall.upc = f.string("upc")?;
    recall.upcs = f.strings("upcs")?;
    recall.model_numbers = f.strings("modelNumbers")?;
    recall.hazard = f.string("hazard")?;
    recall.hazard_category = f.string("hazardCategory")?;
    recall.recall_reason = f.string("recallReason")?;
    recall.risk_category = f.parsed("riskCategory", RiskCategory::parse)?;
    recall.severity = f.parsed("severity", Severity::parse)?;
    recall.recall_class = f.string("recallClass")?;
    recall.status = f.parsed("status", RecallStatus::parse)?.unwrap_or_default();
    recall.remedy = f.string("remedy")?;
    recall.lot_number = f.string("lotNumber")?;
    recall.batch_number = f.string("batchNumber")?;
    recall.description = f.string("description")?;
    recall.image_url = f.string("imageUrl")?;
    recall.source_url = f.string("sourceUrl")?;
    recall.url = f.string("url")?;
    recall.country = f.string("country")?;
    recall.affected_countries = f.strings("affectedCountries")?;
    recall.regions_affected = f.strings("regionsAffected")?;
    recall.last_updated = f.parsed("lastUpdated", |s| {
        OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| "expected an RFC 3339 timestamp")
    })?;
    Ok(recall)
}

/// The object's members, consumed one known field at a time.
struct Fields(Map<String, Value>);

impl Fields {
    fn new(map: Map<String, Value>) -> Result<Fields, RecallError> {
        if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(RecallError::UnknownField(unknown.chars().take(64).collect()));
        }
        Ok(Fields(map))
    }

    /// The member's value; `null` counts as absent.
    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).filter(|v| !v.is_null())
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, RecallError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(RecallError::invalid(name, "must be a string")),
        }
    }

    fn strings(&mut self, name: &str) -> Result<Vec<String>, RecallError> {
        let items = match self.take(name) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(RecallError::invalid(name, "must be an array of strings")),
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                _ => Err(RecallError::invalid(format!("{name}[{i}]"), "must be a string")),
            })
            .collect()
    }

    fn parsed<T, E: ToString>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, RecallError> {
        match self.string(name)? {
            None => Ok(None),
            Some(s) => parse(&s).map(Some).map_err(|e| RecallError::invalid(name, e)),
        }
    }

    fn required<T, E: ToString>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, RecallError> {
        self.parsed(name, parse)?.ok_or(RecallError::MissingField(name))
    }
}
