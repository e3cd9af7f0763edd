//! `babyshield ingest --url`: each source's fixture fetched from a local
//! HTTP server (a real socket) goes end to end into the catalogue like
//! `--file`; re-fetching changes nothing; 500s, timeouts, malformed bodies,
//! connections dropped mid-body and refused connections fail with exit
//! code 1, a failed run recorded and nothing stored.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    time::Duration,
};

use crate::harness::{Outcome, Sandbox};

const ENV: &[(&str, &str)] = &[
    ("BABYSHIELD__DATABASE__LOAD_SAMPLE_DATA", "false"),
    ("BABYSHIELD__INGEST__RETRIES", "1"),
    ("BABYSHIELD__INGEST__RETRY_BASE_MS", "10"),
    ("BABYSHIELD__INGEST__RETRY_CAP_MS", "20"),
    ("BABYSHIELD__INGEST__CPSC__READ_TIMEOUT_MS", "300"),
];

const FIXTURES: &[(&str, &str)] = &[
    ("cpsc", "cpsc_recalls.json"),
    ("fda-food", "openfda_food_enforcement.json"),
    ("fda-drug", "openfda_drug_enforcement.json"),
    ("fda-device", "openfda_device_enforcement.json"),
    ("health-canada", "health_canada_recent.json"),
    ("health-canada", "health_canada_detail.json"),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../ingest/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Serves `/fixtures/<name>`, `/status/<code>`, `/slow` (3 s before
/// answering), `/garbage` (200, not JSON) and `/cut` (a long body that
/// stops after a few bytes), one thread per connection.
fn serve() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    addr
}

fn answer(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let respond = |stream: &mut TcpStream, status: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    if let Some(name) = path.strip_prefix("/fixtures/") {
        respond(&mut stream, "200 OK", &fixture(name));
    } else if let Some(code) = path.strip_prefix("/status/") {
        respond(&mut stream, &format!("{code} Failing"), b"{}");
    } else if path == "/slow" {
        std::thread::sleep(Duration::from_secs(3));
        respond(&mut stream, "200 OK", b"[]");
    } else if path == "/garbage" {
        respond(&mut stream, "200 OK", b"<html>maintenance</html>");
    } else if path == "/cut" {
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\nconnection: close\r\n\r\n[{\"RecallID\": 1",
        );
        let _ = stream.flush();
        std::thread::sleep(Duration::from_millis(50));
    } else {
        respond(&mut stream, "404 Not Found", b"{}");
    }
}

fn ingest_url(sandbox: &Sandbox, source: &str, url: &str) -> Outcome {
    sandbox.run(&["ingest", "--source", source, "--url", url], ENV)
}

#[test]
fn every_source_fixture_ingests_through_url_and_refetching_changes_nothing() {
    let sandbox = Sandbox::new();
    let addr = serve();
    for (source, name) in FIXTURES {
        let url = format!("http://{addr}/fixtures/{name}");
        let first = ingest_url(&sandbox, source, &url);
        assert_eq!(first.code, Some(0), "{name}: {first:?}");
        assert!(first.stdout.contains("(succeeded): fetched"), "{name}: {first:?}");
        assert!(
            !first.stdout.contains("inserted 0,") || *name == "health_canada_detail.json",
            "{name}: {first:?}"
        );
        let second = ingest_url(&sandbox, source, &url);
        assert_eq!(second.code, Some(0), "{name}: {second:?}");
        assert!(
            second.stdout.contains("inserted 0, updated 0"),
            "{name}: re-fetching changes nothing: {second:?}"
        );
    }
    // The detail of a recall the list already held updates it (the panels
    // add its description, hazard and barcodes): through --file too.
    let detail = format!("{}/../ingest/tests/fixtures/health_canada_detail.json", env!("CARGO_MANIFEST_DIR"));
    let again = sandbox.run(&["ingest", "--source", "health-canada", "--file", &detail], ENV);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(again.stdout.contains("fetched 1, inserted 0, updated 0, unchanged 1"), "{again:?}");
}

#[test]
fn url_failures_exit_1_with_the_cause_and_store_nothing() {
    let sandbox = Sandbox::new();
    let addr = serve();
    let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    for (url, cause) in [
        (format!("http://{addr}/status/500"), "HTTP 500 (after 2 attempts)"),
        (format!("http://{addr}/slow"), "timed out"),
        (format!("http://{addr}/cut"), "broke off"),
        (format!("http://{addr}/garbage"), "malformed JSON"),
        (format!("http://{addr}/status/403"), "HTTP 403"),
        (format!("http://{refused}/x"), "cannot connect"),
        ("ftp://example.org/recalls.json".to_string(), "http:// or https://"),
    ] {
        let failed = ingest_url(&sandbox, "cpsc", &url);
        assert_eq!(failed.code, Some(1), "{url}: {failed:?}");
        assert!(failed.stdout.contains("(failed): fetched 0, inserted 0"), "{url}: {failed:?}");
        assert!(failed.stderr.contains(cause), "{url}: expected {cause:?} in {failed:?}");
    }
    // Nothing of the failed runs was stored: the whole fixture is new.
    let ok = ingest_url(&sandbox, "cpsc", &format!("http://{addr}/fixtures/cpsc_recalls.json"));
    assert_eq!(ok.code, Some(0), "{ok:?}");
    let fresh = sandbox.run(
        &[
            "ingest",
            "--source",
            "cpsc",
            "--file",
            &format!("{}/../ingest/tests/fixtures/cpsc_recalls.json", env!("CARGO_MANIFEST_DIR")),
        ],
        ENV,
    );
    assert!(fresh.stdout.contains("inserted 0, updated 0"), "{fresh:?}");
    let inserted: u64 = ok
        .stdout
        .split("inserted ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no inserted count in {ok:?}"));
    let unchanged: u64 = fresh
        .stdout
        .split("unchanged ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no unchanged count in {fresh:?}"));
    assert_eq!(inserted, unchanged, "every stored recall came from the one good run");
}

#[test]
fn ingest_takes_exactly_one_of_file_and_url() {
    let sandbox = Sandbox::new();
    let both =
        sandbox.run(&["ingest", "--source", "cpsc", "--file", "x.json", "--url", "http://127.0.0.1:9/"], ENV);
    assert_eq!(both.code, Some(2), "{both:?}");
    let neither = sandbox.run(&["ingest", "--source", "cpsc"], ENV);
    assert_eq!(neither.code, Some(2), "{neither:?}");
}
