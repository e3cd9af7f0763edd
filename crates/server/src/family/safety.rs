//! The safety check: is this product recalled, and is it a risk for this
//! child? Candidates come from the catalogue (barcode index, full-text
//! search); the domain rules score each match and find allergen and age
//! warnings; the verdict follows from both.

use babyshield_domain::{
    Gtin, Recall, RecallItem,
    safety::{self, Allergen, Match, MatchType, ProductQuery, Verdict},
};
use serde::{Deserialize, Serialize};

use super::{Family, members::MemberFacts, optional_text};
use crate::{accounts::AuthUser, error::ApiError};

const MAX_TEXT: usize = 200;
const MAX_MODEL: usize = 100;
/// Recalls considered per text search.
const CANDIDATES: u32 = 25;
/// Matches reported at most.
const MAX_MATCHES: usize = 10;

/// `POST /api/v1/safety-check`: a barcode or product text, and optionally
/// a family member to check allergies and age against.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SafetyCheckRequest {
    /// UPC/EAN/GTIN (8, 12, 13 or 14 digits, check digit verified).
    #[serde(default)]
    pub barcode: Option<String>,
    #[serde(default)]
    pub product_name: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// One of the caller's family members (needs a bearer token).
    #[serde(default)]
    pub member_id: Option<String>,
}

/// The product part of a request, validated.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// One recall that matches the product.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchedRecall {
    #[schema(value_type = Object)]
    pub recall: RecallItem,
    /// exact_gtin, model_number or fuzzy_name.
    #[schema(value_type = String)]
    pub match_type: MatchType,
    /// 0..1; 1 for an exact barcode.
    pub confidence: f32,
    /// Allergens the recall names as its problem (undeclared, may contain).
    #[schema(value_type = Vec<String>)]
    pub allergens: Vec<Allergen>,
    /// Age rules the recall falls under (e.g. small_parts).
    pub age_rules: Vec<String>,
}

/// An allergen problem of a matched recall that concerns the member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllergenWarning {
    pub recall_id: String,
    #[schema(value_type = String)]
    pub allergen: Allergen,
    /// The recall's words, e.g. "undeclared milk".
    pub evidence: String,
    pub message: String,
}

/// An age rule of a matched recall that concerns the member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgeWarningOut {
    pub recall_id: String,
    pub rule: String,
    pub under_months: u32,
    pub message: String,
}

/// The answer of a safety check.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SafetyReport {
    /// recalled, caution or no_known_recall.
    #[schema(value_type = String)]
    pub verdict: Verdict,
    /// One sentence for the parent.
    pub summary: String,
    pub product: ProductInput,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    pub matches: Vec<MatchedRecall>,
    pub allergen_warnings: Vec<AllergenWarning>,
    pub age_warnings: Vec<AgeWarningOut>,
    /// True when a member was given without a known age: age rules could
    /// not be checked.
    pub age_unknown: bool,
}

/// One barcode of a bulk search and its result.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkItem {
    pub barcode: String,
    /// ok, or invalid_barcode (then `error` says why).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub verdict: Option<Verdict>,
    #[schema(value_type = Vec<Object>)]
    pub recalls: Vec<RecallItem>,
}

/// A validated product query.
pub(super) struct Checked {
    pub input: ProductInput,
    pub query: ProductQuery,
}

pub(super) fn parse_barcode(field: &str, raw: &str) -> Result<Gtin, ApiError> {
    Gtin::parse(raw.trim()).map_err(|e| ApiError::invalid(field, e))
}

