//! Issue: recall catalogue. Contract shapes, search semantics, cursors,
//! barcodes, statistics and import, on SQLite and PostgreSQL.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::{Db, TestApp, json};

const FIXTURES: &str = include_str!("../fixtures/recalls.jsonl");

crate::on_both_databases!(
    agencies_are_the_42_of_the_contract_in_its_shape,
    search_tolerates_typos_and_partial_words,
    keywords_must_all_match,
    filters_and_their_aliases_restrict_results,
    every_validation_rule_answers_400_naming_the_field,
    unknown_fields_are_listed_in_error_unknown,
    results_are_ordered_by_relevance_then_date_then_id,
    cursor_paging_walks_everything_once_while_recalls_are_inserted,
    forged_or_foreign_cursors_are_rejected,
    recall_detail_accepts_ids_with_slashes_and_404s_unknown_ids,
    barcode_lookup_treats_all_padded_forms_as_one_product,
    barcode_with_a_wrong_check_digit_is_a_400_that_says_so,
    statistics_count_by_agency_severity_category_and_month,
    import_is_idempotent_and_reports_bad_lines_by_number,
    a_batch_of_new_changed_and_unchanged_recalls_keeps_search_and_barcodes_exact,
    changed_recalls_with_hundreds_of_barcodes_keep_exactly_the_ones_they_still_carry,
    recall_list_filters_and_pages_newest_first,
    lookups_that_arrive_together_share_queries_and_each_gets_its_own_answer,
);

async fn loaded(db: Db) -> TestApp {
    let app = TestApp::spawn(db).await;
    let report = app.import(FIXTURES).await;
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    app
}

async fn search(app: &TestApp, body: Value) -> (u16, Value) {
    json(app.post_json("/api/v1/search/advanced", &body).await).await
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

async fn agencies_are_the_42_of_the_contract_in_its_shape(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, body) = json(app.get("/api/v1/agencies").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], true);
    let list = body["data"].as_array().unwrap();
    assert_eq!(list.len(), 42);
    assert_eq!(
        list[0],
        json!({"code": "FDA", "name": "U.S. Food and Drug Administration", "country": "United States", "website": "https://www.fda.gov"})
    );
    assert_eq!(list[41]["code"], "ANMAT");
    assert!(body["traceId"].is_string());
}

async fn search_tolerates_typos_and_partial_words(db: Db) {
    let app = loaded(db).await;
    let (status, body) = search(&app, json!({"query": "pacifer"})).await;
    assert_eq!(status, 200, "{body}");
    let found = ids(&body);
    assert!(
        found.contains(&"CPSC-10001".to_string()) && found.contains(&"HEALTH_CANADA-RA-20002".to_string()),
        "{found:?}"
    );
    let item = &body["data"]["items"][0];
    for field in ["id", "agencyCode", "title", "recallDate"] {
        assert!(item[field].is_string(), "{field} missing in {item}");
    }
    let score = item["relevanceScore"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0);

    let (_, body) = search(&app, json!({"product": "pacif"})).await;
    assert!(ids(&body).contains(&"CPSC-10001".to_string()), "prefix search: {body}");
    let (_, body) = search(&app, json!({"query": "strolelr"})).await;
    assert_eq!(body["data"]["total"], 2, "{body}");
    let (_, body) = search(&app, json!({"query": "zzzzqqq"})).await;
    assert_eq!(body["data"]["total"], 0);
    assert_eq!(body["data"]["hasMore"], false);
}

async fn keywords_must_all_match(db: Db) {
    let app = loaded(db).await;
    let (_, body) = search(&app, json!({"keywords": ["crib", "fire"]})).await;
    assert_eq!(ids(&body), vec!["CPSC-10005"], "{body}");
    let (_, body) = search(&app, json!({"keywords": ["crib", "suffocation"]})).await;
    let mut found = ids(&body);
    found.sort();
    assert_eq!(found, vec!["CPSC-10004", "UK_OPSS-PSD-2023-0012"]);
    let (_, body) = search(&app, json!({"query": "crib", "keywords": ["lead"]})).await;
    assert_eq!(body["data"]["total"], 0);
}

