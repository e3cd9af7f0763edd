//! Failure modes, tested rather than assumed: the database going away and
//! coming back, and a handler that panics.

use std::{future::Future, time::Duration};

use axum::{Router, body::Body, http::Request, routing::get};
use tower::ServiceExt;

use crate::harness::{Db, Proxy, TestApp, fresh_pg_database, json, test_config};

/// Polls `path` until it answers `status` (bounded; no timing assertion).
async fn eventually(app: &TestApp, path: &str, status: u16) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        let (s, body) = json(app.get(path).await).await;
        if s == status {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never answered {status}; last body: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_naming_the_database_when_it_stops_and_200_when_it_returns() {
    let database = fresh_pg_database().await;
    let (prefix, rest) = database.url().split_once("@").unwrap();
    let (host_port, db_name) = rest.split_once('/').unwrap();
    let proxy = Proxy::start(host_port.parse().unwrap()).await;
    let via_proxy = format!("{prefix}@{}/{db_name}", proxy.addr);

    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), &via_proxy);
    config.database.breaker.open_secs = 1;
    let app = TestApp::start(config, dir).await.holding(database);
    eventually(&app, "/health/ready", 200).await;

    proxy.block();
    let body = eventually(&app, "/health/ready", 503).await;
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(body["error"]["message"].as_str().unwrap().contains("database"), "{body}");
    // Liveness never touches the database.
    assert_eq!(app.get("/health/live").await.status(), 200);
    // Data endpoints degrade to 503, not 500 or a hang.
    let (status, body) = json(app.get("/api/v1/agencies").await).await;
    assert_eq!(status, 503, "{body}");

    proxy.unblock();
    eventually(&app, "/health/ready", 200).await;
    eventually(&app, "/api/v1/recalls", 200).await;
    app.stop().await.unwrap();
}

fn breaker_state(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with("circuit_breaker_state{") && l.contains("dependency=\"database\""))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_breaker_opens_refuses_fast_half_opens_and_closes_against_a_real_outage() {
    let database = fresh_pg_database().await;
    let (prefix, rest) = database.url().split_once("@").unwrap();
    let (host_port, db_name) = rest.split_once('/').unwrap();
    let proxy = Proxy::start(host_port.parse().unwrap()).await;
    let via_proxy = format!("{prefix}@{}/{db_name}", proxy.addr);
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), &via_proxy);
    config.database.breaker.failures = 3;
    config.database.breaker.open_secs = 1;
    config.database.read_retries = 0;
    // Pages whose documents are all in memory answer without the database
    // (an empty page from the index alone, a cached one from the document
    // cache): without the document cache every non-empty page reads it.
    config.search.document_cache_mib = 0;
    let app = TestApp::start(config, dir).await.holding(database);
    // One recall, so a list page reads its document from the database.
    let line = r#"{"id":"CPSC-77001","agencyCode":"CPSC","title":"Crib","recallDate":"2024-05-01"}"#;
    app.import(line).await;
    eventually(&app, "/api/v1/recalls", 200).await;

    proxy.block();
    let mut opened = false;
    for _ in 0..20 {
        let (status, _) = json(app.get("/api/v1/recalls?limit=1").await).await;
        assert_eq!(status, 503, "an unavailable database is a 503, never a 500");
        let metrics = app.get("/metrics").await.text().await.unwrap();
        if breaker_state(&metrics) == Some(2.0) {
            opened = true;
            break;
        }
    }
    assert!(opened, "the breaker opens after repeated failures");
    let (status, body) = json(app.get("/api/v1/recalls?limit=2").await).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");

    proxy.unblock();
    // After open_secs one trial call goes through, succeeds, and closes it.
    eventually(&app, "/api/v1/recalls?limit=3", 200).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(breaker_state(&metrics), Some(0.0), "closed again");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_a_500_envelope_and_the_server_lives_on() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let routes: Router = Router::new().route("/boom", get(boom)).route("/fine", get(|| async { "fine" }));
    let router = babyshield_server::middleware::apply(routes, &app.state);

    let request = Request::get("/boom").header("x-request-id", "panic-1").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["x-request-id"], "panic-1");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
    assert_eq!(body["traceId"], "panic-1");
    assert!(!body.to_string().contains("secret internal detail"));

    let response = router.oneshot(Request::get("/fine").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
}

async fn boom() -> &'static str {
    panic!("secret internal detail")
}

crate::on_both_databases!(a_cancelled_search_never_leaves_its_connection_inside_a_transaction);

/// A request dropped while its search opens the read snapshot (a client
/// that disconnects, a timeout) must not hand the connection back to the
/// pool inside that read-only transaction: the next borrower's write would
/// fail ("cannot execute UPDATE in a read-only transaction", seen on
/// PostgreSQL while a benchmark's clients disconnected). One connection, so
/// every write reuses the connection of the search cancelled before it; the
/// cancellation points sweep the whole duration of a search. The search
/// runs in the database (the in-memory index opens no snapshot).
async fn a_cancelled_search_never_leaves_its_connection_inside_a_transaction(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.database.max_connections = 1).await;
    let line = |i: usize| {
        serde_json::json!({"id": "CANCEL-1", "agencyCode": "CPSC", "title": format!("Crib sheet version {i}"),
                           "recallDate": "2024-05-01"})
    };
    let report = app.import(&format!("{}\n", line(0))).await;
    assert_eq!(report.inserted, 1, "{report:?}");
    let store = app.state.store();
    let query = babyshield_storage::recalls::RecallQuery {
        groups: vec![babyshield_storage::recalls::TermGroup { term: "crib".into(), variants: vec![] }],
        id: None,
        filters: Default::default(),
    };
    let mut cancelled = 0;
    for i in 1..=300 {
        // Polled 1 to 6 times, 1 ms apart, then dropped: the first poll
        // sends BEGIN, later ones stop at each following round trip.
        let finished = {
            let mut search = std::pin::pin!(store.search_in_database(&query, None, 0, 5));
            let mut finished = false;
            for poll in 0..(1 + i % 6) {
                if poll > 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let polled =
                    std::future::poll_fn(|cx| std::task::Poll::Ready(search.as_mut().poll(cx))).await;
                if polled.is_ready() {
                    finished = true;
                    break;
                }
            }
            finished
        };
        if !finished {
            cancelled += 1;
        }
        let recall = babyshield_domain::Recall::from_json_line(&line(i).to_string()).unwrap();
        let outcome = store.upsert_recalls(&[recall]).await.unwrap_or_else(|e| panic!("write {i}: {e}"));
        assert_eq!(outcome.updated, 1, "write {i}");
    }
    assert!(cancelled >= 100, "only {cancelled} of 300 searches were dropped unfinished");
}
