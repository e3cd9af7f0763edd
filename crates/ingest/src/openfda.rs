//! openFDA enforcement reports (`/food|drug|device/enforcement.json`):
//! `{meta: {results: {skip, limit, total}}, results: [...]}`.

use babyshield_domain::text::tokenize;
use babyshield_domain::{AgencyCode, Recall, RecallId, RecallStatus, RiskCategory};
use serde_json::Value;

use crate::barcodes::Barcodes;
use crate::error::{PageError, RecordError};
use crate::hazard::{hazard_category, severity_from_fda_class};
use crate::html::collapse_whitespace;
use crate::limits::fit_and_normalize;
use crate::page::{PageBuilder, ParsedPage};
use crate::record::SourceRecord;
use crate::source::Source;

/// Longest title taken from a product description, before the firm.
const TITLE_SENTENCE_LEN: usize = 200;

pub(crate) fn parse_page(source: Source, body: &[u8]) -> Result<ParsedPage, PageError> {
    let value: Value = serde_json::from_slice(body).map_err(PageError::json)?;
    let Value::Object(page) = value else {
        return Err(PageError::Shape("an openFDA object with `results`"));
    };
    if let Some(error) = page.get("error") {
        return no_matches_or_error(error);
    }
    let Some(Value::Array(items)) = page.get("results") else {
        return Err(PageError::Shape("an openFDA object with a `results` array"));
    };
    let total = page.get("meta").and_then(|m| m.pointer("/results/total")).and_then(Value::as_u64);
    let mut builder = PageBuilder::default();
    for (index, item) in items.iter().enumerate() {
        let id = SourceRecord::from_value(item).ok().and_then(|r| r.text("recall_number").ok().flatten());
        builder.push(index, id, map_recall(source, item));
    }
    Ok(builder.finish(total))
}

/// openFDA answers a search with no hits with a `NOT_FOUND` error body; that
/// is an empty page, not a failure.
fn no_matches_or_error(error: &Value) -> Result<ParsedPage, PageError> {
    let code = error.get("code").and_then(Value::as_str).unwrap_or_default();
    if code == "NOT_FOUND" {
        return Ok(PageBuilder::default().finish(Some(0)));
    }
    let message = error.get("message").and_then(Value::as_str).unwrap_or("no message");
    Err(PageError::Upstream(format!("{code}: {}", message.chars().take(200).collect::<String>())))
}

fn map_recall(source: Source, item: &Value) -> Result<Recall, RecordError> {
    let r = SourceRecord::from_value(item)?;
    let number = r.required_text("recall_number")?;
    let id = RecallId::parse(&format!("FDA-{number}"))
        .map_err(|e| RecordError::new("recall_number", e.to_string()))?;
    let description = r.text("product_description")?.map(|d| collapse_whitespace(&d));
    let firm = r.text("recalling_firm")?;
    let sentence = description
        .as_deref()
        .map(first_sentence)
        .ok_or_else(|| RecordError::new("product_description", "missing"))?;
    let title = match &firm {
        Some(firm) => format!("{sentence} ({firm})"),
        None => sentence.clone(),
    };
    let recall_date = match r.date("recall_initiation_date")? {
        Some(date) => date,
        None => r
            .date("report_date")?
            .ok_or_else(|| RecordError::new("recall_initiation_date", "missing (and no report_date)"))?,
    };
    let agency = AgencyCode::parse("FDA").expect("FDA is in the agency table");
    let mut recall = Recall::new(id, agency, title, recall_date);

    recall.product_name = Some(sentence);
    recall.manufacturer = firm;
    if let Some(class) = r.text("classification")? {
        recall.severity = severity_from_fda_class(&class);
        recall.recall_class = Some(class);
    }
    recall.status = match r.text("status")?.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("terminated" | "completed") => RecallStatus::Closed,
        _ => RecallStatus::Open,
    };
    recall.recall_reason = r.text("reason_for_recall")?.map(|s| collapse_whitespace(&s));
    recall.hazard_category = recall.recall_reason.as_deref().map(|s| hazard_category(s).to_owned());
    let code_info = r.text("code_info")?.map(|c| collapse_whitespace(&c));
    recall.lot_number = code_info.clone().filter(|c| names_lots(c));
    let mut barcodes = Barcodes::default();
    for text in code_info.iter().chain(&description) {
        barcodes.add_from_text(text);
    }
    recall.upcs = barcodes.into_vec();
    recall.risk_category =
        Some(risk_category(source, r.text("product_type")?.as_deref(), description.as_deref()));
    recall.description = description;
    recall.country = Some(agency.agency().country.to_owned());
    recall.regions_affected =
        r.text("distribution_pattern")?.map(|d| collapse_whitespace(&d)).into_iter().collect();
    fit_and_normalize(recall)
}

/// Up to the first sentence end (a period, `!` or `?` followed by a space
/// and a capital, or a line break), at most [`TITLE_SENTENCE_LEN`] chars.
/// "16 oz. bags" does not end a sentence.
fn first_sentence(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut end = chars.len();
    for i in 0..chars.len() {
        let ends = matches!(chars[i], '.' | '!' | '?')
            && chars.get(i + 1) == Some(&' ')
            && chars.get(i + 2).is_some_and(|c| c.is_uppercase());
        if ends || chars[i] == '\n' {
            end = i;
            break;
        }
    }
    let sentence: String = chars[..end].iter().collect();
    let sentence = sentence.trim().trim_end_matches(['.', ',', ';', ':']).trim();
    crate::limits::clip(sentence, TITLE_SENTENCE_LEN)
}

/// Whether `code_info` names lots or batches (rather than only dates or
/// barcodes).
fn names_lots(code_info: &str) -> bool {
    tokenize(code_info).iter().any(|t| matches!(t.as_str(), "lot" | "lots" | "batch" | "batches"))
}

/// `product_type` when it says, else the endpoint the page came from. Food
/// reports that describe a dietary supplement count as supplements.
fn risk_category(source: Source, product_type: Option<&str>, description: Option<&str>) -> RiskCategory {
    let kind = product_type.map(str::to_ascii_lowercase).unwrap_or_default();
    let category = if kind.contains("food") {
        RiskCategory::Food
    } else if kind.contains("drug") || kind.contains("biolog") {
        RiskCategory::Drug
    } else if kind.contains("device") {
        RiskCategory::Device
    } else if kind.contains("cosmetic") {
        RiskCategory::Cosmetic
    } else {
        match source {
            Source::FdaDrug => RiskCategory::Drug,
            Source::FdaDevice => RiskCategory::Device,
            _ => RiskCategory::Food,
        }
    };
    let supplement = description.is_some_and(|d| d.to_ascii_lowercase().contains("dietary supplement"));
    if category == RiskCategory::Food && supplement { RiskCategory::Supplement } else { category }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sentence_stops_at_a_real_sentence_end() {
        assert_eq!(first_sentence("Peanut Bars, 16 oz. bags. Sold in cartons."), "Peanut Bars, 16 oz. bags");
        assert_eq!(first_sentence("One line\nsecond"), "One line");
        let long = first_sentence(&"word ".repeat(100));
        assert!(long.chars().count() <= 200 && long.ends_with("word…"), "{long}");
    }

    #[test]
    fn lots_are_recognized_only_when_named() {
        assert!(names_lots("Lot #: A123, Exp 12/2025"));
        assert!(names_lots("Batch numbers 44-1, 44-2"));
        assert!(!names_lots("UPC 0 12345 67890 5; best by 2025-01-01"));
    }
}