async fn filters_and_their_aliases_restrict_results(db: Db) {
    let app = loaded(db).await;
    let total = |body: &Value| body["data"]["total"].as_i64().unwrap();
    let (_, all) = search(&app, json!({"query": "recalled"})).await;
    let (_, cpsc) = search(&app, json!({"query": "recalled", "agency": "CPSC"})).await;
    let (_, cpsc_list) = search(&app, json!({"query": "recalled", "agencies": ["CPSC"]})).await;
    assert!(total(&all) > total(&cpsc) && total(&cpsc) > 0);
    assert_eq!(ids(&cpsc), ids(&cpsc_list));
    assert!(body_items(&cpsc).iter().all(|i| i["agencyCode"] == "CPSC"));

    // Sources' spellings normalize: "FDA-Food" filters as FDA.
    let (_, fda) = search(&app, json!({"query": "recalled", "agencies": ["FDA-Food"]})).await;
    assert!(body_items(&fda).iter().all(|i| i["agencyCode"] == "FDA") && total(&fda) > 0);

    let (_, critical) = search(&app, json!({"query": "recall", "severity": "critical"})).await;
    let (_, critical_alias) = search(&app, json!({"query": "recall", "risk_level": "critical"})).await;
    assert_eq!(ids(&critical), ids(&critical_alias));
    assert!(body_items(&critical).iter().all(|i| i["severity"] == "critical"));

    let (_, food) = search(&app, json!({"query": "recalled", "riskCategory": "food"})).await;
    let (_, food_alias) = search(&app, json!({"query": "recalled", "product_category": "food"})).await;
    assert_eq!(ids(&food), ids(&food_alias));
    assert!(body_items(&food).iter().all(|i| i["riskCategory"] == "food") && total(&food) > 0);

    let (_, dated) =
        search(&app, json!({"query": "recalled", "date_from": "2024-01-01", "date_to": "2024-03-14"})).await;
    assert!(total(&dated) > 0);
    for item in body_items(&dated) {
        let date = item["recallDate"].as_str().unwrap();
        assert!(("2024-01-01"..="2024-03-14").contains(&date), "{date}");
    }
    let (_, by_id) = search(&app, json!({"id": "EU_SAFETY_GATE-A12/00345/24"})).await;
    assert_eq!(ids(&by_id), vec!["EU_SAFETY_GATE-A12/00345/24"]);
}

fn body_items(body: &Value) -> Vec<Value> {
    body["data"]["items"].as_array().unwrap().clone()
}

async fn every_validation_rule_answers_400_naming_the_field(db: Db) {
    let app = loaded(db).await;
    let cases = [
        (json!({}), "query"),
        (json!({"query": "a"}), "query"),
        (json!({"query": "crib", "limit": 0}), "limit"),
        (json!({"query": "crib", "limit": 51}), "limit"),
        (json!({"query": "crib", "severity": "severe"}), "severity"),
        (json!({"query": "crib", "riskCategory": "weapons"}), "riskCategory"),
        (json!({"query": "crib", "agency": "NOPE"}), "agency"),
        (json!({"query": "crib", "date_from": "2024-13-01"}), "date_from"),
        (json!({"query": "crib", "date_from": "2024-05-01", "date_to": "2024-01-01"}), "date_from"),
        (json!({"query": "crib", "keywords": "crib"}), "keywords"),
        (json!({"query": 5}), "query"),
        (json!({"id": "bad id with spaces"}), "id"),
    ];
    for (body, field) in cases {
        let (status, answer) = search(&app, body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "INVALID_PARAMETERS", "{body} -> {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().starts_with(field), "{body} -> {answer}");
    }
}

async fn unknown_fields_are_listed_in_error_unknown(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, body) = search(&app, json!({"query": "crib", "sort": "x", "color": 1})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["unknown"], json!(["color", "sort"]));
}

async fn results_are_ordered_by_relevance_then_date_then_id(db: Db) {
    let app = loaded(db).await;
    let (_, body) = search(&app, json!({"query": "crib", "limit": 50})).await;
    let items = body_items(&body);
    assert_eq!(items.len(), 4, "{body}");
    // A whole-word title hit outranks a body-only hit.
    let top = items[0]["relevanceScore"].as_f64().unwrap();
    let last = items.last().unwrap()["relevanceScore"].as_f64().unwrap();
    assert!(top > last, "{body}");
    for pair in items.windows(2) {
        let key = |i: &Value| {
            (
                -(i["relevanceScore"].as_f64().unwrap() * 1000.0) as i64,
                i["recallDate"].as_str().unwrap().to_string(),
                i["id"].as_str().unwrap().to_string(),
            )
        };
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        assert!(a.0 < b.0 || (a.0 == b.0 && (a.1 > b.1 || (a.1 == b.1 && a.2 < b.2))), "{a:?} before {b:?}");
    }
}

