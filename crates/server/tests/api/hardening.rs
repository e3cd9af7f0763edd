//! Issue: HTTP hardening. OWASP secure headers on every response, no
//! `Server` banner, CORS only for configured origins, gzip/br for large
//! bodies. None of it depends on the database, so SQLite is enough.

use axum::{Router, body::Body, http::Request, routing::get};
use reqwest::{Method, Response, header::HeaderMap};
use tower::ServiceExt;

use crate::harness::{Db, TestApp};

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                        form-action 'self'";
const APP_ORIGIN: &str = "https://app.babyshield.example";

/// Asserts the whole secure-headers set, with `csp` as the expected policy.
fn assert_secure_headers(headers: &HeaderMap, csp: &str, what: &str) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("content-security-policy", csp),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ] {
        assert_eq!(headers.get(name).map(|v| v.to_str().unwrap()), Some(value), "{what}: {name}");
    }
    assert!(headers.get("server").is_none(), "{what}: Server banner {:?}", headers.get("server"));
}

async fn send(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = app.client.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_secure_headers_and_no_server_banner() {
    let app = TestApp::spawn(Db::Sqlite).await;
    for (method, path, headers, status) in [
        (Method::GET, "/api/v1/agencies", &[][..], 200),
        (Method::GET, "/health", &[], 200),
        (Method::GET, "/openapi.json", &[], 200),
        (Method::GET, "/api/v1/nothing-here", &[], 404),
        (Method::GET, "/docsx", &[], 404),
        (Method::DELETE, "/api/v1/agencies", &[], 405),
        // Refused by the request-context layer before routing.
        (Method::GET, "/api/v1/agencies", &[("x-request-id", "has space")], 400),
    ] {
        let what = format!("{method} {path} {headers:?}");
        let response = send(&app, method, path, headers).await;
        assert_eq!(response.status(), status, "{what}");
        assert_secure_headers(response.headers(), API_CSP, &what);
        assert!(response.headers().get("strict-transport-security").is_none(), "{what}: HSTS is opt-in");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_still_answers_with_the_secure_headers() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let routes: Router = Router::new().route("/boom", get(boom));
    let router = babyshield_server::middleware::apply(routes, &app.state);
    let response = router.oneshot(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 500);
    for (name, value) in [("x-frame-options", "DENY"), ("content-security-policy", API_CSP)] {
        assert_eq!(response.headers()[name], value);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_gets_a_policy_that_allows_only_its_own_files() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let redirect = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(redirect.url().path(), "/docs/", "reqwest follows /docs to /docs/");
    let response = app.get("/docs/").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_secure_headers(response.headers(), DOCS_CSP, "/docs/");
    let html = response.text().await.unwrap();

    // The policy has no 'unsafe-inline' for scripts: the page must have none.
    let scripts = html.matches("<script").count();
    assert!(scripts >= 3, "{html}");
    assert_eq!(html.matches("<script src=").count(), scripts, "inline script in Swagger UI: {html}");

    // Everything the page loads is relative (same origin), and is served with
    // a MIME type `nosniff` accepts for its kind and the same docs policy.
    let referenced = attribute_values(&html, "src=\"").chain(attribute_values(&html, "href=\""));
    let mut checked = 0;
    for url in referenced {
        assert!(!url.contains("//") && !url.contains(':'), "external reference {url} in {html}");
        let path = format!("/docs/{}", url.trim_start_matches("./"));
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_secure_headers(response.headers(), DOCS_CSP, &path);
        let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
        if path.ends_with(".js") {
            assert!(content_type.contains("javascript"), "{path}: {content_type}");
            let script = response.text().await.unwrap();
            assert!(!script.contains("petstore.swagger.io"), "{path} points at an external spec");
        } else if path.ends_with(".css") {
            assert!(content_type.starts_with("text/css"), "{path}: {content_type}");
        }
        checked += 1;
    }
    assert!(checked >= 5, "{html}");
}

/// The values of `attr` (given with its `="`) in `html`, in order.
fn attribute_values<'a>(html: &'a str, attr: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    html.split(attr).skip(1).map(|rest| rest.split('"').next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cors_headers_unless_origins_are_configured() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let preflight = preflight(&app, APP_ORIGIN).await;
    assert_no_cors(preflight.headers(), "preflight");
    let simple = send(&app, Method::GET, "/api/v1/agencies", &[("origin", APP_ORIGIN)]).await;
    assert_eq!(simple.status(), 200);
    assert_no_cors(simple.headers(), "GET");
}

fn assert_no_cors(headers: &HeaderMap, what: &str) {
    let cors: Vec<_> = headers.keys().filter(|name| name.as_str().starts_with("access-control-")).collect();
    assert!(cors.is_empty(), "{what}: {cors:?}");
}

async fn preflight(app: &TestApp, origin: &str) -> Response {
    send(
        app,
        Method::OPTIONS,
        "/api/v1/agencies",
        &[
            ("origin", origin),
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "authorization, x-request-id"),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_origins_are_echoed_and_others_are_not() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.http.cors_allowed_origins = vec![APP_ORIGIN.into(), "http://localhost:5173".into()];
    })
    .await;
    let response = preflight(&app, APP_ORIGIN).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(headers["access-control-allow-methods"], "GET,POST,PUT,DELETE");
    assert_eq!(
        headers["access-control-allow-headers"],
        "authorization,content-type,x-request-id,idempotency-key"
    );
    assert_eq!(headers["access-control-max-age"], "600");
    assert!(headers.get("access-control-allow-credentials").is_none());
    assert!(headers["vary"].to_str().unwrap().contains("origin"), "{headers:?}");
    assert!(headers.get("x-request-id").is_some(), "preflights go through the request context");
    assert_secure_headers(headers, API_CSP, "preflight");

    let other = preflight(&app, "https://evil.example").await;
    assert!(other.headers().get("access-control-allow-origin").is_none(), "{:?}", other.headers());

    let simple = send(&app, Method::GET, "/api/v1/agencies", &[("origin", APP_ORIGIN)]).await;
    assert_eq!(simple.status(), 200);
    assert_eq!(simple.headers()["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(
        simple.headers()["access-control-expose-headers"],
        "x-request-id,ratelimit-limit,ratelimit-remaining,ratelimit-reset,retry-after"
    );
    let other = send(&app, Method::GET, "/api/v1/agencies", &[("origin", "http://localhost:5174")]).await;
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_is_sent_only_when_enabled() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.http.hsts = true;
        c.http.hsts_max_age_secs = 86_400;
    })
    .await;
    for path in ["/health", "/api/v1/nothing-here", "/docs/"] {
        let response = app.get(path).await;
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=86400; includeSubDomains",
            "{path}"
        );
    }
}

