mod common;

use babyshield_ingest::{PageError, Source, parse_health_canada_detail, parse_page};
use common::{Expect, Key, assert_normalized, assert_records, fixture};

fn minimal(id: &'static str, title: &'static str, date: &'static str, risk: &'static str) -> Expect {
    Expect::Ok(Key {
        id,
        agency: "HEALTH_CANADA",
        title,
        date,
        severity: None,
        risk: Some(risk),
        upcs: vec![],
        models: vec![],
        status: "open",
        reason: None,
    })
}

#[test]
fn recent_list_parses_all_then_adds_category_only_recalls() {
    let page = parse_page(Source::HealthCanada, &fixture("health_canada_recent.json")).unwrap();
    assert_records(
        &page,
        &[
            minimal(
                "HEALTH_CANADA-RA-75002",
                "Crunchy Oat Granola recalled due to undeclared milk",
                "2024-03-02",
                "food",
            ),
            minimal(
                "HEALTH_CANADA-RA-75003",
                "Certain children's cough syrups recalled",
                "2024-03-03",
                "drug",
            ),
            Expect::Err(
                "record 3 (RA-75004): date_published: date -1199-02-15 is out of range (1900..=2100)",
            ),
            // Listed twice in ALL: the later entry wins.
            minimal(
                "HEALTH_CANADA-RA-75001",
                "Certain Snuggle Bassinets recalled due to suffocation and fall hazards",
                "2024-03-01",
                "baby_product",
            ),
            Expect::Err("record 5 (RA-75005): title: missing"),
            // Only in CPS, and only in VEHICLE (category given as a string).
            minimal(
                "HEALTH_CANADA-RA-74990",
                "Wooden stacking toys recalled due to choking hazard",
                "2024-02-27",
                "toy",
            ),
            minimal("HEALTH_CANADA-2024-101", "Model year 2023 SUV: seat belt buckle", "2024-03-05", "other"),
        ],
    );
    assert_eq!(page.duplicates, 1, "repeats across category lists are not duplicates");
    assert_eq!(page.total, None);
    let cough = page.records[1].as_ref().unwrap();
    assert_eq!(cough.url, None, "a javascript: link is dropped");
    let granola = page.records[0].as_ref().unwrap();
    assert_eq!(
        granola.url.as_deref(),
        Some(
            "https://recalls-rappels.canada.ca/en/alert-recall/crunchy-oat-granola-recalled-due-undeclared-milk"
        )
    );
    assert_eq!(granola.last_updated, Some(time::macros::datetime!(2024-03-02 00:00:00 UTC)));
}

#[test]
fn detail_builds_a_fuller_recall_from_the_panels() {
    let recall = parse_health_canada_detail(&fixture("health_canada_detail.json")).unwrap().unwrap();
    let hazard = "The bassinet's mattress pad can fold, creating a gap where an infant could become trapped, posing a suffocation hazard.";
    assert_eq!(
        common::Actual::from(&recall),
        common::Actual::from(&Key {
            id: "HEALTH_CANADA-RA-75001",
            agency: "HEALTH_CANADA",
            title: "Certain Snuggle Bassinets recalled due to suffocation hazard",
            date: "2024-02-28",
            severity: Some("critical"),
            risk: Some("baby_product"),
            upcs: vec!["070123450006", "050555550017"],
            models: vec![],
            status: "open",
            reason: Some(hazard),
        })
    );
    assert_eq!(recall.hazard.as_deref(), Some(hazard));
    assert_eq!(recall.hazard_category.as_deref(), Some("suffocation"));
    let description = recall.description.as_deref().unwrap();
    assert!(
        description
            .starts_with("Product: Snuggle Bassinets Issue: Consumer products - Suffocation hazard\n\n")
    );
    assert!(description.ends_with("contact Snuggle for a free replacement pad."));
    assert!(!description.contains('<'), "{description}");
    assert_normalized(&recall);
}

#[test]
fn detail_with_an_odd_date_is_a_record_error_naming_the_field() {
    let err =
        parse_health_canada_detail(&fixture("health_canada_detail_bad_date.json")).unwrap().unwrap_err();
    assert_eq!(err.source_id.as_deref(), Some("RA-75009"));
    assert_eq!(err.field, "start_date");
    assert!(err.message.ends_with("got '31/02/2024'"), "{}", err.message);
}

#[test]
fn malformed_health_canada_bodies_are_page_errors() {
    assert!(matches!(
        parse_page(Source::HealthCanada, b"{\"results\": {\"ALL\": ["),
        Err(PageError::Json(_))
    ));
    assert_eq!(
        parse_page(Source::HealthCanada, br#"{"results": "none"}"#),
        Err(PageError::Shape("a Health Canada object with `results`"))
    );
    assert_eq!(
        parse_page(Source::HealthCanada, br#"{"results": {"ALL": {"recallId": "x"}}}"#),
        Err(PageError::Shape("Health Canada `results` lists to be arrays"))
    );
    assert_eq!(parse_health_canada_detail(b"[]"), Err(PageError::Shape("a Health Canada recall object")));
}

#[test]
fn search_results_carry_their_count() {
    let body = br#"{"results": [{"recallId": "RA-1", "title": "Crib mattress recall", "category": [4], "date_published": 1709251200}], "results_count": "57"}"#;
    let page = parse_page(Source::HealthCanada, body).unwrap();
    assert_eq!(page.total, Some(57));
    assert_eq!(page.source_ids, ["RA-1"]);
}

#[test]
fn a_handed_over_document_may_be_a_list_or_one_detail() {
    let list = fixture("health_canada_recent.json");
    assert_eq!(
        babyshield_ingest::parse_document(Source::HealthCanada, &list),
        parse_page(Source::HealthCanada, &list)
    );
    let detail = fixture("health_canada_detail.json");
    let page = babyshield_ingest::parse_document(Source::HealthCanada, &detail).unwrap();
    assert_eq!(page.source_ids, ["RA-75001"]);
    assert_eq!(page.records, vec![parse_health_canada_detail(&detail).unwrap()]);
    let bad = babyshield_ingest::parse_document(
        Source::HealthCanada,
        &fixture("health_canada_detail_bad_date.json"),
    )
    .unwrap();
    let err = bad.records[0].as_ref().unwrap_err();
    assert_eq!((err.source_id.as_deref(), err.field.as_str()), (Some("RA-75009"), "start_date"));
    // Other sources never read a lone object as a record.
    assert!(babyshield_ingest::parse_document(Source::Cpsc, &detail).is_err());
}
