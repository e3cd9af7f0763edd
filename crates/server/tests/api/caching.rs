//! Issue: response caching. Cache hits, ETag/304, `Cache-Control`,
//! invalidation across instances through the catalogue generation, and
//! Redis dying and coming back, against real Redis servers.

use std::{process::Stdio, time::Duration};

use serde_json::{Value, json};

use crate::harness::{Db, TestApp, json, test_config};

const FIXTURES: &str = include_str!("../fixtures/recalls.jsonl");
const DETAIL: &str = "/api/v1/recall/CPSC-10001";
const OLD_TITLE: &str = "Pacifier Clips Recalled Due to Choking Hazard";
const ADMIN_EMAIL: &str = "cache-admin@example.com";

async fn loaded(tweak: impl FnOnce(&mut babyshield_server::config::Config)) -> TestApp {
    let app = TestApp::spawn_with(Db::Sqlite, tweak).await;
    let report = app.import(FIXTURES).await;
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    app
}

/// Keys no other test, and no earlier run of the suite, can share in the
/// Redis the suite shares.
fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("bs-test-cache:{}:{nanos}", std::process::id())
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_string())
}

async fn cache_report(app: &TestApp, token: &str) -> Value {
    let response = app.client.get(app.url("/api/v1/admin/cache")).bearer_auth(token).send().await.unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

fn counts(report: &Value, class: &str) -> (u64, u64) {
    let class = &report["classes"][class];
    (class["hits"].as_u64().unwrap(), class["misses"].as_u64().unwrap())
}

async fn conditional_get(app: &TestApp, path: &str, if_none_match: &str) -> reqwest::Response {
    app.client.get(app.url(path)).header("if-none-match", if_none_match).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_detail_or_barcode_lookup_is_a_cache_hit_with_the_same_data() {
    let app = loaded(|_| {}).await;
    let token = app.admin_token(ADMIN_EMAIL).await;
    for path in [DETAIL, "/api/v1/lookup/barcode/012345678905"] {
        let (_, first) = json(app.get(path).await).await;
        let (status, second) = json(app.get(path).await).await;
        assert_eq!(status, 200, "{second}");
        assert_eq!(first["data"], second["data"]);
    }
    let report = cache_report(&app, &token).await;
    assert_eq!(counts(&report, "detail"), (1, 1), "{report}");
    assert_eq!(counts(&report, "barcode"), (1, 1), "{report}");
    let detail = &report["classes"]["detail"];
    assert_eq!(detail["hitRatio"], 0.5);
    assert_eq!(detail["entries"], 1);
    assert!(detail["bytes"].as_u64().unwrap() > 100, "{detail}");
    assert_eq!(detail["ttlSecs"], 300);
    assert_eq!(report["generation"], app.state.store().catalogue_generation().await.unwrap());
    assert_eq!(report["redis"], Value::Null, "no Redis configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_gets_send_an_etag_and_a_matching_if_none_match_gets_304_without_a_body() {
    let app = loaded(|_| {}).await;
    for path in [
        "/api/v1/agencies",
        "/api/v1/recalls/stats",
        DETAIL,
        "/api/v1/lookup/barcode/012345678905",
        "/api/v1/lookup/barcode?code=012345678905",
        "/api/v1/recalls?agency=CPSC&limit=2",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "cache-control").as_deref(), Some("public, no-cache"), "{path}");
        let etag = header(&response, "etag").unwrap_or_else(|| panic!("{path} has no ETag"));
        assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");

        for given in
            [etag.clone(), "*".into(), format!("\"other\", {etag}"), etag.trim_start_matches("W/").into()]
        {
            let response = conditional_get(&app, path, &given).await;
            assert_eq!(response.status(), 304, "{path} with If-None-Match {given}");
            assert_eq!(header(&response, "etag").as_deref(), Some(etag.as_str()));
            assert!(header(&response, "x-request-id").is_some());
            assert!(response.bytes().await.unwrap().is_empty(), "a 304 has no body");
        }
        let stale = conditional_get(&app, path, "W/\"0000000000000000\"").await;
        assert_eq!(stale.status(), 200, "{path}");
    }

    let before = header(&app.get(DETAIL).await, "etag").unwrap();
    app.import(&FIXTURES.replace(OLD_TITLE, "Pacifier Clips Recalled (updated)")).await;
    let response = conditional_get(&app, DETAIL, &before).await;
    assert_eq!(response.status(), 200, "the recall changed: the old ETag no longer matches");
    let after = header(&response, "etag").unwrap();
    assert_ne!(after, before);
    let (_, body) = json(response).await;
    assert_eq!(body["data"]["title"], "Pacifier Clips Recalled (updated)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_keep_the_envelope_with_the_request_id_as_trace_id() {
    let app = loaded(|_| {}).await;
    for (i, path) in [DETAIL, DETAIL, "/api/v1/agencies", "/api/v1/agencies"].iter().enumerate() {
        let id = format!("cache-trace-{i}");
        let response = app.client.get(app.url(path)).header("x-request-id", &id).send().await.unwrap();
        assert_eq!(header(&response, "x-request-id").as_deref(), Some(id.as_str()));
        assert_eq!(header(&response, "content-type").as_deref(), Some("application/json"));
        let (status, body) = json(response).await;
        assert_eq!(status, 200);
        assert_eq!(body["traceId"], id.as_str(), "{body}");
        assert_eq!(body["ok"], true);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "exactly ok, data, traceId: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_spelled_differently_share_one_entry_and_are_never_stored_by_clients() {
    let app = loaded(|_| {}).await;
    let token = app.admin_token(ADMIN_EMAIL).await;
    let spellings = [
        json!({"query": "choking hazard", "agencies": ["CPSC", "HEALTH_CANADA"], "limit": 5}),
        json!({"limit": 5, "product": "choking hazard", "agencies": ["HEALTH_CANADA", "CPSC"]}),
    ];
    let mut answers = Vec::new();
    for (i, body) in spellings.iter().enumerate() {
        let id = format!("search-trace-{i}");
        let response = app
            .client
            .post(app.url("/api/v1/search/advanced"))
            .header("x-request-id", &id)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, "cache-control").as_deref(), Some("no-store"));
        assert_eq!(header(&response, "etag"), None);
        let (status, answer) = json(response).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["traceId"], id.as_str());
        answers.push(answer["data"].clone());
    }
    assert_eq!(answers[0], answers[1]);
    assert!(!answers[0]["items"].as_array().unwrap().is_empty());
    assert_eq!(counts(&cache_report(&app, &token).await, "search"), (1, 1));

    // Errors are not cached: the same bad request fails the same way twice.
    for _ in 0..2 {
        let (status, body) = json(app.post_json("/api/v1/search/advanced", &json!({"limit": 0})).await).await;
        assert_eq!(status, 400, "{body}");
    }
}