async fn cursor_paging_walks_everything_once_while_recalls_are_inserted(db: Db) {
    let app = loaded(db).await;
    let (_, first) = search(&app, json!({"query": "recalled", "limit": 3})).await;
    let expected_total = first["data"]["total"].as_i64().unwrap();
    let mut seen: Vec<String> = ids(&first);
    let mut cursor = first["data"]["nextCursor"].as_str().map(str::to_string);
    assert_eq!(first["data"]["hasMore"], true);
    let mut inserted = 0;
    while let Some(c) = cursor {
        // New recalls arrive between pages: newer dates, and a tie-breaking id.
        inserted += 1;
        let line = json!({"id": format!("CPSC-9{inserted:04}"), "agencyCode": "CPSC", "title": "Newly recalled widget",
                          "recallDate": "2026-01-01"}).to_string();
        app.import(&line).await;
        let (status, page) = search(&app, json!({"query": "recalled", "limit": 3, "nextCursor": c})).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        cursor = page["data"]["nextCursor"].as_str().map(str::to_string);
        assert_eq!(page["data"]["hasMore"], cursor.is_some());
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates: {seen:?}");
    let original: Vec<&String> = seen.iter().filter(|id| !id.starts_with("CPSC-9")).collect();
    assert_eq!(original.len() as i64, expected_total, "no gaps: {seen:?}");
}

async fn forged_or_foreign_cursors_are_rejected(db: Db) {
    let app = loaded(db).await;
    let (_, first) = search(&app, json!({"query": "recalled", "limit": 2})).await;
    let cursor = first["data"]["nextCursor"].as_str().unwrap().to_string();
    let mut forged = cursor.clone().into_bytes();
    let i = forged.len() / 2;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    for bad in [String::from_utf8(forged).unwrap(), "garbage".into(), format!("{cursor}x")] {
        let (status, body) = search(&app, json!({"query": "recalled", "limit": 2, "nextCursor": bad})).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "INVALID_CURSOR");
    }
    let (status, body) = search(&app, json!({"query": "crib", "limit": 2, "nextCursor": cursor})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "INVALID_CURSOR");
    assert!(body["error"]["message"].as_str().unwrap().contains("query"));
}

async fn recall_detail_accepts_ids_with_slashes_and_404s_unknown_ids(db: Db) {
    let app = loaded(db).await;
    let (status, body) = json(app.get("/api/v1/recall/EU_SAFETY_GATE-A12/00345/24").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], "EU_SAFETY_GATE-A12/00345/24");
    assert_eq!(body["data"]["agencyCode"], "EU_SAFETY_GATE");
    assert_eq!(body["data"]["affectedCountries"], json!(["Germany", "Austria"]));
    let (_, fda) = json(app.get("/api/v1/recall/FDA-F-0101-2024").await).await;
    assert_eq!(fda["data"]["recallReason"], "Undeclared milk");
    assert_eq!(fda["data"]["lotNumber"], "L2404");
    let (status, body) = json(app.get("/api/v1/recall/CPSC-0000").await).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
}

async fn barcode_lookup_treats_all_padded_forms_as_one_product(db: Db) {
    let app = loaded(db).await;
    let mut answers = Vec::new();
    for code in ["012345678905", "0012345678905", "00012345678905", "0 12345 67890 5", "012-345-678-905"] {
        let (status, body) = json(app.get(&format!("/api/v1/lookup/barcode/{code}")).await).await;
        assert_eq!(status, 200, "{code}: {body}");
        assert_eq!(body["data"]["gtin"], "00012345678905");
        answers.push(ids(&body));
    }
    let (_, by_query) = json(app.get("/api/v1/lookup/barcode?code=0012345678905").await).await;
    answers.push(ids(&by_query));
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    let mut found = answers[0].clone();
    found.sort();
    assert_eq!(found, vec!["CPSC-10001", "HEALTH_CANADA-RA-20002"]);
    assert_eq!(by_query["data"]["recalled"], true);

    let (status, none) = json(app.get("/api/v1/lookup/barcode/036000291452").await).await;
    assert_eq!(status, 200);
    assert_eq!(none["data"]["recalled"], false);
    assert_eq!(none["data"]["count"], 0);
    assert!(none["data"]["message"].as_str().unwrap().starts_with("No recall"));
}

async fn barcode_with_a_wrong_check_digit_is_a_400_that_says_so(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, body) = json(app.get("/api/v1/lookup/barcode/012345678904").await).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("check digit"), "{body}");
    let (status, body) = json(app.get("/api/v1/lookup/barcode/12345").await).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = json(app.get("/api/v1/lookup/barcode?code=abc").await).await;
    assert_eq!(status, 400);
    let (status, body) = json(app.get("/api/v1/lookup/barcode").await).await;
    assert_eq!(status, 400, "{body}");
}

