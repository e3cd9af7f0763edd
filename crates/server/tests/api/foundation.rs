//! Issue: service foundation. Envelopes, request ids, health, metrics,
//! error handling and bad input, on SQLite and PostgreSQL.

use serde_json::json;

use crate::harness::{Db, TestApp, json};

crate::on_both_databases!(
    liveness_answers_with_the_contract_shape,
    readiness_checks_the_database,
    request_id_from_the_client_is_echoed_in_header_and_envelope,
    request_id_is_generated_when_absent,
    invalid_request_id_header_is_a_400_that_names_the_header,
    unknown_route_is_a_404_envelope_and_wrong_method_a_405,
    malformed_json_wrong_content_type_and_oversized_bodies_are_4xx_envelopes,
    every_response_carries_the_api_version,
    detailed_health_requires_the_operator_token,
    metrics_count_requests_by_route_and_status,
    dependencies_are_listed_with_status_and_latency,
    migrations_are_idempotent,
    exhausted_pool_answers_503_not_a_hang,
    the_api_is_described_in_openapi_3_1_and_browsable_offline,
);

async fn liveness_answers_with_the_contract_shape(db: Db) {
    let app = TestApp::spawn(db).await;
    for path in ["/health", "/health/live", "/api/v1/healthz"] {
        let (status, body) = json(app.get(path).await).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["ok"], true);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["service"], "babyshield");
        assert!(body["version"].is_string() && body["timestamp"].as_str().unwrap().contains('T'));
    }
}

async fn readiness_checks_the_database(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, body) = json(app.get("/health/ready").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["dependencies"][0]["name"], "database");
    assert_eq!(body["dependencies"][0]["status"], "up");
}

async fn request_id_from_the_client_is_echoed_in_header_and_envelope(db: Db) {
    let app = TestApp::spawn(db).await;
    for (header, path) in
        [("x-request-id", "/api/v1/agencies"), ("x-correlation-id", "/api/v1/recall/NOPE-1")]
    {
        let response = app.client.get(app.url(path)).header(header, "client-id_42.a:b").send().await.unwrap();
        assert_eq!(response.headers()["x-request-id"], "client-id_42.a:b");
        let (_, body) = json(response).await;
        assert_eq!(body["traceId"], "client-id_42.a:b", "{path}: {body}");
    }
}

async fn request_id_is_generated_when_absent(db: Db) {
    let app = TestApp::spawn(db).await;
    let response = app.get("/api/v1/agencies").await;
    let header = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let (_, body) = json(response).await;
    assert_eq!(header.len(), 32);
    assert_eq!(body["traceId"], header);
}

async fn invalid_request_id_header_is_a_400_that_names_the_header(db: Db) {
    let app = TestApp::spawn(db).await;
    let long = "a".repeat(129);
    for bad in ["has space", "semi;colon", long.as_str()] {
        let response =
            app.client.get(app.url("/api/v1/agencies")).header("x-request-id", bad).send().await.unwrap();
        let generated = response.headers()["x-request-id"].to_str().unwrap().to_string();
        let (status, body) = json(response).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "BAD_REQUEST");
        assert!(body["error"]["message"].as_str().unwrap().contains("x-request-id"), "{body}");
        assert_eq!(body["traceId"], generated);
    }
}

async fn unknown_route_is_a_404_envelope_and_wrong_method_a_405(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, body) = json(app.get("/api/v1/nothing-here").await).await;
    assert_eq!(status, 404);
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    let (status, body) = json(app.client.delete(app.url("/api/v1/agencies")).send().await.unwrap()).await;
    assert_eq!(status, 405);
    assert_eq!(body["ok"], false);
    assert!(body["error"]["message"].as_str().unwrap().contains("DELETE"));
}

async fn malformed_json_wrong_content_type_and_oversized_bodies_are_4xx_envelopes(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.server.max_body_bytes = 4096).await;
    let url = app.url("/api/v1/search/advanced");
    let send = |body: String, content_type: &'static str| {
        app.client.post(url.clone()).header("content-type", content_type).body(body).send()
    };
    let (status, body) = json(send("{\"query\": ".into(), "application/json").await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("malformed JSON"), "{body}");

    let (status, body) =
        json(send("query=crib".into(), "application/x-www-form-urlencoded").await.unwrap()).await;
    assert_eq!(status, 415);
    assert!(body["error"]["message"].as_str().unwrap().contains("application/json"));

    let big = json!({ "query": "x".repeat(10_000) }).to_string();
    let (status, body) = json(send(big, "application/json").await.unwrap()).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");

    let (status, body) = json(send("[1, 2]".into(), "application/json").await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
}

async fn every_response_carries_the_api_version(db: Db) {
    let app = TestApp::spawn(db).await;
    for path in ["/health", "/api/v1/agencies", "/missing", "/metrics", "/openapi.json"] {
        let response = app.get(path).await;
        assert_eq!(response.headers()["x-api-version"], "v1", "{path}");
    }
}

