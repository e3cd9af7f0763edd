use serde_json::json;
use time::macros::{date, datetime};

use super::*;

fn line(extra: serde_json::Value) -> String {
    let mut base = json!({
        "id": "CPSC-24123",
        "agencyCode": "CPSC",
        "title": "Crib Recall",
        "recallDate": "2024-05-22",
    });
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    base.to_string()
}

fn error_of(extra: serde_json::Value) -> String {
    Recall::from_json_line(&line(extra)).unwrap_err().to_string()
}

#[test]
fn minimal_line_parses_with_defaults() {
    let recall = Recall::from_json_line(&line(json!({}))).unwrap();
    assert_eq!(recall.id.as_str(), "CPSC-24123");
    assert_eq!(recall.agency_code.as_str(), "CPSC");
    assert_eq!(recall.recall_date, date!(2024 - 05 - 22));
    assert_eq!(recall.status, RecallStatus::Open);
    assert!(recall.upcs.is_empty() && recall.brand.is_none());
}

#[test]
fn import_normalizes_agency_spelling_trims_and_drops_empty_strings() {
    let recall = Recall::from_json_line(&line(json!({
        "agencyCode": "EU RAPEX",
        "title": "  Stroller  ",
        "brand": "   ",
        "hazard": " Fall hazard ",
        "modelNumbers": [" A1 ", "", "A1", "B2"],
        "severity": "High",
        "riskCategory": "baby_product",
        "status": "closed",
        "lastUpdated": "2024-06-01T10:00:00Z",
        "recallClass": null,
    })))
    .unwrap();
    assert_eq!(recall.agency_code.as_str(), "EU_SAFETY_GATE");
    assert_eq!(recall.title, "Stroller");
    assert_eq!(recall.brand, None);
    assert_eq!(recall.recall_class, None, "null counts as absent");
    assert_eq!(recall.hazard.as_deref(), Some("Fall hazard"));
    assert_eq!(recall.model_numbers, ["A1", "B2"]);
    assert_eq!(recall.severity, Some(Severity::High));
    assert_eq!(recall.risk_category, Some(RiskCategory::BabyProduct));
    assert_eq!(recall.status, RecallStatus::Closed);
    assert_eq!(recall.last_updated, Some(datetime!(2024-06-01 10:00 UTC)));
}

#[test]
fn upc_is_merged_into_upcs_and_equivalent_forms_deduplicated() {
    let recall = Recall::from_json_line(&line(json!({
        "upc": "0 12345 67890 5",
        "upcs": ["4006381333931", "0012345678905", "04006381333931"],
    })))
    .unwrap();
    assert_eq!(recall.upc.as_deref(), Some("012345678905"));
    assert_eq!(recall.upcs, ["012345678905", "4006381333931"]);
    let gtins: Vec<String> = recall.gtins().iter().map(Gtin::to_string).collect();
    assert_eq!(gtins, ["00012345678905", "04006381333931"]);
}

#[test]
fn invalid_barcode_error_names_its_position() {
    let err = error_of(json!({"upcs": ["012345678905", "012345678903"]}));
    assert_eq!(err, "upcs[1]: barcode check digit is wrong: expected 5, found 3");
    let err = error_of(json!({"upc": "12345"}));
    assert_eq!(err, "upc: barcode must have 8, 12, 13 or 14 digits, got 5");
}

#[test]
fn field_errors_name_the_field() {
    assert_eq!(error_of(json!({"recallDate": "22/05/2024"})), "recallDate: expected YYYY-MM-DD");
    assert_eq!(error_of(json!({"foo": 1})), "unknown field `foo`");
    assert_eq!(error_of(json!({"brand": 5})), "brand: must be a string");
    assert_eq!(error_of(json!({"upcs": "012345678905"})), "upcs: must be an array of strings");
    assert_eq!(error_of(json!({"agencyCode": "ACME"})), "agencyCode: unknown agency code 'ACME'");
    assert_eq!(error_of(json!({"title": " "})), "title: must not be empty");
    assert_eq!(error_of(json!({"title": "x".repeat(501)})), "title: must be at most 500 characters");
    assert_eq!(error_of(json!({"url": "javascript:alert(1)"})), "url: must be an http:// or https:// URL");
    assert_eq!(
        error_of(json!({"severity": "severe"})),
        "severity: must be one of low, medium, high, critical, got 'severe'"
    );
    assert_eq!(error_of(json!({"id": "/etc"})), "id: recall id must not start with '/'");
    assert_eq!(error_of(json!({"lastUpdated": "yesterday"})), "lastUpdated: expected an RFC 3339 timestamp");
}

