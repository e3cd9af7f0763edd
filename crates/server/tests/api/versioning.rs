//! Issue #6 item 7: API versioning. `/api/v2` lists and search (cursor-only,
//! `{data, page}` and `{error}` envelopes), `Deprecation`/`Sunset`/`Link`
//! on the v1 routes v2 supersedes, v1 bodies unchanged, and an OpenAPI
//! document that describes both.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::{
    family::{call, fixture_recalls, run_jobs, signup},
    harness::{Db, TestApp, json},
};

const FIXTURES: &str = include_str!("../fixtures/recalls.jsonl");

const DEPRECATION: &str = "@1795305600";
const SUNSET: &str = "Mon, 22 Nov 2027 00:00:00 GMT";

crate::on_both_databases!(
    v2_catalogue_pages_by_cursor_with_the_same_items_as_v1,
    v2_family_lists_page_by_cursor_with_the_same_items_as_v1,
    v2_envelope_headers_and_conditional_requests,
    v2_errors_have_the_v2_shape_with_v1_codes_and_statuses,
    offset_is_refused_on_v2_search,
    superseded_v1_routes_announce_deprecation_and_others_do_not,
    v1_bodies_are_unchanged,
);

/// No rate limits (the walks make many requests), no background workers
/// (the tests run the alert jobs themselves).
async fn spawn(db: Db) -> TestApp {
    TestApp::spawn_with(db, |c| {
        c.rate_limit.enabled = false;
        c.jobs.workers = 0;
        c.family.webhook_allow_private = true;
    })
    .await
}