async fn statistics_count_by_agency_severity_category_and_month(db: Db) {
    let app = loaded(db).await;
    let (status, body) = json(app.get("/api/v1/recalls/stats").await).await;
    assert_eq!(status, 200);
    let data = &body["data"];
    assert_eq!(data["total"], 19);
    let count = |list: &str, key: &str| {
        data[list].as_array().unwrap().iter().find(|c| c["key"] == key).map(|c| c["count"].as_i64().unwrap())
    };
    assert_eq!(count("byAgency", "CPSC"), Some(6));
    assert_eq!(count("byAgency", "FDA"), Some(4));
    assert_eq!(count("bySeverity", "critical"), Some(8));
    assert_eq!(count("byCategory", "food"), Some(5));
    assert_eq!(count("byMonth", "2024-03"), Some(1));
    let cpsc = data["newestByAgency"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agencyCode"] == "CPSC")
        .unwrap()
        .clone();
    assert_eq!(cpsc["newestRecallDate"], "2024-03-14");
}

async fn import_is_idempotent_and_reports_bad_lines_by_number(db: Db) {
    let app = TestApp::spawn(db).await;
    let first = app.import(FIXTURES).await;
    assert_eq!((first.inserted, first.updated, first.unchanged), (19, 0, 0));
    let again = app.import(FIXTURES).await;
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 19));

    let changed = FIXTURES
        .replace("Pacifier Clips Recalled Due to Choking Hazard", "Pacifier Clips Recalled (updated)");
    let bad = format!(
        "{changed}{{\"id\": \"CPSC-1\", \"agencyCode\": \"CPSC\"}}\nnot json\n{}\n",
        json!({"id": "CPSC-2", "agencyCode": "CPSC", "title": "t", "recallDate": "2024-01-01", "upcs": ["012345678904"]})
    );
    let report = app.import(&bad).await;
    assert_eq!((report.inserted, report.updated, report.unchanged, report.rejected), (0, 1, 18, 3));
    let lines: Vec<u64> = report.rejections.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![20, 21, 22]);
    assert!(report.rejections[0].error.contains("title"), "{:?}", report.rejections);
    assert!(report.rejections[2].error.contains("check digit"), "{:?}", report.rejections);
    let (_, detail) = json(app.get("/api/v1/recall/CPSC-10001").await).await;
    assert_eq!(detail["data"]["title"], "Pacifier Clips Recalled (updated)");
    // The barcode index followed the update: still exactly one row per GTIN.
    let (_, barcode) = json(app.get("/api/v1/lookup/barcode/012345678905").await).await;
    assert_eq!(barcode["data"]["count"], 2);
}

/// A valid UPC-A for `n`.
fn upc(n: u64) -> String {
    let body = format!("{:011}", 70_000_000_000 + n);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", babyshield_domain::check_digit(&digits))
}

fn recall_line(id: &str, title: &str, date: &str, status: &str, code: &str) -> String {
    format!(
        "{}\n",
        json!({"id": id, "agencyCode": "CPSC", "title": title, "recallDate": date, "status": status, "upcs": [code]})
    )
}

