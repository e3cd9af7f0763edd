mod common;

use babyshield_ingest::{PageError, Source, parse_page};
use common::{Expect, Key, assert_records, fixture};

#[test]
fn cpsc_fixture_maps_every_record_and_reports_bad_ones() {
    let page = parse_page(Source::Cpsc, &fixture("cpsc_recalls.json")).unwrap();
    let date_msg = "expected a date (YYYY-MM-DD, ISO date-time, YYYYMMDD, epoch seconds or 'Month D, YYYY')";
    let bad_date: &'static str = Box::leak(
        format!("record 3 (10004): RecallDate: {date_msg}, got '2024-02-30T00:00:00'").into_boxed_str(),
    );
    let bad_stamp: &'static str = Box::leak(
        format!("record 7 (10005): LastPublishDate: {date_msg}, got 'sometime in April'").into_boxed_str(),
    );
    assert_records(
        &page,
        &[
            Expect::Ok(Key {
                id: "CPSC-10001",
                agency: "CPSC",
                title: "Dreamwell Recalls Convertible Cribs Due to Suffocation and Entrapment Hazards",
                date: "2024-03-14",
                severity: Some("critical"),
                risk: Some("baby_product"),
                // Declared valid UPCs, then one printed in a product description;
                // the bad check digit and "N/A" are dropped.
                upcs: vec!["081234567897", "065432109875", "070000111228"],
                models: vec!["CB-100", "CB-200", "CB-300", "MC-10"],
                status: "open",
                reason: None,
            }),
            Expect::Ok(Key {
                id: "CPSC-10002",
                agency: "CPSC",
                title: "Hoppy & Friends Plush Toys Recalled Due to Choking Hazard",
                date: "2024-03-05",
                severity: Some("high"),
                risk: Some("toy"),
                upcs: vec![],
                models: vec!["HB-7"],
                status: "open",
                reason: None,
            }),
            Expect::Err(bad_date),
            Expect::Err("record 4: record: must be a JSON object"),
            Expect::Ok(Key {
                id: "CPSC-24-150",
                agency: "CPSC",
                title: "Kitchen Scales Recalled",
                date: "2024-05-02",
                severity: Some("medium"),
                risk: Some("other"),
                upcs: vec![],
                models: vec![],
                status: "open",
                reason: None,
            }),
            // The later copy of 10003 replaced the first one.
            Expect::Ok(Key {
                id: "CPSC-10003",
                agency: "CPSC",
                title: "Warmline Space Heaters Recalled Due to Fire and Burn Hazards",
                date: "2024-02-02",
                severity: Some("high"),
                risk: Some("other"),
                upcs: vec![],
                models: vec!["WL-1500"],
                status: "open",
                reason: None,
            }),
            Expect::Err(bad_stamp),
        ],
    );
    assert_eq!(page.duplicates, 1);
    assert_eq!(page.total, None);
    assert_eq!(page.source_ids, ["10001", "10002", "10004", "24-150", "10003", "10005"]);
}

#[test]
fn cpsc_details_come_from_the_nested_lists_with_html_stripped() {
    let page = parse_page(Source::Cpsc, &fixture("cpsc_recalls.json")).unwrap();
    let crib = page.records[0].as_ref().unwrap();
    assert_eq!(
        crib.description.as_deref(),
        Some(
            "This recall involves Dreamwell convertible cribs. The drop-side can detach from the frame. UPC 0 81234 56789 7 is printed on the assembly label."
        )
    );
    assert_eq!(crib.product_name.as_deref(), Some("Dreamwell Convertible Cribs"));
    assert_eq!(crib.model.as_deref(), Some("CB-100, CB-200; CB-300"));
    assert_eq!(crib.model_number.as_deref(), Some("CB-100"));
    assert_eq!(crib.manufacturer.as_deref(), Some("Dreamwell Nursery Co."));
    assert_eq!(
        crib.hazard.as_deref(),
        Some("The drop-side can detach, posing suffocation and entrapment hazards.")
    );
    assert_eq!(crib.hazard_category.as_deref(), Some("suffocation"));
    assert_eq!(crib.remedy.as_deref(), Some("Refund; Repair"));
    assert_eq!(crib.affected_countries, ["United States", "Canada"]);
    assert_eq!(crib.image_url.as_deref(), Some("https://www.cpsc.gov/s3fs-public/dreamwell-crib.jpg"));
    assert_eq!(crib.url, crib.source_url);
    assert_eq!(crib.last_updated, Some(time::macros::datetime!(2024-03-15 09:30:00 UTC)));

    let toy = page.records[1].as_ref().unwrap();
    assert_eq!(toy.manufacturer.as_deref(), Some("Hoppy Imports LLC"), "importer when no manufacturer");
    assert_eq!(toy.url.as_deref(), Some("https://www.cpsc.gov/Recalls/2024/Hoppy-Plush-Toys"));
    let scale = page.records[4].as_ref().unwrap();
    assert_eq!(scale.manufacturer.as_deref(), Some("Scaleco Distribution"), "distributor last");
    assert_eq!(scale.hazard, None);
}

#[test]
fn cpsc_page_that_is_not_an_array_is_a_page_error() {
    assert_eq!(
        parse_page(Source::Cpsc, br#"{"RecallID": 1}"#),
        Err(PageError::Shape("a JSON array of CPSC recalls"))
    );
    assert!(matches!(parse_page(Source::Cpsc, b"[{\"RecallID\": 1,"), Err(PageError::Json(_))));
    assert!(matches!(parse_page(Source::Cpsc, b"<html>Service Unavailable</html>"), Err(PageError::Json(_))));
    let empty = parse_page(Source::Cpsc, b"[]").unwrap();
    assert!(empty.records.is_empty() && empty.source_ids.is_empty());
}