async fn detailed_health_requires_the_operator_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, body) = json(app.get("/health/detailed").await).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    let wrong = app.client.get(app.url("/health/detailed")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);

    let token = app.state.secrets().operator_token.expose().to_string();
    let (status, body) =
        json(app.client.get(app.url("/health/detailed")).bearer_auth(token).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["status"], "ready");
    assert!(data["version"].is_string() && data["gitRevision"].is_string());
    assert!(data["uptimeSeconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(data["database"]["migrations"]["applied"], data["database"]["migrations"]["latest"]);
    assert!(data["database"]["pool"]["max"].as_u64().unwrap() >= 1);
}

fn counter(metrics: &str, route: &str, status: u16) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter(|l| l.contains(&format!("route=\"{route}\"")) && l.contains(&format!("status=\"{status}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics_count_requests_by_route_and_status(db: Db) {
    let app = TestApp::spawn(db).await;
    let before = app.get("/metrics").await.text().await.unwrap();
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/recall/CPSC-404").await.status(), 404);
    }
    let after = app.get("/metrics").await.text().await.unwrap();
    // Other tests in this process may add to the same counter: at least ours.
    assert!(
        counter(&after, "/api/v1/recall/{*id}", 404) >= counter(&before, "/api/v1/recall/{*id}", 404) + 3.0
    );
    assert!(after.contains("http_request_duration_seconds_bucket{"));
    assert!(after.contains("http_requests_in_flight"));
    assert!(after.contains("db_pool_connections{state=\"idle\"}"));
    assert!(after.contains("babyshield_build_info{"));
}

async fn dependencies_are_listed_with_status_and_latency(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, body) = json(app.get("/health/dependencies").await).await;
    assert_eq!(status, 200);
    let deps = body["data"]["dependencies"].as_array().unwrap();
    assert_eq!(deps[0]["name"], "database");
    assert_eq!(deps[0]["status"], "up");
    assert!(deps[0]["latencyMs"].as_f64().unwrap() >= 0.0);
}

async fn migrations_are_idempotent(db: Db) {
    let app = TestApp::spawn(db).await;
    let first = app.state.store().migrate().await.unwrap();
    let second = app.state.store().migrate().await.unwrap();
    assert_eq!(first.applied, second.applied);
    assert_eq!(second.applied, second.latest);
    let (status, body) = json(app.get("/api/v1/agencies").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 42, "agencies seeded exactly once");
}

async fn exhausted_pool_answers_503_not_a_hang(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.database.max_connections = 1;
        c.database.acquire_timeout_ms = 300;
        // Pool exhaustion alone; the breaker has its own test (outages.rs).
        c.database.breaker.failures = 1_000;
    })
    .await;
    let held = match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => Err(p.acquire().await.unwrap()),
        babyshield_storage::Pool::Postgres(p) => Ok(p.acquire().await.unwrap()),
    };
    let response = app.get("/api/v1/agencies").await;
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = json(response).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(!body["error"]["message"].as_str().unwrap().contains("pool"), "5xx bodies stay opaque: {body}");
    drop(held);
    assert_eq!(app.get("/api/v1/agencies").await.status(), 200);
}

async fn the_api_is_described_in_openapi_3_1_and_browsable_offline(db: Db) {
    let app = TestApp::spawn(db).await;
    let (status, spec) = json(app.get("/openapi.json").await).await;
    assert_eq!(status, 200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"), "{}", spec["openapi"]);
    let paths = spec["paths"].as_object().unwrap();
    for path in [
        "/api/v1/healthz",
        "/health/ready",
        "/health/detailed",
        "/api/v1/agencies",
        "/api/v1/search/advanced",
        "/api/v1/recall/{id}",
        "/api/v1/recalls",
        "/api/v1/recalls/stats",
        "/api/v1/lookup/barcode/{code}",
        "/api/v1/auth/register",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/me",
        "/api/v1/account",
        "/api/v1/admin/audit",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the OpenAPI document");
    }
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger") && !html.contains("cdn."), "served from the binary");
}

/// `database.sqlite_cache_mib` reaches every SQLite connection's page cache.
#[tokio::test]
async fn the_sqlite_page_cache_follows_the_configuration() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.database.sqlite_cache_mib = 7).await;
    let babyshield_storage::Pool::Sqlite(pool) = app.state.store().pool() else { panic!("a SQLite store") };
    let mut seen = Vec::new();
    // Two connections held at once: the setting is per connection.
    let (mut a, mut b) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
    for conn in [&mut a, &mut b] {
        let size: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(&mut **conn).await.unwrap();
        seen.push(size);
    }
    assert_eq!(seen, [-7 * 1024, -7 * 1024], "negative: KiB");
}