/// One import batch holding every kind of row, in an order unrelated to
/// their dates (the writer reorders rows for the full-text index): every
/// search, total and barcode must then see exactly the new state.
async fn a_batch_of_new_changed_and_unchanged_recalls_keeps_search_and_barcodes_exact(db: Db) {
    let app = TestApp::spawn(db).await;
    let date = |i: u64| format!("20{:02}-{:02}-{:02}", 15 + (i * 7) % 9, 1 + (i * 5) % 12, 1 + (i * 11) % 28);
    // Changed recalls with several barcodes: some kept, some lost, some
    // gained, one handed over to a new recall.
    let coded = |id: &str, title: &str, codes: &[u64]| {
        let upcs: Vec<String> = codes.iter().map(|&c| upc(c)).collect();
        format!(
            "{}\n",
            json!({"id": id, "agencyCode": "CPSC", "title": title, "recallDate": "2020-05-05", "upcs": upcs})
        )
    };
    let mut first: String = (0..30)
        .map(|i| recall_line(&format!("MIX-{i}"), &format!("Widget alpha {i}"), &date(i), "open", &upc(i)))
        .collect();
    first += &coded("CODES-1", "Stroller one", &[501, 502, 503]);
    first += &coded("CODES-2", "Stroller two", &[504]);
    first += &coded("CODES-3", "Stroller three", &[505, 506]);
    first += &coded("CODES-4", "Stroller four", &[507]);
    let report = app.import(&first).await;
    assert_eq!((report.inserted, report.rejected), (34, 0), "{:?}", report.rejections);

    // MIX-0..9 unchanged; 10..19 new title and barcode; 20..24 new title
    // and a new date; 25..27 only closed (the text and date stay); 28..29
    // only a new date; 10 new.
    let mut second = String::new();
    for i in (0..30).rev() {
        let id = format!("MIX-{i}");
        second += &match i {
            0..10 => recall_line(&id, &format!("Widget alpha {i}"), &date(i), "open", &upc(i)),
            10..20 => recall_line(&id, &format!("Gadget beta {i}"), &date(i), "open", &upc(100 + i)),
            20..25 => recall_line(&id, &format!("Gizmo gamma {i}"), &date(i + 40), "open", &upc(i)),
            25..28 => recall_line(&id, &format!("Widget alpha {i}"), &date(i), "closed", &upc(i)),
            _ => recall_line(&id, &format!("Widget alpha {i}"), &date(i + 40), "open", &upc(i)),
        };
        if i % 3 == 0 {
            let n = 1000 + i;
            second +=
                &recall_line(&format!("NEW-{i}"), &format!("Novel delta {n}"), &date(n), "open", &upc(n));
        }
    }
    second += &coded("CODES-1", "Stroller one revised", &[502, 508]);
    second += &coded("CODES-2", "Stroller two revised", &[]);
    second += &coded("CODES-3", "Stroller three revised", &[506, 505]);
    second += &coded("CODES-4", "Stroller four revised", &[]);
    second += &coded("CODES-5", "Stroller five", &[507]);
    let report = app.import(&second).await;
    assert_eq!((report.inserted, report.updated, report.unchanged), (11, 24, 10), "{report:?}");

    let sorted_ids = |body: &Value| {
        let mut found = ids(body);
        found.sort();
        found
    };
    let expect = |range: std::ops::Range<u64>, prefix: &str| {
        let mut ids: Vec<String> = range.map(|i| format!("{prefix}-{i}")).collect();
        ids.sort();
        ids
    };
    for (query, expected) in [
        ("alpha", [expect(0..10, "MIX"), expect(25..30, "MIX")].concat()),
        ("beta", expect(10..20, "MIX")),
        ("gamma", expect(20..25, "MIX")),
        ("delta", (0..30).filter(|i| i % 3 == 0).map(|i| format!("NEW-{i}")).collect::<Vec<_>>()),
    ] {
        let mut expected = expected;
        expected.sort();
        let (status, body) = search(&app, json!({"query": query, "limit": 50})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(sorted_ids(&body), expected, "{query}: {body}");
        assert_eq!(body["data"]["total"], expected.len(), "{query}: {body}");
    }
    // A moved recall is found at its new date only, also when nothing else
    // about it changed.
    let (_, moved) =
        search(&app, json!({"query": "alpha", "date_from": date(68), "date_to": date(68)})).await;
    assert_eq!(ids(&moved), vec!["MIX-28"], "{moved}");
    let (_, old) = search(&app, json!({"query": "alpha", "date_from": date(28), "date_to": date(28)})).await;
    assert_eq!(old["data"]["total"], 0, "{old}");
    let (_, moved) =
        search(&app, json!({"query": "gamma", "date_from": date(61), "date_to": date(61)})).await;
    assert_eq!(ids(&moved), vec!["MIX-21"], "{moved}");
    let (_, old) = search(&app, json!({"query": "gamma", "date_from": date(21), "date_to": date(21)})).await;
    assert_eq!(old["data"]["total"], 0, "{old}");
    // Replaced barcodes point nowhere; new ones and kept ones to their recall.
    for (code, expected) in [
        (upc(12), vec![]),
        (upc(112), vec!["MIX-12"]),
        (upc(22), vec!["MIX-22"]),
        (upc(501), vec![]),
        (upc(502), vec!["CODES-1"]),
        (upc(503), vec![]),
        (upc(508), vec!["CODES-1"]),
        (upc(504), vec![]),
        (upc(505), vec!["CODES-3"]),
        (upc(506), vec!["CODES-3"]),
        (upc(507), vec!["CODES-5"]),
    ] {
        let (_, body) = json(app.get(&format!("/api/v1/lookup/barcode/{code}")).await).await;
        assert_eq!(ids(&body), expected, "{code}: {body}");
    }
    let (_, closed) = json(app.get("/api/v1/recall/MIX-27").await).await;
    assert_eq!(closed["data"]["status"], "closed", "{closed}");
}

/// The barcodes a changed recall lost are removed in statements bounded by
/// their parameters; recalls with hundreds of barcodes each split them.
async fn changed_recalls_with_hundreds_of_barcodes_keep_exactly_the_ones_they_still_carry(db: Db) {
    let app = TestApp::spawn(db).await;
    let line = |i: u64, title: &str, codes: std::ops::Range<u64>| {
        let upcs: Vec<String> = codes.map(upc).collect();
        format!(
            "{}\n",
            json!({"id": format!("MANY-{i}"), "agencyCode": "CPSC", "title": title, "recallDate": "2021-03-03", "upcs": upcs})
        )
    };
    // Recall i carries codes 10,000 + 1,000 i .. + 600; the change keeps the
    // last 400 of them and adds 200 more.
    let base = |i: u64| 10_000 + 1_000 * i;
    let first: String = (0..4).map(|i| line(i, "Crib bumper", base(i)..base(i) + 600)).collect();
    let report = app.import(&first).await;
    assert_eq!((report.inserted, report.rejected), (4, 0), "{:?}", report.rejections);
    let second: String =
        (0..4).map(|i| line(i, "Crib bumper revised", base(i) + 200..base(i) + 800)).collect();
    let report = app.import(&second).await;
    assert_eq!((report.updated, report.rejected), (4, 0), "{:?}", report.rejections);
    for i in 0..4 {
        let id = format!("MANY-{i}");
        for (offset, carried) in
            [(0, false), (199, false), (200, true), (599, true), (600, true), (799, true), (800, false)]
        {
            let code = upc(base(i) + offset);
            let (status, body) = json(app.get(&format!("/api/v1/lookup/barcode/{code}")).await).await;
            assert_eq!(status, 200, "{body}");
            let expected: Vec<String> = if carried { vec![id.clone()] } else { Vec::new() };
            assert_eq!(ids(&body), expected, "{id}, code {offset}: {body}");
        }
    }
}

/// Detail and barcode lookups that arrive together share one query
/// (`babyshield_storage`'s coalesce.rs). The shared queries must answer
/// every key exactly as a lookup of its own: unknown keys, one barcode on
/// more recalls than a lookup returns (newest first, ties by id), ids with
/// slashes; and requests sent all at once must each get their own answer.
async fn lookups_that_arrive_together_share_queries_and_each_gets_its_own_answer(db: Db) {
    use babyshield_storage::recalls::MAX_RECALLS_PER_BARCODE;
    // Hundreds of requests at once from one address: not what this measures.
    let app = TestApp::spawn_with(db, |c| c.rate_limit.enabled = false).await;
    // 210 recalls carry the shared barcode; their dates repeat, so the order
    // falls back to the id. 40 more carry a barcode each (ids with slashes).
    let date = |i: u64| format!("20{:02}-{:02}-01", 10 + i % 7, 1 + i % 12);
    let shared = upc(1);
    let own = |i: u64| format!("EU_SAFETY_GATE-A12/{i:05}/24");
    let mut lines: String = (0..210)
        .map(|i| {
            recall_line(&format!("SHARE-{i:03}"), &format!("Shared widget {i}"), &date(i), "open", &shared)
        })
        .collect();
    lines += &(0..40)
        .map(|i| recall_line(&own(i), &format!("Own gadget {i}"), &date(i), "open", &upc(100 + i)))
        .collect::<String>();
    let report = app.import(&lines).await;
    assert_eq!((report.inserted, report.rejected), (250, 0), "{:?}", report.rejections);
    let mut newest_first: Vec<(String, String)> =
        (0..210).map(|i| (date(i), format!("SHARE-{i:03}"))).collect();
    newest_first.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let expected_shared: Vec<String> =
        newest_first.into_iter().take(MAX_RECALLS_PER_BARCODE as usize).map(|(_, id)| id).collect();

    // The shared queries themselves, with many keys at once.
    let store = app.state.store();
    let doc_id = |doc: &str| serde_json::from_str::<Value>(doc).unwrap()["id"].as_str().unwrap().to_string();
    let mut keys: Vec<String> = (0..40).map(own).collect();
    keys.extend(["SHARE-007", "SHARE-209", "NOPE-1", "NOPE-2", "SHARE-000"].map(String::from));
    let docs = store.clone().docs_by_id(keys.clone()).await.unwrap();
    assert_eq!(docs.len(), 43, "{:?}", docs.keys());
    for key in &keys {
        match docs.get(key) {
            Some(Some(doc)) => assert_eq!(&doc_id(doc), key),
            Some(None) => panic!("{key}: an entry without a document"),
            None => assert!(key.starts_with("NOPE"), "{key} not found"),
        }
    }
    let gtin = |code: &str| babyshield_domain::Gtin::parse(code).unwrap().as_str().to_string();
    let mut gtins: Vec<String> = (0..40).map(|i| gtin(&upc(100 + i))).collect();
    gtins.push(gtin(&shared));
    gtins.push(gtin(&upc(999)));
    let found = store.clone().docs_by_gtin(gtins.clone()).await.unwrap();
    assert_eq!(found.len(), 41, "the unknown barcode has no entry");
    let shared_ids: Vec<String> = found[&gtin(&shared)].iter().map(|d| doc_id(d)).collect();
    assert_eq!(shared_ids, expected_shared);
    for i in 0..40 {
        let ids: Vec<String> = found[&gtin(&upc(100 + i))].iter().map(|d| doc_id(d)).collect();
        assert_eq!(ids, vec![own(i)]);
    }

    // Requests sent all at once, several for the same key.
    let mut requests = Vec::new();
    for round in 0..3 {
        for i in 0..40 {
            requests.push((format!("/api/v1/recall/{}", own(i)), vec![own(i)]));
            requests.push((format!("/api/v1/lookup/barcode/{}", upc(100 + i)), vec![own(i)]));
        }
        for i in (round..210).step_by(7) {
            requests.push((format!("/api/v1/recall/SHARE-{i:03}"), vec![format!("SHARE-{i:03}")]));
        }
        requests.push((format!("/api/v1/lookup/barcode/{shared}"), expected_shared.clone()));
        requests.push((format!("/api/v1/lookup/barcode/{}", upc(999)), vec![]));
        requests.push(("/api/v1/recall/NOPE-1".to_string(), vec![]));
    }
    let answers = futures::future::join_all(requests.iter().map(|(path, _)| async {
        let (status, body) = json(app.get(path).await).await;
        (status, body)
    }))
    .await;
    for ((path, expected), (status, body)) in requests.iter().zip(answers) {
        if path.contains("/recall/") {
            if expected.is_empty() {
                assert_eq!(status, 404, "{path}: {body}");
            } else {
                assert_eq!(
                    (status, body["data"]["id"].as_str()),
                    (200, Some(expected[0].as_str())),
                    "{path}"
                );
            }
        } else {
            assert_eq!(status, 200, "{path}: {body}");
            assert_eq!(&ids(&body), expected, "{path}");
        }
    }
    // Result pages whose documents are read at the same time share queries
    // too: searches sent all at once (documents not yet in memory) answer
    // exactly what the same searches answer one by one afterwards.
    let bodies: Vec<Value> = (0..30)
        .map(|i| match i % 3 {
            0 => json!({"query": "shared widget", "limit": 50, "offset": i * 5}),
            1 => json!({"query": format!("gadget {}", i), "limit": 10}),
            _ => json!({"query": "own gadget", "limit": 7, "offset": i}),
        })
        .collect();
    let together = futures::future::join_all(bodies.iter().map(|body| search(&app, body.clone()))).await;
    for (body, (status, page)) in bodies.iter().zip(together) {
        assert_eq!(status, 200, "{body}: {page}");
        let (_, alone) = search(&app, body.clone()).await;
        assert_eq!(ids(&page), ids(&alone), "{body}");
        assert_eq!(page["data"]["total"], alone["data"]["total"], "{body}");
        assert!(!ids(&page).is_empty(), "{body}: {page}");
    }
    // They shared queries (hundreds of lookups, a handful of queries: the
    // margin is wide), and how many keys each query carried is exported.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for (read, kind) in [("recall_by_id", "/recall/"), ("recalls_by_gtin", "/barcode/")] {
        let queries: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("db_point_read_batch_size_count{{read=\"{read}\"}} ")))
            .unwrap_or_else(|| panic!("no batch size metric for {read}: {metrics}"))
            .parse()
            .unwrap();
        let lookups = requests.iter().filter(|(path, _)| path.contains(kind)).count() as u64;
        assert!(queries < lookups, "{read}: {lookups} lookups took {queries} queries");
    }
}