impl SafetyCheckRequest {
    pub(super) fn checked(&self) -> Result<Checked, ApiError> {
        let gtin = match self.barcode.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            Some(raw) => Some(parse_barcode("barcode", raw)?),
            None => None,
        };
        let input = ProductInput {
            barcode: gtin.as_ref().map(|g| g.as_str().to_string()),
            product_name: optional_text("productName", self.product_name.as_deref(), MAX_TEXT)?,
            brand: optional_text("brand", self.brand.as_deref(), MAX_TEXT)?,
            model: optional_text("model", self.model.as_deref(), MAX_MODEL)?,
        };
        if gtin.is_none() && input.product_name.is_none() && input.model.is_none() {
            return Err(ApiError::invalid("barcode", "give a barcode, a productName or a model"));
        }
        if let Some(name) = &input.product_name
            && name.chars().count() < 2
        {
            return Err(ApiError::invalid("productName", "must be at least 2 characters"));
        }
        let query = ProductQuery {
            gtin,
            name: input.product_name.clone(),
            brand: input.brand.clone(),
            model: input.model.clone(),
        };
        Ok(Checked { input, query })
    }
}

impl Family {
    /// Runs the check for a signed-in user (member and scan history) or an
    /// anonymous caller (no member).
    pub async fn safety_check(
        &self,
        user: Option<&AuthUser>,
        request: &SafetyCheckRequest,
        source: &'static str,
    ) -> Result<SafetyReport, ApiError> {
        let checked = request.checked()?;
        let member = match (&request.member_id, user) {
            (Some(_), None) => {
                return Err(ApiError::Unauthorized(
                    "checking for a family member needs a bearer token".into(),
                ));
            }
            (Some(id), Some(user)) => Some(self.member_facts(user, id.trim()).await?),
            (None, _) => None,
        };
        let report = self.check(checked, member.as_ref()).await?;
        if let Some(user) = user {
            self.record_check(user, source, &report).await?;
        }
        Ok(report)
    }

    /// The check itself, for a validated query.
    pub(super) async fn check(
        &self,
        checked: Checked,
        member: Option<&MemberFacts>,
    ) -> Result<SafetyReport, ApiError> {
        let candidates = self.candidates(&checked.query).await?;
        let mut scored: Vec<(Recall, Match)> = candidates
            .into_iter()
            .filter_map(|recall| safety::score_match(&checked.query, &recall).map(|m| (recall, m)))
            .collect();
        scored.sort_by(|(ra, a), (rb, b)| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(rb.recall_date.cmp(&ra.recall_date))
                .then(ra.id.as_str().cmp(rb.id.as_str()))
        });
        scored.truncate(MAX_MATCHES);