/// A pull's page is in the database a moment before it is in the search
/// index (the index applies it beside the next page's write). A search
/// answered in between reflects the index, so it is kept under the index's
/// generation, not the newer one the cache read from the database: once
/// the page is applied, the same search finds the new recall instead of the
/// answer from before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_answered_before_the_index_has_a_write_is_not_kept_as_the_answer_after_it() {
    let app = loaded(|_| {}).await;
    let token = app.admin_token(ADMIN_EMAIL).await;
    let store = app.state.store();
    let search = || async {
        let body = json!({"query": "wombat", "limit": 5});
        let (status, answer) = json(app.post_json("/api/v1/search/advanced", &body).await).await;
        assert_eq!(status, 200, "{answer}");
        answer["data"]["items"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect::<Vec<_>>()
    };
    assert!(search().await.is_empty());

    let line =
        json!({"id": "CPSC-70001", "agencyCode": "CPSC", "title": "Wombat crib", "recallDate": "2024-05-01"});
    let recall = babyshield_domain::Recall::from_json_line(&line.to_string()).unwrap();
    let batch = babyshield_storage::recalls::PreparedRecalls::new(vec![recall], store.backend()).unwrap();
    let (_, update) = store.write_prepared_in_background(batch).await.unwrap();
    let committed = store.catalogue_generation().await.unwrap();
    app.state.catalogue().cache().observe_generation(committed);
    assert_eq!(store.search_index_generation(), Some(committed - 1));
    assert!(search().await.is_empty(), "the index answers as before the write until it is applied");

    store.index_written(update).await;
    assert_eq!(search().await, vec![json!("CPSC-70001")]);
    // The new generation emptied the local tier; the answer from before
    // the write was kept under the index's generation, never the new one.
    assert_eq!(counts(&cache_report(&app, &token).await, "search"), (0, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_answers_are_no_store_and_the_cache_page_is_for_admins_only() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let password = "Test123!";
    let (status, registered) = json(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": "parent@example.com", "password": password, "confirm_password": password}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    let user = registered["data"]["access_token"].as_str().unwrap().to_string();
    let get = |path: &str, token: &str| app.client.get(app.url(path)).bearer_auth(token).send();

    let me = get("/api/v1/auth/me", &user).await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(header(&me, "cache-control").as_deref(), Some("no-store"));
    let refused = get("/api/v1/admin/cache", &user).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(header(&refused, "cache-control").as_deref(), Some("no-store"));
    let anonymous = app.get("/api/v1/admin/cache").await;
    assert_eq!(anonymous.status(), 401);

    let admin = app.admin_token(ADMIN_EMAIL).await;
    for path in ["/api/v1/admin/cache", "/api/v1/admin/audit"] {
        let response = get(path, &admin).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "cache-control").as_deref(), Some("no-store"), "{path}");
    }
    let report = cache_report(&app, &admin).await;
    let classes: Vec<&String> = report["classes"].as_object().unwrap().keys().collect();
    assert_eq!(classes, ["agencies", "barcode", "detail", "list", "search", "stats"]);
    assert_eq!(report["classes"]["agencies"]["ttlSecs"], 3600);
    assert_eq!(report["enabled"], true);
    // Errors are personal too (they name what the client sent).
    let missing = app.get("/api/v1/recall/CPSC-404").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "cache-control").as_deref(), Some("no-store"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_through_another_instance_reaches_this_instances_cache_within_a_poll() {
    let url = std::env::var("BABYSHIELD_TEST_REDIS_URL").expect("run through ./scripts/test (starts Redis)");
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let mut config = test_config(dir.path(), &db_url);
    config.redis.url = Some(url);
    config.cache.key_prefix = unique_prefix();
    config.cache.generation_poll_ms = 200;
    let one = TestApp::start(config.clone(), tempfile::tempdir().unwrap()).await;
    one.import(FIXTURES).await;
    let two = TestApp::start(config, tempfile::tempdir().unwrap()).await;
    let token = one.admin_token(ADMIN_EMAIL).await;

    let (_, first) = json(one.get(DETAIL).await).await;
    assert_eq!(first["data"]["title"], OLD_TITLE);
    let (_, shared) = json(two.get(DETAIL).await).await;
    assert_eq!(shared["data"], first["data"]);
    assert_eq!(
        two.state.catalogue().cache().report().classes["detail"].redis_hits,
        1,
        "the second instance found the first one's answer in Redis"
    );
    let (_, again) = json(one.get(DETAIL).await).await;
    assert_eq!(again["data"]["title"], OLD_TITLE);
    assert_eq!(counts(&cache_report(&one, &token).await, "detail"), (1, 1));

    // The import runs in the second instance; the first learns of it only
    // through the database's generation.
    two.import(&FIXTURES.replace(OLD_TITLE, "Pacifier Clips Recalled (updated)")).await;
    let started = std::time::Instant::now();
    loop {
        let (status, body) = json(one.get(DETAIL).await).await;
        assert_eq!(status, 200, "{body}");
        if body["data"]["title"] == "Pacifier Clips Recalled (updated)" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still stale after 5 s: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, from_two) = json(two.get(DETAIL).await).await;
    assert_eq!(from_two["data"]["title"], "Pacifier Clips Recalled (updated)", "fresh at once where it ran");
}

/// A Redis server of the test's own, so the test can kill and restart it.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    async fn start(port: u16) -> OwnRedis {
        let binary = std::env::var("BABYSHIELD_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = std::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        // Owned before waiting, so a panic below still kills and reaps it.
        let redis = OwnRedis { port, child: Some(child) };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn cached_keys(url: &str) -> Option<usize> {
    let client = redis::Client::open(url).ok()?;
    let mut connection = client.get_multiplexed_async_connection().await.ok()?;
    let keys: Vec<String> =
        redis::cmd("KEYS").arg("babyshield:cache:*").query_async(&mut connection).await.ok()?;
    Some(keys.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_costs_no_5xx_and_the_cache_uses_redis_again_when_it_is_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut redis = OwnRedis::start(port).await;
    let url = redis.url();
    let app = loaded(|c| {
        c.redis.url = Some(url.clone());
        c.redis.timeout_ms = 200;
        c.redis.breaker.open_secs = 1;
    })
    .await;
    assert_eq!(app.get(DETAIL).await.status(), 200);
    assert_eq!(cached_keys(&url).await, Some(1), "the answer went to Redis");

    redis.kill();
    let paths = |i: u32| {
        [
            DETAIL.to_string(),
            "/api/v1/recalls/stats".to_string(),
            "/api/v1/lookup/barcode/012345678905".to_string(),
            format!("/api/v1/recalls?limit={}", 1 + i % 50),
        ]
    };
    for i in 0..15 {
        for path in paths(i) {
            let response = app.get(&path).await;
            assert_eq!(response.status(), 200, "Redis down must not cost a single error: {path}");
        }
    }
    let search = app.post_json("/api/v1/search/advanced", &json!({"query": "crib"})).await;
    assert_eq!(search.status(), 200);

    let redis = OwnRedis::start(port).await;
    let mut back = false;
    for i in 0..60 {
        // A page not asked for yet: a miss, so it is written to Redis.
        let response = app.get(&format!("/api/v1/recalls?agency=CPSC&limit={}", 1 + i % 50)).await;
        assert_eq!(response.status(), 200);
        if cached_keys(&redis.url()).await.is_some_and(|n| n > 0) {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "once Redis is back the cache writes to it again");
}