async fn recall_list_filters_and_pages_newest_first(db: Db) {
    let app = loaded(db).await;
    let (status, first) = json(app.get("/api/v1/recalls?agency=CPSC&limit=4").await).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"]["total"], 6);
    let mut seen = ids(&first);
    let cursor = first["data"]["nextCursor"].as_str().unwrap();
    let (_, second) =
        json(app.get(&format!("/api/v1/recalls?agency=CPSC&limit=4&cursor={cursor}")).await).await;
    seen.extend(ids(&second));
    assert_eq!(second["data"]["hasMore"], false);
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0], "CPSC-10001", "newest first");
    let (status, body) = json(app.get("/api/v1/recalls?agency=CPSC&limit=4&cursor=forged").await).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("INVALID_CURSOR")));
    let (status, body) = json(app.get("/api/v1/recalls?colour=red").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["unknown"], json!(["colour"]));
    let (status, _) = json(app.get("/api/v1/recalls?severity=huge").await).await;
    assert_eq!(status, 400);
}

/// SQLite FTS5 and PostgreSQL tsvector engines give the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_agree_on_the_fixture_queries() {
    let (sqlite, postgres) = tokio::join!(loaded(Db::Sqlite), loaded(Db::Postgres));
    let queries = [
        json!({"query": "pacifer"}),
        json!({"query": "crib", "limit": 50}),
        json!({"query": "recalled", "limit": 50}),
        json!({"keywords": ["stroller", "fall"]}),
        json!({"query": "undeclared milk"}),
        json!({"query": "lead", "severity": "critical"}),
        json!({"query": "choking hazard", "agencies": ["CPSC", "HEALTH_CANADA"]}),
        json!({"product": "car seat"}),
    ];
    for query in queries {
        let (_, a) = search(&sqlite, query.clone()).await;
        let (_, b) = search(&postgres, query.clone()).await;
        assert_eq!(a["data"]["items"], b["data"]["items"], "{query}");
        assert_eq!(a["data"]["total"], b["data"]["total"], "{query}");
    }
}

