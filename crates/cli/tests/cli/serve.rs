//! `babyshield serve`: startup with the defaults, request ids in logs, and
//! graceful shutdown on SIGTERM.

use std::{
    io::{ErrorKind, Read, Write},
    net::{SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::harness::{SERVER_LIMIT, Sandbox, Server};

/// A hand-driven HTTP/1.1 connection, for what a client library hides:
/// half-sent bodies and interim `100 Continue` answers.
struct RawConnection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawConnection {
    fn open(addr: SocketAddr) -> RawConnection {
        let stream = TcpStream::connect(addr).expect("connect to the server");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        RawConnection { stream, buffer: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the server");
        self.stream.flush().unwrap();
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                panic!("connection closed early; got so far: {:?}", String::from_utf8_lossy(&self.buffer))
            }
            Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read failed ({e}); got so far: {:?}", String::from_utf8_lossy(&self.buffer)),
        }
    }

    /// The status line and headers of the next response (lowercased names).
    fn read_head(&mut self) -> (u16, Vec<(String, String)>) {
        let end = loop {
            if let Some(i) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill();
        };
        let head = String::from_utf8(self.buffer[..end].to_vec()).expect("ASCII head");
        self.buffer.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect(status_line);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers)
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buffer.len() < n {
            self.fill();
        }
        self.buffer.drain(..n).collect()
    }

    fn take_line(&mut self) -> String {
        let end = loop {
            if let Some(i) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            self.fill();
        };
        let line = String::from_utf8(self.buffer[..end].to_vec()).unwrap();
        self.buffer.drain(..end + 2);
        line
    }

    /// The next complete response: status, headers and body.
    fn read_response(&mut self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let (status, headers) = self.read_head();
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let body = if let Some(length) = header("content-length") {
            self.take(length.parse().expect("numeric content-length"))
        } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            let mut body = Vec::new();
            loop {
                let size = usize::from_str_radix(self.take_line().split(';').next().unwrap().trim(), 16)
                    .expect("chunk size");
                if size == 0 {
                    self.take_line();
                    break body;
                }
                body.extend(self.take(size));
                self.take_line();
            }
        } else {
            panic!("response without a length: {headers:?}");
        };
        (status, headers, body)
    }
}