async fn loaded(db: Db) -> TestApp {
    let app = spawn(db).await;
    let report = app.import(FIXTURES).await;
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    app
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().map(String::as_str).collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// Asserts the v2 list shape and returns (items, nextCursor).
fn v2_page(body: &Value) -> (Vec<Value>, Option<String>) {
    assert_eq!(keys(body), set(&["data", "page"]), "{body}");
    assert_eq!(keys(&body["page"]), set(&["nextCursor", "hasMore", "limit"]), "{body}");
    let next = body["page"]["nextCursor"].as_str().map(str::to_string);
    assert_eq!(body["page"]["hasMore"], next.is_some(), "{body}");
    if next.is_none() {
        assert!(body["page"]["nextCursor"].is_null(), "null, not absent, on the last page: {body}");
    }
    (body["data"].as_array().unwrap().clone(), next)
}

/// Walks a v1 list and its v2 twin page by page (GET, cursor in the query)
/// and returns both item sequences.
async fn walk_both(app: &TestApp, token: &str, v1: &str, v2: &str) -> (Vec<Value>, Vec<Value>) {
    let with = |path: &str, cursor: &Option<String>| {
        let sep = if path.contains('?') { '&' } else { '?' };
        match cursor {
            Some(c) => format!("{path}{sep}cursor={c}"),
            None => path.to_string(),
        }
    };
    let (mut old, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let (status, body) = call(app, "GET", &with(v1, &cursor), token, None).await;
        assert_eq!(status, 200, "{v1}: {body}");
        old.extend(body["data"]["items"].as_array().unwrap().iter().cloned());
        cursor = body["data"]["nextCursor"].as_str().map(str::to_string);
        pages += 1;
        if cursor.is_none() {
            break;
        }
    }
    let (mut new, mut cursor, mut v2_pages) = (Vec::new(), None, 0);
    loop {
        let (status, body) = call(app, "GET", &with(v2, &cursor), token, None).await;
        assert_eq!(status, 200, "{v2}: {body}");
        let (items, next) = v2_page(&body);
        new.extend(items);
        cursor = next;
        v2_pages += 1;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, v2_pages, "{v2}: as many pages as v1");
    (old, new)
}

async fn v2_catalogue_pages_by_cursor_with_the_same_items_as_v1(db: Db) {
    let app = loaded(db).await;

    let (v1, v2) =
        walk_both(&app, "", "/api/v1/recalls?agency=CPSC&limit=2", "/api/v2/recalls?agency=CPSC&limit=2")
            .await;
    assert_eq!(v1.len(), 6);
    assert_eq!(v2, v1, "the same recalls in the same order");
    let (v1, v2) = walk_both(&app, "", "/api/v1/recalls?limit=7", "/api/v2/recalls?limit=7").await;
    assert_eq!((v1.len(), v2), (19, v1));

    // Search: v1 pages with nextCursor in the body, and so does v2.
    let query = json!({"query": "recalled", "limit": 3});
    let mut v1_items = Vec::new();
    let mut body = query.clone();
    loop {
        let (status, page) = json(app.post_json("/api/v1/search/advanced", &body).await).await;
        assert_eq!(status, 200, "{page}");
        v1_items.extend(page["data"]["items"].as_array().unwrap().iter().cloned());
        match page["data"]["nextCursor"].as_str() {
            Some(c) => body["nextCursor"] = json!(c),
            None => break,
        }
    }
    let mut v2_items = Vec::new();
    let mut body = query.clone();
    loop {
        let (status, page) = json(app.post_json("/api/v2/search", &body).await).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["page"]["limit"], 3);
        let (items, next) = v2_page(&page);
        v2_items.extend(items);
        match next {
            Some(c) => body["nextCursor"] = json!(c),
            None => break,
        }
    }
    assert!(v1_items.len() > 3, "more than one page");
    assert_eq!(v2_items, v1_items);
    assert!(v2_items.iter().all(|item| item["relevanceScore"].is_number()));

    // Cursors are the same tokens: one issued by v1 continues in v2.
    let (_, first) = json(app.post_json("/api/v1/search/advanced", &query).await).await;
    let cursor = first["data"]["nextCursor"].as_str().unwrap();
    let (status, second) = json(
        app.post_json("/api/v2/search", &json!({"query": "recalled", "limit": 3, "nextCursor": cursor}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["data"].as_array().unwrap()[..], v1_items[3..6]);
}

async fn v2_family_lists_page_by_cursor_with_the_same_items_as_v1(db: Db) {
    let app = spawn(db).await;
    let token = signup(&app, "versions@example.com").await;
    for n in 0..5 {
        let (status, body) = call(
            &app,
            "POST",
            "/api/v1/family/members",
            &token,
            Some(json!({"name": format!("Child {n}"), "ageMonths": n + 1})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let (v1, v2) =
        walk_both(&app, &token, "/api/v1/family/members?limit=2", "/api/v2/family/members?limit=2").await;
    assert_eq!(v1.len(), 5);
    assert_eq!(v2, v1);
    let (_, first) = call(&app, "GET", "/api/v2/family/members?limit=2", &token, None).await;
    assert_eq!(first["page"]["limit"], 2);
    assert_eq!(first["data"][0]["name"], "Child 0", "oldest first, as v1");

    // deleted=true works on v2 as on v1.
    let id = v1[4]["id"].as_str().unwrap();
    let (status, _) = call(&app, "DELETE", &format!("/api/v1/family/members/{id}"), &token, None).await;
    assert_eq!(status, 204);
    let (v1, v2) =
        walk_both(&app, &token, "/api/v1/family/members?deleted=true", "/api/v2/family/members?deleted=true")
            .await;
    assert_eq!((v1.len(), &v2), (1, &v1));
    assert_eq!(v2[0]["id"], id);

    // Watched products, then the alerts they raise, then scan history.
    for body in
        [json!({"barcode": "9340431297480"}), json!({"model": "ZX-100"}), json!({"barcode": "012345678905"})]
    {
        let (status, watched) = call(&app, "POST", "/api/v1/monitoring/products", &token, Some(body)).await;
        assert_eq!(status, 201, "{watched}");
    }
    let (v1, v2) =
        walk_both(&app, &token, "/api/v1/monitoring/products?limit=2", "/api/v2/monitoring/products?limit=2")
            .await;
    assert_eq!((v1.len(), &v2), (3, &v1));

    app.import(&fixture_recalls()).await;
    run_jobs(&app, 1).await;
    let (v1, v2) =
        walk_both(&app, &token, "/api/v1/notifications?limit=2", "/api/v2/notifications?limit=2").await;
    assert_eq!((v1.len(), &v2), (3, &v1));
    let first = v1[0]["id"].as_str().unwrap();
    let (status, _) = call(&app, "POST", &format!("/api/v1/notifications/{first}/read"), &token, None).await;
    assert_eq!(status, 200);
    let (v1, v2) =
        walk_both(&app, &token, "/api/v1/notifications?unread=true", "/api/v2/notifications?unread=true")
            .await;
    assert_eq!((v1.len(), &v2), (2, &v1));

    call(&app, "PUT", "/api/v1/user/preferences", &token, Some(json!({"scanHistory": true}))).await;
    for barcode in ["9340431297480", "012345678905", "5012345678900"] {
        let (status, _) =
            call(&app, "POST", "/api/v1/safety-check", &token, Some(json!({"barcode": barcode}))).await;
        assert_eq!(status, 200);
    }
    let (v1, v2) =
        walk_both(&app, &token, "/api/v1/scan/history?limit=2", "/api/v2/scan/history?limit=2").await;
    assert_eq!((v1.len(), &v2), (3, &v1));
}

async fn v2_envelope_headers_and_conditional_requests(db: Db) {
    let app = loaded(db).await;
    let response = app
        .client
        .get(app.url("/api/v2/recalls?limit=3"))
        .header("x-request-id", "trace-v2-1")
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    assert_eq!(headers["x-api-version"], "v2");
    assert_eq!(headers["x-request-id"], "trace-v2-1");
    assert_eq!(headers["cache-control"], "public, no-cache", "v1's caching policy");
    assert!(headers.get("deprecation").is_none() && headers.get("sunset").is_none());
    let etag = headers["etag"].to_str().unwrap().to_string();
    let text = response.text().await.unwrap();
    assert!(!text.contains("trace-v2-1"), "the request id is only in the header: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let (items, next) = v2_page(&body);
    assert_eq!(items.len(), 3);
    assert!(next.is_some());
    for absent in ["ok", "traceId", "total", "offset", "items"] {
        assert!(body.get(absent).is_none() && body["page"].get(absent).is_none(), "{absent}: {body}");
    }

    // If-None-Match: a 304 without a body, still v2.
    let response = app
        .client
        .get(app.url("/api/v2/recalls?limit=3"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()["x-api-version"], "v2");
    assert!(response.text().await.unwrap().is_empty());

    // Search answers are private, as in v1.
    let response = app.post_json("/api/v2/search", &json!({"query": "pacifier"})).await;
    assert_eq!(response.headers()["x-api-version"], "v2");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, body) = json(response).await;
    assert_eq!(status, 200);
    let (items, next) = v2_page(&body);
    assert_eq!((items.len(), next, body["page"]["limit"].as_u64()), (3, None, Some(20)));

    // v1 still says v1.
    assert_eq!(app.get("/api/v1/recalls").await.headers()["x-api-version"], "v1");
    assert_eq!(app.get("/api/v1/agencies").await.headers()["x-api-version"], "v1");
}

/// Asserts a v2 error body and returns its `error` object.
fn v2_error(body: &Value, code: &str) -> Value {
    assert_eq!(keys(body), set(&["error"]), "no ok, no traceId: {body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body["error"].clone()
}

async fn v2_errors_have_the_v2_shape_with_v1_codes_and_statuses(db: Db) {
    let app = loaded(db).await;
    let token = signup(&app, "errors@example.com").await;

    // The same failure on v1 and v2: same status, code and message.
    for (v1, v2) in [
        ("/api/v1/recalls?limit=0", "/api/v2/recalls?limit=0"),
        ("/api/v1/recalls?colour=red", "/api/v2/recalls?colour=red"),
        ("/api/v1/recalls?cursor=forged", "/api/v2/recalls?cursor=forged"),
        ("/api/v1/family/members?cursor=bm9wZQ", "/api/v2/family/members?cursor=bm9wZQ"),
        ("/api/v1/notifications?unread=maybe", "/api/v2/notifications?unread=maybe"),
        ("/api/v1/scan/history?limit=101", "/api/v2/scan/history?limit=101"),
        ("/api/v1/nope", "/api/v2/nope"),
    ] {
        let (old_status, old) = call(&app, "GET", v1, &token, None).await;
        let (new_status, new) = call(&app, "GET", v2, &token, None).await;
        assert_eq!(new_status, old_status, "{v2}: {new}");
        assert!((400..500).contains(&new_status), "{v2}: {new}");
        let error = v2_error(&new, old["error"]["code"].as_str().unwrap());
        if v1 == "/api/v1/nope" {
            assert_eq!(error["message"], "no route for GET /api/v2/nope");
        } else {
            assert_eq!(error, old["error"], "{v2}");
        }
    }

    let (status, body) = json(app.get("/api/v2/recalls?cursor=forged").await).await;
    assert_eq!(status, 400);
    v2_error(&body, "INVALID_CURSOR");
    let (status, body) = json(app.get("/api/v2/recalls?colour=red").await).await;
    assert_eq!(status, 400);
    assert_eq!(v2_error(&body, "BAD_REQUEST")["unknown"], json!(["colour"]));

    // 401 from the bearer extractor.
    for path in [
        "/api/v2/family/members",
        "/api/v2/monitoring/products",
        "/api/v2/notifications",
        "/api/v2/scan/history",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.headers()["x-api-version"], "v2");
        let (status, body) = json(response).await;
        assert_eq!(status, 401, "{path}");
        v2_error(&body, "UNAUTHORIZED");
    }

    // 404 and 405 from the fallbacks.
    let response = app.get("/api/v2/recall/CPSC-10001").await;
    assert_eq!(response.headers()["x-api-version"], "v2");
    let (status, body) = json(response).await;
    assert_eq!(status, 404);
    v2_error(&body, "NOT_FOUND");
    let (status, body) = json(app.client.delete(app.url("/api/v2/recalls")).send().await.unwrap()).await;
    assert_eq!(status, 405);
    v2_error(&body, "BAD_REQUEST");

    // Malformed JSON (the body extractor) and a search validation error.
    let response = app
        .client
        .post(app.url("/api/v2/search"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, 400);
    assert!(body.get("ok").is_none() && body["error"]["code"].is_string(), "{body}");
    let (status, body) = json(app.post_json("/api/v2/search", &json!({"query": "x"})).await).await;
    assert_eq!(status, 400);
    assert!(v2_error(&body, "INVALID_PARAMETERS")["message"].as_str().unwrap().starts_with("query"));

    // Errors made by middleware before any handler: a refused request id
    // (before routing) and the rate limiter.
    let response =
        app.client.get(app.url("/api/v2/recalls")).header("x-request-id", "bad id!").send().await.unwrap();
    assert_eq!(response.headers()["x-api-version"], "v2");
    let (status, body) = json(response).await;
    assert_eq!(status, 400);
    v2_error(&body, "BAD_REQUEST");

    let limited = TestApp::spawn_with(db, |c| c.rate_limit.search = "2/min".into()).await;
    let mut last = None;
    for _ in 0..3 {
        last = Some(limited.post_json("/api/v2/search", &json!({"query": "pacifier"})).await);
    }
    let response = last.unwrap();
    assert!(response.headers().contains_key("retry-after"));
    let (status, body) = json(response).await;
    assert_eq!(status, 429);
    v2_error(&body, "RATE_LIMITED");

    // A v2 cursor is refused by a different query, as in v1.
    let (_, first) =
        json(app.post_json("/api/v2/search", &json!({"query": "recalled", "limit": 2})).await).await;
    let cursor = first["page"]["nextCursor"].as_str().unwrap();
    let (status, body) = json(
        app.post_json("/api/v2/search", &json!({"query": "crib", "limit": 2, "nextCursor": cursor})).await,
    )
    .await;
    assert_eq!(status, 400);
    v2_error(&body, "INVALID_CURSOR");
}

async fn offset_is_refused_on_v2_search(db: Db) {
    let app = loaded(db).await;
    for offset in [json!(0), json!(3)] {
        let (status, body) =
            json(app.post_json("/api/v2/search", &json!({"query": "pacifier", "offset": offset})).await)
                .await;
        assert_eq!(status, 400, "{body}");
        let error = v2_error(&body, "BAD_REQUEST");
        assert_eq!(error["unknown"], json!(["offset"]));
        assert!(error["message"].as_str().unwrap().contains("offset"), "{body}");
    }
    // With other unknown fields, all are listed; before any validation.
    let (status, body) =
        json(app.post_json("/api/v2/search", &json!({"query": "x", "offset": 1, "colour": "red"})).await)
            .await;
    assert_eq!(status, 400);
    assert_eq!(v2_error(&body, "BAD_REQUEST")["unknown"], json!(["colour", "offset"]));
    // v2 list: offset is an unknown parameter too.
    let (status, body) = json(app.get("/api/v2/recalls?offset=2").await).await;
    assert_eq!(status, 400);
    assert_eq!(v2_error(&body, "BAD_REQUEST")["unknown"], json!(["offset"]));
    // v1 still takes it.
    let (status, body) =
        json(app.post_json("/api/v1/search/advanced", &json!({"query": "pacifier", "offset": 1})).await)
            .await;
    assert_eq!((status, body["data"]["offset"].as_u64()), (200, Some(1)), "{body}");
}

async fn superseded_v1_routes_announce_deprecation_and_others_do_not(db: Db) {
    let app = loaded(db).await;
    let token = signup(&app, "deprecated@example.com").await;
    let send = |method: &str, path: &str, body: Option<Value>| {
        let mut request = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .header("authorization", format!("Bearer {token}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };

    for (method, path, body, successor) in [
        ("POST", "/api/v1/search/advanced", Some(json!({"query": "pacifier"})), "/api/v2/search"),
        ("POST", "/api/v1/search/advanced", Some(json!({"query": "x"})), "/api/v2/search"),
        ("GET", "/api/v1/recalls", None, "/api/v2/recalls"),
        ("GET", "/api/v1/recalls?limit=0", None, "/api/v2/recalls"),
        ("HEAD", "/api/v1/recalls", None, "/api/v2/recalls"),
        ("GET", "/api/v1/family/members", None, "/api/v2/family/members"),
        ("GET", "/api/v1/monitoring/products", None, "/api/v2/monitoring/products"),
        ("GET", "/api/v1/notifications", None, "/api/v2/notifications"),
        ("GET", "/api/v1/scan/history", None, "/api/v2/scan/history"),
    ] {
        let response = send(method, path, body).await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["deprecation"], DEPRECATION, "{method} {path}");
        assert_eq!(headers["sunset"], SUNSET, "{method} {path}");
        assert_eq!(headers["link"], format!("<{successor}>; rel=\"successor-version\""), "{method} {path}");
        assert_eq!(headers["x-api-version"], "v1");
    }
    // A 304 of a deprecated route says so too.
    let etag = app.get("/api/v1/recalls").await.headers()["etag"].clone();
    let response =
        app.client.get(app.url("/api/v1/recalls")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()["deprecation"], DEPRECATION);

    for (method, path, body) in [
        ("GET", "/api/v1/agencies", None),
        ("POST", "/api/v1/safety-check", Some(json!({"barcode": "012345678905"}))),
        ("GET", "/api/v1/recalls/stats", None),
        ("GET", "/api/v1/recall/CPSC-10001", None),
        ("POST", "/api/v1/family/members", Some(json!({"name": "Mia", "ageMonths": 3}))),
        ("GET", "/api/v1/auth/me", None),
        ("GET", "/api/v1/webhooks", None),
        ("GET", "/api/v1/nope", None),
        ("GET", "/api/v2/recalls", None),
        ("POST", "/api/v2/search", Some(json!({"query": "pacifier"}))),
        ("GET", "/api/v2/family/members", None),
        ("GET", "/health", None),
    ] {
        let response = send(method, path, body).await.unwrap();
        assert!(response.status().as_u16() < 500, "{method} {path}");
        for header in ["deprecation", "sunset", "link"] {
            assert!(response.headers().get(header).is_none(), "{method} {path} has {header}");
        }
    }
}

/// Replaces the per-request parts of a v1 body (trace id, cursor).
fn normalized(text: &str, body: &Value) -> String {
    let mut text = text.to_string();
    for volatile in [&body["traceId"], &body["data"]["nextCursor"]] {
        if let Some(value) = volatile.as_str() {
            text = text.replace(value, "<volatile>");
        }
    }
    text
}

async fn v1_bodies_are_unchanged(db: Db) {
    let app = loaded(db).await;
    // Byte for byte what v1 answered before v2 existed (captured then),
    // but for the request id and the cursor (which carries a timestamp).
    let before = concat!(
        r#"{"ok":true,"data":{"items":[{"id":"CPSC-10001","agencyCode":"CPSC","title":"Pacifier Clips Recalled Due to Choking Hazard","#,
        r#""recallDate":"2024-03-14","productName":"Pacifier clip","brand":"TinyTots","upc":"012345678905","hazard":"Choking","#,
        r#""riskCategory":"baby_product","severity":"high","status":"open","description":"The clip can break, releasing small parts.","#,
        r#""relevanceScore":1.0},{"id":"HEALTH_CANADA-RA-20002","agencyCode":"HEALTH_CANADA","title":"Pacifier recalled: nipple can detach","#,
        r#""recallDate":"2023-11-02","productName":"Orthodontic pacifier","brand":"BabyCalm","upc":"012345678905","hazard":"Choking","#,
        r#""riskCategory":"baby_product","severity":"critical","status":"open","description":"Same product sold in Canada.","#,
        r#""relevanceScore":1.0}],"total":3,"limit":2,"offset":0,"nextCursor":"<volatile>","hasMore":true},"traceId":"<volatile>"}"#,
    );
    let response = app.post_json("/api/v1/search/advanced", &json!({"query": "pacifier", "limit": 2})).await;
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(normalized(&text, &body), before);

    let before = r#"{"error":{"code":"INVALID_PARAMETERS","message":"query: must be at least 2 characters"},"ok":false,"traceId":"<volatile>"}"#;
    let response = app.post_json("/api/v1/search/advanced", &json!({"query": "x"})).await;
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(normalized(&text, &body), before);

    // The list keeps its v1 envelope too, and a v2 answer (which shares the
    // cache entry) does not change it.
    let (_, v1) = json(app.get("/api/v1/recalls?limit=2").await).await;
    json(app.get("/api/v2/recalls?limit=2").await).await;
    let (_, again) = json(app.get("/api/v1/recalls?limit=2").await).await;
    assert_eq!(keys(&again), set(&["ok", "data", "traceId"]));
    assert_eq!(keys(&again["data"]), set(&["items", "total", "limit", "offset", "nextCursor", "hasMore"]));
    assert_eq!(again["data"]["items"], v1["data"]["items"]);
    assert_eq!(again["data"]["total"], 19);
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(child, found),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|child| refs(child, found)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_both_versions() {
    let app = loaded(Db::Sqlite).await;
    let (status, doc) = json(app.get("/openapi.json").await).await;
    assert_eq!(status, 200);
    let paths = &doc["paths"];

    let advanced = &paths["/api/v1/search/advanced"]["post"];
    assert_eq!(advanced["deprecated"], true);
    assert!(advanced["description"].as_str().unwrap().contains("/api/v2/search"));
    let search = &paths["/api/v2/search"]["post"];
    assert!(search["deprecated"].is_null() || search["deprecated"] == false, "{search}");
    assert_eq!(search["tags"], json!(["v2"]));
    for (method, path, deprecated) in [
        ("get", "/api/v1/recalls", true),
        ("get", "/api/v1/family/members", true),
        ("get", "/api/v1/monitoring/products", true),
        ("get", "/api/v1/notifications", true),
        ("get", "/api/v1/scan/history", true),
        ("post", "/api/v1/family/members", false),
        ("get", "/api/v1/agencies", false),
        ("get", "/api/v1/recalls/stats", false),
        ("post", "/api/v1/safety-check", false),
    ] {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is documented");
        assert_eq!(operation["deprecated"] == true, deprecated, "{method} {path}");
    }

    // Every route the service answers is documented (but /metrics, the
    // Prometheus scrape, and the docs themselves).
    let documented: BTreeSet<&str> = paths.as_object().unwrap().keys().map(String::as_str).collect();
    for path in [
        "/api/v1/family/members",
        "/api/v1/family/members/{id}",
        "/api/v1/family/members/{id}/restore",
        "/api/v1/safety-check",
        "/api/v1/scan/image",
        "/api/v1/scan/history",
        "/api/v1/search/bulk",
        "/api/v1/monitoring/products",
        "/api/v1/monitoring/products/{id}",
        "/api/v1/notifications",
        "/api/v1/notifications/read-all",
        "/api/v1/notifications/{id}/read",
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
        "/api/v1/user/data/export",
        "/api/v1/user/preferences",
        "/api/v1/admin/ingest/{source}",
        "/api/v2/search",
        "/api/v2/recalls",
        "/api/v2/family/members",
        "/api/v2/monitoring/products",
        "/api/v2/notifications",
        "/api/v2/scan/history",
    ] {
        assert!(documented.contains(path), "{path} is not documented");
    }
    let tags: BTreeSet<&str> =
        doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(tags.contains("family") && tags.contains("v2"), "{tags:?}");

    // Every $ref resolves to a component; every security requirement names
    // a scheme; operation ids are unique.
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.contains(&"#/components/schemas/List_Member"), "{found:?}");
    // Each v1 family list documents its own item type (one generic `Page`
    // schema for all four would describe three of them wrongly).
    for (path, item) in [
        ("/api/v1/family/members", "Member"),
        ("/api/v1/monitoring/products", "WatchedProduct"),
        ("/api/v1/notifications", "Notification"),
        ("/api/v1/scan/history", "ScanEntry"),
    ] {
        let schema = &paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(schema["$ref"], format!("#/components/schemas/Page_{item}"), "{path}");
        let page = doc.pointer(&format!("/components/schemas/Page_{item}")).unwrap();
        assert!(page["properties"]["items"]["items"]["properties"]["id"].is_object(), "{path}: {page}");
    }
    for target in found {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {target}"));
        assert!(doc.pointer(pointer).is_some(), "$ref {target} does not resolve");
    }
    let schemes = &doc["components"]["securitySchemes"];
    let mut ids = BTreeSet::new();
    for (path, item) in paths.as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes[name].is_object(), "{method} {path}: no security scheme {name}");
                }
            }
            if let Some(id) = operation["operationId"].as_str() {
                assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            }
        }
    }

    // The v2 list schemas are what the routes answer: every field of a real
    // recall item is a documented RecallItem property.
    let item_schema = &doc["components"]["schemas"]["RecallItem"];
    let documented: BTreeSet<&str> =
        item_schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let (_, page) =
        json(app.post_json("/api/v2/search", &json!({"query": "recalled", "limit": 50})).await).await;
    for item in page["data"].as_array().unwrap() {
        for key in item.as_object().unwrap().keys() {
            assert!(documented.contains(key.as_str()), "{key} is not in the RecallItem schema");
        }
    }
    let list = &doc["components"]["schemas"]["List_Member"];
    assert_eq!(list["properties"]["page"]["$ref"], "#/components/schemas/PageInfo");
}