#[test]
fn missing_required_fields_and_bad_json_are_reported() {
    let err = Recall::from_json_line(r#"{"id":"CPSC-1","agencyCode":"CPSC","recallDate":"2024-01-01"}"#);
    assert_eq!(err.unwrap_err(), RecallError::MissingField("title"));
    assert!(matches!(Recall::from_json_line("{"), Err(RecallError::Syntax(_))));
    assert_eq!(Recall::from_json_line("[]"), Err(RecallError::NotAnObject));
}

#[test]
fn description_may_be_long_but_other_text_may_not() {
    assert!(Recall::from_json_line(&line(json!({"description": "d".repeat(20_000)}))).is_ok());
    assert!(Recall::from_json_line(&line(json!({"description": "d".repeat(20_001)}))).is_err());
    assert_eq!(error_of(json!({"remedy": "r".repeat(2_001)})), "remedy: must be at most 2000 characters");
}

#[test]
fn serialized_recall_reads_back_identically() {
    let recall = Recall::from_json_line(&line(json!({
        "productName": "Dream Crib", "brand": "ACME", "manufacturer": "ACME Ltd",
        "model": "DC", "modelNumber": "DC-1", "upc": "012345678905",
        "modelNumbers": ["DC-1", "DC-2"], "hazard": "Fall", "hazardCategory": "fall",
        "recallReason": "Slats break", "riskCategory": "baby_product", "severity": "critical",
        "recallClass": "Class I", "status": "open", "remedy": "Refund", "lotNumber": "L1",
        "batchNumber": "B1", "description": "Long text", "imageUrl": "https://x.test/i.png",
        "sourceUrl": "https://x.test/s", "url": "http://x.test/u", "country": "United States",
        "affectedCountries": ["US", "CA"], "regionsAffected": ["Nationwide"],
        "lastUpdated": "2024-06-01T10:00:00+02:00",
    })))
    .unwrap();
    let json = serde_json::to_string(&recall).unwrap();
    assert_eq!(Recall::from_json_line(&json).unwrap(), recall);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["recallDate"], "2024-05-22");
    assert_eq!(value["riskCategory"], "baby_product");
    assert_eq!(value.as_object().unwrap().len(), 30, "every format field is written");
    let via_serde: Recall = serde_json::from_value(value).unwrap();
    assert_eq!(via_serde, recall);
    let minimal = Recall::from_json_line(&line(json!({}))).unwrap();
    let stored: Recall = serde_json::from_str(&serde_json::to_string(&minimal).unwrap()).unwrap();
    assert_eq!(stored, minimal, "fields left out of the JSON read back empty");
}

#[test]
fn reading_a_stored_recall_still_checks_each_fields_type() {
    let recall = Recall::from_json_line(&line(json!({"severity": "high"}))).unwrap();
    let good = serde_json::to_value(&recall).unwrap();
    for (field, bad) in [
        ("id", json!("no prefix")),
        ("agencyCode", json!("NOT_AN_AGENCY")),
        ("recallDate", json!("2024-02-30")),
        ("severity", json!("severe")),
        ("lastUpdated", json!("yesterday")),
    ] {
        let mut value = good.clone();
        value[field] = bad;
        assert!(serde_json::from_value::<Recall>(value).is_err(), "a bad {field} reads back");
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("title");
    assert!(serde_json::from_value::<Recall>(missing).unwrap_err().to_string().contains("title"));
}

#[test]
fn empty_fields_are_left_out_of_the_detail_json() {
    let recall = Recall::from_json_line(&line(json!({}))).unwrap();
    let value = serde_json::to_value(&recall).unwrap();
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["agencyCode", "id", "recallDate", "status", "title"]);
}

#[test]
fn recall_item_has_the_list_shape() {
    let recall = Recall::from_json_line(&line(json!({
        "upcs": ["012345678905"], "remedy": "Refund", "severity": "high",
        "lastUpdated": "2024-06-01T10:00:00Z",
    })))
    .unwrap();
    let item = RecallItem::from(&recall).with_relevance(1.7);
    let value = serde_json::to_value(&item).unwrap();
    assert_eq!(value["recallDate"], "2024-05-22");
    assert_eq!(value["upc"], "012345678905");
    assert_eq!(value["status"], "open");
    assert_eq!(value["severity"], "high");
    assert_eq!(value["lastUpdated"], "2024-06-01T10:00:00Z");
    assert_eq!(value["relevanceScore"], 1.0);
    assert!(value.get("remedy").is_none(), "detail-only fields stay out of lists");
    assert!(RecallItem::from(&recall).relevance_score.is_none());
}

#[test]
fn search_document_separates_title_words_from_the_rest() {
    let recall = Recall::from_json_line(&line(json!({
        "productName": "Dream Crib", "brand": "Acmé", "recallReason": "Undeclared MILK",
        "upcs": ["012345678905"], "modelNumbers": ["DC-2"],
    })))
    .unwrap();
    let doc = recall.search_document();
    assert_eq!(doc.title, "crib recall dream crib acme");
    assert!(doc.body.contains("undeclared milk"));
    assert!(doc.body.contains("012345678905"));
    assert!(doc.body.contains("dc 2"));
    assert!(doc.body.contains("cpsc"));
}