/// Polls until a new TCP connection to `addr` is refused (bounded).
fn wait_until_connections_are_refused(addr: SocketAddr) {
    let deadline = Instant::now() + SERVER_LIMIT;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            Err(_) | Ok(_) => {}
        }
        assert!(Instant::now() < deadline, "new connections still accepted {SERVER_LIMIT:?} after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_lets_a_slow_in_flight_request_finish_while_new_connections_are_refused() {
    let sandbox = Sandbox::new();
    let mut server = Server::start_json(
        &sandbox,
        &[
            ("BABYSHIELD__DATABASE__LOAD_SAMPLE_DATA", "false"),
            ("BABYSHIELD__SERVER__DRAIN_TIMEOUT_MS", "10000"),
        ],
    );

    let mut conn = RawConnection::open(server.addr);
    // One complete exchange first: the server is serving and this keep-alive
    // connection is accepted.
    conn.send(b"GET /health HTTP/1.1\r\nHost: babyshield\r\n\r\n");
    let (status, _, _) = conn.read_response();
    assert_eq!(status, 200);

    // A slow upload: headers, then (once the handler asks for the body, which
    // `100 Continue` proves) only half of the body.
    let body = br#"{"query":"crib"}"#;
    let (first, rest) = body.split_at(body.len() / 2);
    conn.send(
        format!(
            "POST /api/v1/search/advanced HTTP/1.1\r\nHost: babyshield\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let (interim, _) = conn.read_head();
    assert_eq!(interim, 100, "the handler should be reading the body");
    conn.send(first);

    server.sigterm();
    wait_until_connections_are_refused(server.addr);
    assert!(server.is_running(), "the server must wait for the in-flight request");

    conn.send(rest);
    let (status, _, response) = conn.read_response();
    let text = String::from_utf8_lossy(&response).into_owned();
    assert_eq!(status, 200, "{text}");
    let envelope: Value = serde_json::from_slice(&response).expect("a JSON body");
    assert_eq!(envelope["ok"], json!(true), "{text}");
    assert!(envelope["data"]["total"].is_number(), "{text}");

    let exit = server.wait_for_exit();
    let log = server.stdout().join("\n");
    assert_eq!(exit.code(), Some(0), "{exit}\n{log}\n{}", server.stderr());
    assert!(log.contains("shutdown complete"), "{log}");
    assert!(!log.contains("drain timeout reached"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_the_same_in_header_envelope_and_log_line() {
    let sandbox = Sandbox::new();
    let mut server = Server::start_json(&sandbox, &[("BABYSHIELD__DATABASE__LOAD_SAMPLE_DATA", "false")]);
    let client = crate::harness::http_client(Duration::from_secs(30));

    let response = client
        .get(server.url("/api/v1/recall/NOPE-1"))
        .header("X-Request-ID", "trace-me-123")
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    let envelope: Value = response.json().await.expect("a JSON body");
    assert_eq!(envelope["ok"], json!(false), "{envelope}");
    assert_eq!(envelope["traceId"], json!("trace-me-123"), "{envelope}");

    server.sigterm();
    let exit = tokio::task::block_in_place(|| server.wait_for_exit());
    assert_eq!(exit.code(), Some(0));
    let lines = server.stdout();
    let line = lines
        .iter()
        .find(|l| l.contains(r#""request_id":"trace-me-123""#))
        .unwrap_or_else(|| panic!("no log line carries the request id:\n{}", lines.join("\n")));
    let logged: Value = serde_json::from_str(line).expect("JSON log line");
    assert_eq!(logged["message"], json!("request"), "{line}");
    assert_eq!(logged["http.route"], json!("/api/v1/recall/{*id}"), "{line}");
    assert_eq!(logged["http.status"], json!(404), "{line}");
    assert_eq!(logged["http.method"], json!("GET"), "{line}");
    assert!(logged["duration_ms"].is_number(), "{line}");
    for line in &lines {
        assert!(!line.contains("NOPE-1"), "a log line carries the raw path: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_the_defaults_loads_the_sample_and_answers_crib() {
    let sandbox = Sandbox::new();
    let mut server = tokio::task::block_in_place(|| Server::start_on_free_port(&sandbox, &[]));
    let client = crate::harness::http_client(Duration::from_secs(30));

    let deadline = Instant::now() + SERVER_LIMIT;
    loop {
        match client.get(server.url("/health/ready")).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("not ready within {SERVER_LIMIT:?}: {other:?}\n{}", server.stdout().join("\n")),
        }
    }

    let response = client
        .post(server.url("/api/v1/search/advanced"))
        .json(&json!({"query": "crib"}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200);
    let search: Value = response.json().await.unwrap();
    assert_eq!(search["ok"], json!(true), "{search}");
    let total = search["data"]["total"].as_i64().expect("data.total");
    assert!(total >= 10, "only {total} crib recalls in the sample: {search}");

    let response =
        client.get(server.url("/api/v1/lookup/barcode/642105759904")).send().await.expect("request sent");
    assert_eq!(response.status(), 200);
    let lookup: Value = response.json().await.unwrap();
    assert_eq!(lookup["data"]["recalled"], json!(true), "{lookup}");
    let ids: Vec<&str> =
        lookup["data"]["items"].as_array().unwrap().iter().filter_map(|i| i["id"].as_str()).collect();
    assert!(ids.contains(&"CPSC-24156"), "{lookup}");

    server.sigterm();
    let exit = tokio::task::block_in_place(|| server.wait_for_exit());
    assert_eq!(exit.code(), Some(0), "{}", server.stderr());
}