/// PostgreSQL: a recall write's entries in the full-text indexes' pending
/// lists are merged by another connection after it commits, not left for
/// the next writer to merge in the middle of its statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_merges_the_full_text_pending_lists_after_a_recall_write() {
    let app = TestApp::spawn(Db::Postgres).await;
    let store = app.state.store();
    let babyshield_storage::Pool::Postgres(pool) = store.pool() else { unreachable!("a PostgreSQL app") };
    let merge = || merge_pending_lists(pool);
    merge().await;

    let report = app.import(FIXTURES).await;
    assert!(report.inserted > 10, "{report:?}");
    store.pending_lists_merged().await;
    assert_eq!(merge().await, (0, 0), "merged after the import's commit");

    // The same rows written around the store stay in the pending lists.
    sqlx::query(
        "UPDATE recalls SET search_tsv = search_tsv || 'pendingword'::tsvector, \
                 search_title_tsv = search_title_tsv || 'pendingword'::tsvector",
    )
    .execute(pool)
    .await
    .unwrap();
    let (search, title) = merge().await;
    assert!(search > 0 && title > 0, "pending pages: {search}, {title}");

    // And a write of changed recalls through the store is merged again.
    let report = app.import(&retitled()).await;
    assert!(report.updated > 10, "{report:?}");
    store.pending_lists_merged().await;
    assert_eq!(merge().await, (0, 0), "merged after the update's commit");
}

