use serde_json::{Value, json};
use time::macros::date;

use super::*;

fn parse(body: Value) -> Result<AdvancedSearch, SearchRequestError> {
    AdvancedSearch::from_json(body)
}

fn error(body: Value) -> String {
    parse(body).unwrap_err().to_string()
}

#[test]
fn minimal_query_gets_default_paging() {
    let search = parse(json!({"query": "  crib  "})).unwrap();
    assert_eq!(search.text.as_deref(), Some("crib"));
    assert_eq!((search.limit, search.offset), (20, 0));
    assert_eq!(search.filters, RecallFilters::default());
    assert!(search.cursor.is_none() && search.keywords.is_empty() && search.id.is_none());
}

#[test]
fn every_field_and_alias_is_read() {
    let search = parse(json!({
        "product": "baby monitor", "keywords": [" fire ", "battery"], "id": "EU_SAFETY_GATE-A12/00345/24",
        "agency": "EU RAPEX", "risk_level": "critical", "product_category": "baby product",
        "date_from": "2024-01-01", "date_to": "2024-12-31", "limit": 50, "offset": 40,
        "nextCursor": "abc",
    }))
    .unwrap();
    assert_eq!(search.text.as_deref(), Some("baby monitor"));
    assert_eq!(search.keywords, ["fire", "battery"]);
    assert_eq!(search.id.unwrap().as_str(), "EU_SAFETY_GATE-A12/00345/24");
    assert_eq!(search.filters.agencies, [AgencyCode::parse("EU_SAFETY_GATE").unwrap()]);
    assert_eq!(search.filters.severity, Some(Severity::Critical));
    assert_eq!(search.filters.risk_category, Some(RiskCategory::BabyProduct));
    assert_eq!(search.filters.date_from, Some(date!(2024 - 01 - 01)));
    assert_eq!(search.filters.date_to, Some(date!(2024 - 12 - 31)));
    assert_eq!((search.limit, search.offset), (50, 40));
    assert_eq!(search.cursor.as_deref(), Some("abc"));
}

#[test]
fn unknown_fields_are_all_listed_sorted() {
    let err = parse(json!({"query": "crib", "zeta": 1, "alpha": 2})).unwrap_err();
    assert_eq!(err, SearchRequestError::UnknownFields(vec!["alpha".into(), "zeta".into()]));
}

#[test]
fn one_text_criterion_is_required() {
    assert_eq!(error(json!({"agency": "FDA"})), "query: one of query, product, keywords or id is required");
    assert_eq!(
        error(json!({"query": null, "keywords": []})),
        "query: one of query, product, keywords or id is required"
    );
    assert!(parse(json!({"keywords": ["milk"]})).is_ok());
    assert!(parse(json!({"id": "CPSC-1"})).is_ok());
}

#[test]
fn out_of_range_and_mistyped_values_name_the_field() {
    assert_eq!(error(json!({"query": "crib", "limit": 0})), "limit: must be between 1 and 50");
    assert_eq!(error(json!({"query": "crib", "limit": 51})), "limit: must be between 1 and 50");
    assert_eq!(error(json!({"query": "crib", "limit": 2.5})), "limit: must be an integer");
    assert_eq!(error(json!({"query": "crib", "offset": -1})), "offset: must be between 0 and 10000");
    assert_eq!(error(json!({"query": "crib", "offset": 10_001})), "offset: must be between 0 and 10000");
    assert_eq!(error(json!({"query": 5})), "query: must be a string");
    assert_eq!(error(json!({"query": "c"})), "query: must be at least 2 characters");
    assert_eq!(error(json!({"query": "c".repeat(201)})), "query: must be at most 200 characters");
    assert_eq!(error(json!({"keywords": "milk"})), "keywords: must be an array of strings");
    assert_eq!(error(json!({"keywords": ["milk", " "]})), "keywords[1]: must not be empty");
    assert_eq!(error(json!({"keywords": vec!["k"; 11]})), "keywords: must have at most 10 items");
    assert_eq!(error(json!({"keywords": ["k".repeat(51)]})), "keywords[0]: must be at most 50 characters");
    assert_eq!(error(json!({"id": "../x"})), "id: recall id must not contain a '..' segment");
    assert_eq!(
        error(json!({"query": "crib", "agencies": ["FDA", "ACME"]})),
        "agencies[1]: unknown agency code 'ACME'"
    );
    assert_eq!(
        error(json!({"query": "crib", "severity": "severe"})),
        "severity: must be one of low, medium, high, critical, got 'severe'"
    );
    assert_eq!(
        error(json!({"query": "crib", "date_to": "2024/01/01"})),
        "date_to: must be a date in YYYY-MM-DD format"
    );
    assert_eq!(
        error(json!({"query": "crib", "nextCursor": "x".repeat(1025)})),
        "nextCursor: must be at most 1024 characters"
    );
    assert_eq!(error(json!(["crib"])), "body: must be a JSON object");
}

