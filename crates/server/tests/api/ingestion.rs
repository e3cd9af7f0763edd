//! Issue: ingestion. Each source's real-format fixture goes end to end into
//! the catalogue; re-ingesting changes nothing; bad records are quarantined;
//! a malformed page fails cleanly, on SQLite and PostgreSQL.

use babyshield_ingest::Source;
use babyshield_server::ingest::ingest_page;
use serde_json::json;

use crate::harness::{Db, TestApp, json};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../ingest/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const PAGES: &[(Source, &str)] = &[
    (Source::Cpsc, "cpsc_recalls.json"),
    (Source::FdaFood, "openfda_food_enforcement.json"),
    (Source::FdaDrug, "openfda_drug_enforcement.json"),
    (Source::FdaDevice, "openfda_device_enforcement.json"),
    (Source::HealthCanada, "health_canada_recent.json"),
];

crate::on_both_databases!(
    every_source_ingests_end_to_end_and_reingesting_changes_nothing,
    bad_records_are_quarantined_and_shown_to_admins,
    a_malformed_page_fails_cleanly_and_writes_nothing,
);

async fn every_source_ingests_end_to_end_and_reingesting_changes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let store = app.state.store();
    for (source, file) in PAGES {
        let body = fixture(file);
        let first = ingest_page(store, *source, &body, "file").await.unwrap();
        assert_eq!(first.status, "succeeded", "{file}: {first:?}");
        assert!(first.inserted > 0, "{file}: {first:?}");
        let before = store.count_recalls().await.unwrap();
        let again = ingest_page(store, *source, &body, "file").await.unwrap();
        assert_eq!((again.inserted, again.updated), (0, 0), "{file}: re-ingesting rewrites nothing");
        assert_eq!(again.unchanged, first.inserted + first.updated + first.unchanged);
        assert_eq!(store.count_recalls().await.unwrap(), before, "{file}: no duplicates");
    }
    app.state.catalogue().refresh_vocabulary().await.unwrap();
    // What went in is served by the catalogue like any other recall.
    let (status, list) = json(app.get("/api/v1/recalls?agency=CPSC&limit=50").await).await;
    assert_eq!(status, 200);
    let id = list["data"]["items"][0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("CPSC-"));
    let (status, detail) = json(app.get(&format!("/api/v1/recall/{id}")).await).await;
    assert_eq!(status, 200, "{detail}");
    let (_, fda) = json(app.get("/api/v1/recalls?agency=FDA&limit=50").await).await;
    assert!(fda["data"]["total"].as_i64().unwrap() > 0);
    let (_, hc) = json(app.get("/api/v1/recalls?agency=HEALTH_CANADA&limit=50").await).await;
    assert!(hc["data"]["total"].as_i64().unwrap() > 0);
}

async fn bad_records_are_quarantined_and_shown_to_admins(db: Db) {
    let app = TestApp::spawn(db).await;
    let run =
        ingest_page(app.state.store(), Source::Cpsc, &fixture("cpsc_recalls.json"), "file").await.unwrap();
    assert_eq!(run.status, "succeeded");
    assert!(run.quarantined > 0, "the fixture holds bad records: {run:?}");
    assert_eq!(run.fetched, run.inserted + run.quarantined);

    let admin = app.admin_token("ops@example.com").await;
    let get = |path: String| app.client.get(app.url(&path)).bearer_auth(&admin).send();
    let (status, runs) = json(get("/api/v1/admin/ingest/runs?source=cpsc".into()).await.unwrap()).await;
    assert_eq!(status, 200, "{runs}");
    assert_eq!(runs["data"][0]["id"], run.id);
    assert_eq!(runs["data"][0]["quarantined"], run.quarantined);
    let (status, bad) =
        json(get(format!("/api/v1/admin/ingest/runs/{}/quarantine", run.id)).await.unwrap()).await;
    assert_eq!(status, 200);
    let items = bad["data"].as_array().unwrap();
    assert_eq!(items.len() as i64, run.quarantined);
    assert!(items.iter().all(|q| !q["error"].as_str().unwrap().is_empty()));
    let (status, _) = json(get("/api/v1/admin/ingest/runs?source=nope".into()).await.unwrap()).await;
    assert_eq!(status, 400);
}

async fn a_malformed_page_fails_cleanly_and_writes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let store = app.state.store();
    for (source, body) in [
        (Source::Cpsc, b"[{\"RecallID\": 1, \"Title\": \"cut off".to_vec()),
        (Source::FdaFood, json!({"results": "not a list"}).to_string().into_bytes()),
        (Source::HealthCanada, b"<html>maintenance</html>".to_vec()),
    ] {
        let run = ingest_page(store, source, &body, "file").await.unwrap();
        assert_eq!(run.status, "failed", "{run:?}");
        assert!(run.error.as_deref().is_some_and(|e| !e.is_empty()));
        assert_eq!((run.inserted, run.quarantined), (0, 0));
    }
    assert_eq!(store.count_recalls().await.unwrap(), 0, "nothing half-written");
    let runs = store.ingest_runs(None, 10).await.unwrap();
    assert_eq!(runs.len(), 3, "failed runs are recorded too");
}