/// PostgreSQL: a database role that does not own the full-text indexes may
/// not merge their pending lists. Its recall writes go on, and the writer
/// merges them itself as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_go_on_when_the_role_may_not_merge_the_pending_lists() {
    let app = TestApp::spawn(Db::Postgres).await;
    let babyshield_storage::Pool::Postgres(owner) = app.state.store().pool() else {
        unreachable!("a PostgreSQL app")
    };
    // Roles are shared by every database of the server: named after this
    // test's own database, which is unique.
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(owner).await.unwrap();
    let role = format!("{database}_writer");
    for sql in [
        format!("CREATE ROLE {role} LOGIN PASSWORD 'writer-secret'"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(owner).await.unwrap();
    }
    let mut config = app.state.config().clone();
    let url = config.database_url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    config.database.url = Some(format!("{scheme}://{role}:writer-secret@{host}"));
    config.database.migrate_on_start = false;
    let writer = babyshield_server::open_store(&config).await.unwrap();

    let import = |jsonl: String| {
        let writer = &writer;
        async move {
            let live = babyshield_server::import::IndexUpkeep::Live;
            babyshield_server::import::import_jsonl(
                writer,
                std::io::Cursor::new(jsonl),
                Some(100),
                live,
                |_| {},
            )
            .await
            .unwrap()
        }
    };
    let report = import(FIXTURES.to_string()).await;
    assert!(report.inserted > 10 && report.rejected == 0, "{report:?}");
    writer.pending_lists_merged().await;
    // Refused, so the rows are still pending (19 recalls are far from the
    // 1 MB at which the writer merges): the owner's merge finds them.
    let (search, title) = merge_pending_lists(owner).await;
    assert!(search > 0 && title > 0, "pending pages: {search}, {title}");
    // And the next write is not held up by a merge it may not run.
    let report = import(retitled()).await;
    assert!(report.updated > 10, "{report:?}");
    writer.close().await;
    for sql in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(owner).await.unwrap();
    }
}

/// Merges both full-text indexes' pending lists, returning how many pages
/// each held.
async fn merge_pending_lists(pool: &sqlx::PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT gin_clean_pending_list('recalls_search'::regclass), \
         gin_clean_pending_list('recalls_search_title'::regclass)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The fixture with every title changed: each recall is updated.
fn retitled() -> String {
    FIXTURES.replace("\"title\": \"", "\"title\": \"Updated ")
}

/// First start of an empty database loads the bundled sample, so a new
/// installation answers real questions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_database_starts_with_the_bundled_sample_recalls() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.database.load_sample_data = true).await;
    let (_, body) = search(&app, json!({"query": "crib"})).await;
    assert!(body["data"]["total"].as_i64().unwrap() >= 10, "{body}");
    let (_, stats) = json(app.get("/api/v1/recalls/stats").await).await;
    assert!(stats["data"]["total"].as_i64().unwrap() >= 300);
    assert!(stats["data"]["byAgency"].as_array().unwrap().len() >= 8);
}