        let mut matches = Vec::with_capacity(scored.len());
        let mut allergen_warnings = Vec::new();
        let mut age_warnings = Vec::new();
        for (recall, m) in &scored {
            let findings = safety::allergen_findings(recall);
            if let Some(member) = member {
                for finding in findings.iter().filter(|f| member.allergens.contains(&f.allergen)) {
                    allergen_warnings.push(AllergenWarning {
                        recall_id: recall.id.as_str().to_string(),
                        allergen: finding.allergen,
                        evidence: finding.evidence.clone(),
                        message: format!(
                            "{}: {} is allergic to {}",
                            capitalize(&finding.evidence),
                            member.name,
                            finding.allergen.label()
                        ),
                    });
                }
                for warning in safety::age_warnings(recall, member.age_months) {
                    age_warnings.push(AgeWarningOut {
                        recall_id: recall.id.as_str().to_string(),
                        rule: warning.rule.to_string(),
                        under_months: warning.under_months,
                        message: format!(
                            "{} ({} is {} months old)",
                            warning.message,
                            member.name,
                            member.age_months.unwrap_or_default()
                        ),
                    });
                }
            }
            matches.push(MatchedRecall {
                recall: RecallItem::from(recall),
                match_type: m.match_type,
                confidence: m.confidence,
                allergens: findings.iter().map(|f| f.allergen).collect(),
                age_rules: safety::age_rules_for(recall).iter().map(|r| r.id.to_string()).collect(),
            });
        }
        let found: Vec<Match> = scored.iter().map(|(_, m)| *m).collect();
        let verdict = safety::verdict(&found, !allergen_warnings.is_empty() || !age_warnings.is_empty());
        let summary = summary(verdict, &matches, &allergen_warnings, &age_warnings);
        Ok(SafetyReport {
            verdict,
            summary,
            product: checked.input,
            member_id: member.map(|m| m.id.clone()),
            age_unknown: member.is_some_and(|m| m.age_months.is_none()),
            matches,
            allergen_warnings,
            age_warnings,
        })
    }

    /// Recalls that might be the product: every recall of its barcode, and
    /// the best text matches of its model and of its name and brand.
    async fn candidates(&self, query: &ProductQuery) -> Result<Vec<Recall>, ApiError> {
        let mut all: Vec<Recall> = Vec::new();
        let mut add = |found: Vec<Recall>| {
            for recall in found {
                if !all.iter().any(|r| r.id == recall.id) {
                    all.push(recall);
                }
            }
        };
        if let Some(gtin) = &query.gtin {
            add(self.catalogue.recalls_for_barcode(gtin).await?);
        }
        if let Some(model) = &query.model {
            add(self.catalogue.candidates(model, CANDIDATES).await?);
        }
        if let Some(name) = &query.name {
            let with_brand = match &query.brand {
                Some(brand) => format!("{brand} {name}"),
                None => name.clone(),
            };
            let found = self.catalogue.candidates(&with_brand, CANDIDATES).await?;
            if found.is_empty() && query.brand.is_some() {
                add(self.catalogue.candidates(name, CANDIDATES).await?);
            } else {
                add(found);
            }
        }
        Ok(all)
    }

    /// `POST /api/v1/search/bulk`: each barcode answered on its own; a bad
    /// one is reported in its slot, not by failing the whole call.
    pub async fn bulk(&self, barcodes: &[String]) -> Result<Vec<BulkItem>, ApiError> {
        if barcodes.is_empty() {
            return Err(ApiError::invalid("barcodes", "must not be empty"));
        }
        let max = self.config.bulk_max_barcodes;
        if barcodes.len() > max {
            return Err(ApiError::invalid("barcodes", format!("at most {max} per call")));
        }
        let mut out = Vec::with_capacity(barcodes.len());
        for raw in barcodes {
            let shown: String = raw.chars().take(32).collect();
            match Gtin::parse(raw.trim()) {
                Err(e) => out.push(BulkItem {
                    barcode: shown,
                    status: "invalid_barcode",
                    error: Some(e.to_string()),
                    verdict: None,
                    recalls: Vec::new(),
                }),
                Ok(gtin) => {
                    let recalls = self.catalogue.recalls_for_barcode(&gtin).await?;
                    let verdict = if recalls.is_empty() { Verdict::NoKnownRecall } else { Verdict::Recalled };
                    out.push(BulkItem {
                        barcode: shown,
                        status: "ok",
                        error: None,
                        verdict: Some(verdict),
                        recalls: recalls.iter().map(RecallItem::from).collect(),
                    });
                }
            }
        }
        Ok(out)
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn summary(
    verdict: Verdict,
    matches: &[MatchedRecall],
    allergens: &[AllergenWarning],
    ages: &[AgeWarningOut],
) -> String {
    let mut text = match (verdict, matches.first()) {
        (Verdict::Recalled, Some(m)) => format!(
            "Recalled: {} ({}, {})",
            m.recall.title,
            m.recall.agency_code.as_str(),
            m.recall.recall_date
        ),
        (Verdict::Caution, Some(m)) => format!("Caution: this may be the recalled \"{}\"", m.recall.title),
        _ => "No known recall for this product".to_string(),
    };
    for warning in allergens.iter().take(3) {
        text.push_str("; ");
        text.push_str(&warning.message);
    }
    for warning in ages.iter().take(2) {
        text.push_str("; ");
        text.push_str(&warning.message);
    }
    text
}