async fn boom() -> &'static str {
    panic!("boom")
}

/// `GET /api/v1/agencies` with a fixed request id, so the bodies compare equal.
async fn agencies(app: &TestApp, accept_encoding: Option<&str>) -> Response {
    let mut headers = vec![("x-request-id", "compression-1")];
    headers.extend(accept_encoding.map(|value| ("accept-encoding", value)));
    let response = send(app, Method::GET, "/api/v1/agencies", &headers).await;
    assert_eq!(response.status(), 200);
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_are_compressed_with_br_or_gzip() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let plain = agencies(&app, None).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(json["data"].as_array().unwrap().len(), 42);
    assert!(plain.len() > 2048, "the agency list should be well above the threshold: {}", plain.len());

    let br = agencies(&app, Some("br")).await;
    assert_eq!(br.headers()["content-encoding"], "br");
    assert!(br.headers()["vary"].to_str().unwrap().contains("accept-encoding"));
    let br = br.bytes().await.unwrap();
    assert!(br.len() < plain.len() / 2, "br {} vs plain {}", br.len(), plain.len());
    assert!(serde_json::from_slice::<serde_json::Value>(&br).is_err(), "br body is not plain JSON");

    // gzip's trailer carries the CRC-32 and length of what was compressed:
    // proof that the compressed stream holds exactly the JSON.
    let gzip = agencies(&app, Some("gzip")).await;
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    let gzip = gzip.bytes().await.unwrap();
    assert_eq!(&gzip[..3], &[0x1f, 0x8b, 0x08], "gzip magic and deflate method");
    let trailer = &gzip[gzip.len() - 8..];
    assert_eq!(u32::from_le_bytes(trailer[..4].try_into().unwrap()), crc32(&plain), "CRC-32 of the JSON");
    assert_eq!(u32::from_le_bytes(trailer[4..].try_into().unwrap()) as usize, plain.len());
    assert!(gzip.len() < plain.len() / 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_bodies_and_bodies_under_the_configured_threshold_are_not_compressed() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let health = send(&app, Method::GET, "/health", &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(health.status(), 200);
    assert!(health.headers().get("content-encoding").is_none());
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["ok"], true);

    let app = TestApp::spawn_with(Db::Sqlite, |c| c.http.compression_min_bytes = u16::MAX).await;
    let response = agencies(&app, Some("br, gzip")).await;
    assert!(response.headers().get("content-encoding").is_none());
    serde_json::from_slice::<serde_json::Value>(&response.bytes().await.unwrap()).unwrap();
}

/// CRC-32 (IEEE, reflected), as in gzip's trailer.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
