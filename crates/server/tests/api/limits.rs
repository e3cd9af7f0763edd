//! Issue: abuse protection. Rate limits against a real Redis server, started
//! and killed by the tests.

use std::{net::IpAddr, process::Stdio, time::Duration};

use serde_json::json;

use crate::harness::{Db, TestApp, json};

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn search(app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
    client.post(app.url("/api/v1/search/advanced")).json(&json!({"query": "crib"})).send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_quota_passes_then_429_with_the_rate_limit_headers() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.rate_limit.search = "5/min".into()).await;
    let client = client_from("127.0.40.1");
    for remaining in (0..5).rev() {
        let response = search(&app, &client).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit-limit").as_deref(), Some("5"));
        assert_eq!(header(&response, "ratelimit-remaining"), Some(remaining.to_string()));
        assert!(header(&response, "ratelimit-reset").unwrap().parse::<u64>().unwrap() >= 1);
    }
    let refused = search(&app, &client).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(header(&refused, "retry-after").as_deref(), Some("12"), "one emission interval of 5/min");
    let (_, body) = json(refused).await;
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    assert!(body["traceId"].is_string());

    // Another client has its own quota; probes are never limited.
    assert_eq!(search(&app, &client_from("127.0.40.2")).await.status(), 200);
    for _ in 0..20 {
        assert_eq!(client.get(app.url("/health/ready")).send().await.unwrap().status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_endpoints_share_one_quota_per_client() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.rate_limit.auth = "3/min".into()).await;
    let client = client_from("127.0.41.1");
    let body = json!({"email": "someone@example.com", "password": "Wrong-Pass-1"});
    let mut statuses = Vec::new();
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/password-reset/request",
        "/api/v1/auth/login",
        "/api/v1/auth/login",
    ] {
        let payload =
            if path.contains("reset") { json!({"email": "someone@example.com"}) } else { body.clone() };
        statuses.push(client.post(app.url(path)).json(&payload).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, vec![401, 202, 401, 429]);
}

fn shared_redis_config(c: &mut babyshield_server::config::Config, url: &str) {
    c.redis.url = Some(url.to_string());
    c.rate_limit.search = "6/min".into();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_limits_through_redis() {
    let url = std::env::var("BABYSHIELD_TEST_REDIS_URL").expect("run through ./scripts/test (starts Redis)");
    let one = TestApp::spawn_with(Db::Sqlite, |c| shared_redis_config(c, &url)).await;
    let two = TestApp::spawn_with(Db::Sqlite, |c| shared_redis_config(c, &url)).await;
    // A client address no other test uses; its key may survive from an
    // earlier run of the suite in the shared Redis, so start clean.
    let client = client_from("127.0.42.7");
    let mut connection =
        redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    redis::cmd("DEL")
        .arg("babyshield:rl:search:ip:127.0.42.7")
        .query_async::<()>(&mut connection)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { &one } else { &two };
        statuses.push(search(app, &client).await.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 200, 429, 429]);
}

/// A Redis server of the test's own, so the test can kill and restart it.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let binary = std::env::var("BABYSHIELD_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = std::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        OwnRedis { port, child: Some(child) }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_mid_run_costs_no_5xx_and_limits_return_to_redis_when_it_is_back() {
    let port = OwnRedis::free_port();
    let mut redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.redis.url = Some(url.clone());
        c.redis.timeout_ms = 200;
        c.redis.breaker.open_secs = 1;
        c.rate_limit.search = "1000/min".into();
    })
    .await;
    let client = client_from("127.0.43.1");
    let key = "babyshield:rl:search:ip:127.0.43.1";
    let stored = || async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("GET").arg(key).query_async::<Option<String>>(&mut connection).await.ok().flatten()
    };
    assert_eq!(search(&app, &client).await.status(), 200);
    assert!(stored().await.is_some(), "the limit lives in Redis");

    redis.kill();
    for _ in 0..30 {
        let status = search(&app, &client).await.status().as_u16();
        assert_eq!(status, 200, "Redis down must not cost a single error");
    }
    let (status, ready) = json(app.get("/health/ready").await).await;
    assert_eq!(status, 200, "Redis is not required for readiness: {ready}");
    assert!(
        ready["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "redis" && d["status"] == "down")
    );

    let redis = OwnRedis::start(port);
    redis.wait_ready().await;
    let mut back = false;
    for _ in 0..60 {
        assert_eq!(search(&app, &client).await.status(), 200);
        if stored().await.is_some() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "once Redis is back the limiter uses it again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    let proxy: IpAddr = "127.0.44.1".parse().unwrap();
    let app = TestApp::spawn_with(Db::Sqlite, |c| {
        c.rate_limit.search = "2/min".into();
        c.rate_limit.trusted_proxies = vec![proxy];
    })
    .await;
    let via_proxy = client_from("127.0.44.1");
    let forwarded = |client: &reqwest::Client, xff: &str| {
        client
            .post(app.url("/api/v1/search/advanced"))
            .header("x-forwarded-for", xff)
            .json(&json!({"query": "crib"}))
            .send()
    };
    // Two different end users behind the proxy each get their own quota.
    for _ in 0..2 {
        assert_eq!(forwarded(&via_proxy, "198.51.100.1").await.unwrap().status(), 200);
    }
    assert_eq!(forwarded(&via_proxy, "198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(forwarded(&via_proxy, "198.51.100.2").await.unwrap().status(), 200);
    // An untrusted client cannot dodge its quota with a made-up header.
    let direct = client_from("127.0.44.2");
    for xff in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(forwarded(&direct, xff).await.unwrap().status(), 200);
    }
    assert_eq!(forwarded(&direct, "203.0.113.3").await.unwrap().status(), 429);
}

/// A request that stays in flight: its body is only half sent. The server's
/// `100 Continue` proves the handler is already reading the body, so the
/// request holds its slot before this returns.
async fn half_sent_search(app: &TestApp) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = br#"{"query":"crib","limit":5}"#;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/search/advanced HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         expect: 100-continue\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 100"), "{:?}", &answer[..n]);
    stream.write_all(&body[..5]).await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_in_flight_limit_requests_get_503_at_once_and_probes_still_answer() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.server.max_in_flight = 1).await;
    let held = half_sent_search(&app).await;
    let mut shed = None;
    for _ in 0..50 {
        let response = app.get("/api/v1/agencies").await;
        if response.status() == 503 {
            shed = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shed = shed.expect("the second request is refused while the first holds the only slot");
    assert_eq!(header(&shed, "retry-after").as_deref(), Some("1"));
    let (_, body) = json(shed).await;
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert_eq!(app.get("/health/live").await.status(), 200, "probes are exempt");
    drop(held);
    let mut recovered = false;
    for _ in 0..50 {
        if app.get("/api/v1/agencies").await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recovered, "the slot is released when the held request ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_slower_than_the_timeout_gets_the_timeout_envelope() {
    use tokio::io::AsyncReadExt;
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.server.request_timeout_ms = 300).await;
    let mut stream = half_sent_search(&app).await;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    // The client never finishes its body; the server answers on its own.
    while !String::from_utf8_lossy(&raw).contains("\"traceId\"") {
        let n =
            tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed without an answer: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&raw);
    let status_line =
        text.lines().find(|l| l.starts_with("HTTP/1.1 ") && !l.starts_with("HTTP/1.1 100")).unwrap();
    assert_eq!(status_line.trim(), "HTTP/1.1 504 Gateway Timeout");
    assert!(text.contains("\"code\":\"TIMEOUT\""), "{text}");
    assert!(text.to_ascii_lowercase().contains("x-request-id:"));
}