#[test]
fn numeric_strings_and_integral_floats_are_accepted_for_paging() {
    let search = parse(json!({"query": "crib", "limit": "10", "offset": 5.0})).unwrap();
    assert_eq!((search.limit, search.offset), (10, 5));
}

#[test]
fn conflicting_aliases_and_inverted_dates_are_rejected() {
    assert_eq!(
        error(json!({"query": "crib", "product": "cot"})),
        "product: conflicts with query; send only one of them"
    );
    assert!(parse(json!({"query": "crib", "product": " crib "})).is_ok());
    assert_eq!(
        error(json!({"query": "crib", "agency": "FDA", "agencies": ["CPSC"]})),
        "agency: send either agency or agencies, not both"
    );
    assert_eq!(
        error(json!({"query": "crib", "severity": "low", "risk_level": "high"})),
        "risk_level: conflicts with severity; send only one of them"
    );
    assert_eq!(
        error(json!({"query": "crib", "date_from": "2024-02-01", "date_to": "2024-01-31"})),
        "date_from: must not be after date_to"
    );
    assert!(parse(json!({"query": "crib", "date_from": "2024-02-01", "date_to": "2024-02-01"})).is_ok());
}

#[test]
fn agencies_are_normalized_and_deduplicated() {
    let search = parse(json!({"query": "crib", "agencies": ["FDA-Food", "openFDA", "cpsc"]})).unwrap();
    let codes: Vec<&str> = search.filters.agencies.iter().map(|a| a.as_str()).collect();
    assert_eq!(codes, ["FDA", "CPSC"]);
}

#[test]
fn fingerprint_ignores_paging_but_not_criteria() {
    let base = parse(json!({"query": "crib", "agencies": ["FDA", "CPSC"]})).unwrap();
    let paged = parse(
        json!({"query": "crib", "agencies": ["CPSC", "FDA"], "limit": 5, "offset": 10, "nextCursor": "x"}),
    )
    .unwrap();
    assert_eq!(base.fingerprint(), paged.fingerprint());
    for other in [
        json!({"query": "cribs", "agencies": ["FDA", "CPSC"]}),
        json!({"query": "crib", "agencies": ["FDA"]}),
        json!({"query": "crib", "agencies": ["FDA", "CPSC"], "severity": "low"}),
        json!({"query": "crib", "agencies": ["FDA", "CPSC"], "date_from": "2024-01-01"}),
        json!({"query": "crib", "agencies": ["FDA", "CPSC"], "date_to": "2024-01-01"}),
        json!({"query": "crib", "agencies": ["FDA", "CPSC"], "keywords": ["milk"]}),
    ] {
        assert_ne!(parse(other.clone()).unwrap().fingerprint(), base.fingerprint(), "{other}");
    }
}

#[test]
fn parse_terms_merges_text_and_keywords_without_duplicates() {
    let keywords = vec!["Milk".to_owned(), "peanut butter".to_owned()];
    assert_eq!(parse_terms(Some("Crème milk"), &keywords), ["creme", "milk", "peanut", "butter"]);
    assert!(parse_terms(None, &[]).is_empty());
    let long: String = (0..40).map(|i| format!("w{i} ")).collect();
    assert_eq!(parse_terms(Some(&long), &[]).len(), MAX_TERMS);
}
