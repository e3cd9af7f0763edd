mod common;

use babyshield_ingest::{PageError, Source, parse_page};
use common::{Expect, Key, assert_records, fixture};

#[test]
fn food_enforcement_fixture_maps_every_record_and_reports_bad_ones() {
    let page = parse_page(Source::FdaFood, &fixture("openfda_food_enforcement.json")).unwrap();
    assert_records(
        &page,
        &[
            Expect::Ok(Key {
                id: "FDA-F-0456-2024",
                agency: "FDA",
                title: "Sunny Fields Organic Peanut Butter Crunch Bars, 1.4 oz. bars, 12 bars per carton (Sunny Fields Foods, Inc.)",
                date: "2024-03-12",
                severity: Some("critical"),
                risk: Some("food"),
                upcs: vec!["070123450006"],
                models: vec![],
                status: "open",
                reason: Some("Undeclared milk and may contain peanuts not listed on the label."),
            }),
            Expect::Ok(Key {
                id: "FDA-F-0458-2024",
                agency: "FDA",
                title: "VitaMax Dietary Supplement capsules, 60 count bottle (VitaMax Labs)",
                date: "2024-01-15",
                severity: Some("medium"),
                risk: Some("supplement"),
                upcs: vec![],
                models: vec![],
                status: "closed",
                reason: Some("Label lists incorrect serving size."),
            }),
            Expect::Err(
                "record 3 (F-0459-2024): recall_initiation_date: expected a date (YYYY-MM-DD, ISO date-time, YYYYMMDD, epoch seconds or 'Month D, YYYY'), got '20241340'",
            ),
            Expect::Err("record 4: recall_number: missing"),
            // The later, corrected F-0457-2024 replaced the first.
            Expect::Ok(Key {
                id: "FDA-F-0457-2024",
                agency: "FDA",
                title: "Green Valley Baby Spinach, 5 oz and 10 oz clamshells (Green Valley Farms LLC)",
                date: "2024-02-10",
                severity: Some("high"),
                risk: Some("food"),
                upcs: vec!["004123456782", "087654000112"],
                models: vec![],
                status: "closed",
                reason: Some("Potential Listeria monocytogenes contamination."),
            }),
        ],
    );
    assert_eq!(page.total, Some(1342));
    assert_eq!(page.duplicates, 1);
    assert_eq!(page.source_ids, ["F-0456-2024", "F-0458-2024", "F-0459-2024", "F-0457-2024"]);

    let bars = page.records[0].as_ref().unwrap();
    assert_eq!(bars.recall_class.as_deref(), Some("Class I"));
    assert_eq!(bars.manufacturer.as_deref(), Some("Sunny Fields Foods, Inc."));
    assert_eq!(bars.lot_number.as_deref(), Some("Lot #: 24A101, 24A102; Best By 06/30/2025"));
    assert_eq!(bars.hazard_category.as_deref(), Some("allergen"));
    assert_eq!(bars.regions_affected, ["Distributed in IL, IN, WI and online nationwide."]);
    assert_eq!(bars.country.as_deref(), Some("United States"));
    let spinach = page.records[4].as_ref().unwrap();
    assert_eq!(spinach.lot_number, None, "code_info without lots is not a lot number");
}

#[test]
fn drug_and_device_pages_take_their_category_from_the_record_or_endpoint() {
    let drugs = parse_page(Source::FdaDrug, &fixture("openfda_drug_enforcement.json")).unwrap();
    assert_records(
        &drugs,
        &[
            Expect::Ok(Key {
                id: "FDA-D-0101-2024",
                agency: "FDA",
                title: "Infant Fever Reducer Acetaminophen Oral Suspension, 160 mg/5 mL, 2 fl oz bottle, NDC 12345-678-90 (Carewell Pharma Inc.)",
                date: "2024-01-22",
                severity: Some("critical"),
                risk: Some("drug"),
                upcs: vec![],
                models: vec![],
                status: "open",
                reason: Some("Superpotent drug: assay results above specification."),
            }),
            // No product_type: the endpoint decides; unclassified: no severity;
            // epoch-seconds initiation date.
            Expect::Ok(Key {
                id: "FDA-D-0102-2024",
                agency: "FDA",
                title: "Saline nasal spray 1.5 oz (Nasalcare)",
                date: "2024-01-31",
                severity: None,
                risk: Some("drug"),
                upcs: vec![],
                models: vec![],
                status: "open",
                reason: None,
            }),
        ],
    );
    assert_eq!(drugs.records[1].as_ref().unwrap().recall_class.as_deref(), Some("Not Yet Classified"));

    let devices = parse_page(Source::FdaDevice, &fixture("openfda_device_enforcement.json")).unwrap();
    assert_records(
        &devices,
        &[Expect::Ok(Key {
            id: "FDA-Z-1234-2024",
            agency: "FDA",
            title: "TempCheck Infant Ear Thermometer, model TC-200 (TempCheck Medical)",
            date: "2024-04-05",
            severity: Some("high"),
            risk: Some("device"),
            upcs: vec!["5901234123457"],
            models: vec![],
            status: "open",
            reason: Some("Readings may be low by up to 2 degrees."),
        })],
    );
}

#[test]
fn malformed_openfda_pages_are_page_errors() {
    assert!(matches!(parse_page(Source::FdaFood, b"{\"meta\": "), Err(PageError::Json(_))));
    assert_eq!(parse_page(Source::FdaFood, b"[]"), Err(PageError::Shape("an openFDA object with `results`")));
    assert_eq!(
        parse_page(Source::FdaDrug, br#"{"meta": {}, "results": {"x": 1}}"#),
        Err(PageError::Shape("an openFDA object with a `results` array"))
    );
    assert_eq!(
        parse_page(Source::FdaDevice, br#"{"error": {"code": "BAD_REQUEST", "message": "Invalid search"}}"#),
        Err(PageError::Upstream("BAD_REQUEST: Invalid search".into()))
    );
}

#[test]
fn openfda_no_matches_is_an_empty_page() {
    let page =
        parse_page(Source::FdaFood, br#"{"error": {"code": "NOT_FOUND", "message": "No matches found!"}}"#)
            .unwrap();
    assert!(page.records.is_empty());
    assert_eq!(page.total, Some(0));
}
