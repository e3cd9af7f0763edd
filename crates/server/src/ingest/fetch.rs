//! Fetching one URL of a source: connect, read and overall timeouts, a
//! body size limit, retries with full jitter after timeouts, connection
//! errors, 5xx and 429, and the source's circuit breaker in front of every
//! attempt.

use std::{sync::Arc, time::Duration};

use babyshield_ingest::Source;

use super::{MAX_PAGE_BYTES, config::SourceSchedule};
use crate::resilience::{BreakerConfig, CircuitBreaker, RetryPolicy};

/// A response the source gave: 2xx, or a 4xx other than 429 (openFDA says
/// "no matches" with a 404 body; a missing Health Canada detail is a 404).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a URL could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The breaker is open: the source failed repeatedly and is left alone
    /// for a while. Nothing was sent.
    #[error("the circuit breaker of {0} is open after repeated failures; not calling it for now")]
    BreakerOpen(Source),
    /// Timeouts, connection errors, 5xx or 429 on every attempt.
    #[error("{message} (after {attempts} attempts)")]
    Exhausted { message: String, attempts: u32 },
    /// Not worth retrying: a bad URL, a body over the size limit.
    #[error("{0}")]
    Refused(String),
}

/// One attempt's failure.
enum Attempt {
    Transient(String),
    Fatal(String),
}

/// Bytes read so far and the announced length, for progress bars.
pub type Progress<'a> = &'a (dyn Fn(u64, Option<u64>) + Send + Sync);

/// The client of one source (its timeouts), with its breaker.
pub struct Fetcher {
    source: Source,
    client: reqwest::Client,
    retry: RetryPolicy,
    breaker: Arc<CircuitBreaker>,
    max_bytes: usize,
}

/// The breaker's name in logs and in `circuit_breaker_state{dependency}`.
pub fn breaker_name(source: Source) -> &'static str {
    match source {
        Source::Cpsc => "ingest-cpsc",
        Source::FdaFood => "ingest-fda-food",
        Source::FdaDrug => "ingest-fda-drug",
        Source::FdaDevice => "ingest-fda-device",
        Source::HealthCanada => "ingest-health-canada",
    }
}

/// A new breaker for `source`.
pub fn breaker(source: Source, config: BreakerConfig) -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new(breaker_name(source), config))
}

impl Fetcher {
    /// A client with `schedule`'s timeouts. `max_bytes` is capped at
    /// [`MAX_PAGE_BYTES`].
    pub fn new(
        source: Source,
        schedule: &SourceSchedule,
        retry: RetryPolicy,
        breaker: Arc<CircuitBreaker>,
        max_bytes: usize,
    ) -> anyhow::Result<Fetcher> {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(schedule.connect_timeout_ms))
            .read_timeout(Duration::from_millis(schedule.read_timeout_ms))
            .timeout(Duration::from_millis(schedule.request_timeout_ms))
            .user_agent(concat!("BabyShield-Ingest/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Fetcher { source, client, retry, breaker, max_bytes: max_bytes.min(MAX_PAGE_BYTES) })
    }

    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }

    /// GETs `url`, retrying transient failures while the breaker allows.
    pub async fn get(&self, url: &str, progress: Progress<'_>) -> Result<Fetched, FetchError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| FetchError::Refused(format!("bad URL {url:?}: {e}")))?;
        super::config::check_url(parsed.as_str()).map_err(|e| FetchError::Refused(format!("URL {e}")))?;
        let mut attempts = 0;
        loop {
            if !self.breaker.allow() {
                metrics::counter!("ingest_requests_total", "source" => self.source.as_str(), "outcome" => "breaker_open")
                    .increment(1);
                return Err(FetchError::BreakerOpen(self.source));
            }
            attempts += 1;
            match self.attempt(parsed.clone(), progress).await {
                Ok(fetched) => {
                    self.breaker.record_success();
                    metrics::counter!("ingest_requests_total", "source" => self.source.as_str(), "outcome" => "ok")
                        .increment(1);
                    return Ok(fetched);
                }
                Err(Attempt::Fatal(message)) => {
                    // The source answered; what it answered is the problem.
                    self.breaker.record_success();
                    metrics::counter!("ingest_requests_total", "source" => self.source.as_str(), "outcome" => "refused")
                        .increment(1);
                    return Err(FetchError::Refused(message));
                }
                Err(Attempt::Transient(message)) => {
                    self.breaker.record_failure();
                    metrics::counter!("ingest_requests_total", "source" => self.source.as_str(), "outcome" => "failed")
                        .increment(1);
                    if attempts > self.retry.max_retries {
                        return Err(FetchError::Exhausted { message, attempts });
                    }
                    let wait = self.retry.backoff(attempts);
                    tracing::info!(source = %self.source, attempt = attempts, error = %message,
                        wait_ms = wait.as_millis() as u64, "retrying a failed request to the source");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt(&self, url: reqwest::Url, progress: Progress<'_>) -> Result<Fetched, Attempt> {
        let mut response = self.client.get(url).send().await.map_err(|e| Attempt::Transient(describe(&e)))?;
        let status = response.status().as_u16();
        if status >= 500 || status == 429 {
            return Err(Attempt::Transient(format!("the source answered HTTP {status}")));
        }
        let announced = response.content_length();
        if announced.is_some_and(|n| n > self.max_bytes as u64) {
            return Err(Attempt::Fatal(format!(
                "the response is larger than {} bytes ({} announced)",
                self.max_bytes,
                announced.unwrap_or_default()
            )));
        }
        let mut body = Vec::with_capacity(announced.unwrap_or(0).min(16 << 20) as usize);
        progress(0, announced);
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    return Err(Attempt::Transient(format!(
                        "the response broke off after {} bytes: {}",
                        body.len(),
                        describe(&e)
                    )));
                }
            };
            if body.len() + chunk.len() > self.max_bytes {
                return Err(Attempt::Fatal(format!("the response is larger than {} bytes", self.max_bytes)));
            }
            body.extend_from_slice(&chunk);
            progress(body.len() as u64, announced);
        }
        Ok(Fetched { status, body })
    }
}

/// A reqwest error in one line, with its cause (which names the real fault).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() { kind.to_string() } else { format!("{kind}: {cause}") }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Instant,
    };

    use axum::{
        Router,
        body::Body,
        extract::State,
        http::{StatusCode, header},
        response::{IntoResponse, Response},
        routing::get,
    };

    use super::*;
    use crate::resilience::BreakerState;

    /// A feed on 127.0.0.1 whose `/flaky` fails `fail_first` times first.
    #[derive(Clone)]
    struct Feed {
        hits: Arc<AtomicUsize>,
        fail_first: usize,
    }

    async fn flaky(State(feed): State<Feed>) -> Response {
        let n = feed.hits.fetch_add(1, Ordering::SeqCst);
        if n < feed.fail_first {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            "[]".into_response()
        }
    }

    async fn slow(State(feed): State<Feed>) -> Response {
        feed.hits.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(5)).await;
        "[]".into_response()
    }

    async fn not_found(State(feed): State<Feed>) -> Response {
        feed.hits.fetch_add(1, Ordering::SeqCst);
        (StatusCode::NOT_FOUND, r#"{"error":{"code":"NOT_FOUND"}}"#).into_response()
    }

    async fn big(State(feed): State<Feed>) -> Response {
        feed.hits.fetch_add(1, Ordering::SeqCst);
        vec![b' '; 4096].into_response()
    }

    /// Announces 10,000 bytes, sends 10, then drops the connection.
    async fn cut(State(feed): State<Feed>) -> Response {
        feed.hits.fetch_add(1, Ordering::SeqCst);
        // The headers and the first bytes go out; then the connection drops.
        let head = futures::stream::once(async {
            Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"[{\"Recall"))
        });
        let cut = futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::other("connection dropped"))
        });
        let stream = futures::StreamExt::chain(head, cut);
        Response::builder()
            .header(header::CONTENT_LENGTH, "10000")
            .body(Body::from_stream(stream))
            .expect("response")
    }

    async fn serve(fail_first: usize) -> (String, Feed) {
        let feed = Feed { hits: Arc::new(AtomicUsize::new(0)), fail_first };
        let app = Router::new()
            .route("/flaky", get(flaky))
            .route("/slow", get(slow))
            .route("/missing", get(not_found))
            .route("/big", get(big))
            .route("/cut", get(cut))
            .with_state(feed.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), feed)
    }

    fn fetcher(failures: u32, retries: u32, max_bytes: usize) -> Fetcher {
        let schedule =
            SourceSchedule { read_timeout_ms: 300, request_timeout_ms: 2_000, ..SourceSchedule::default() };
        let retry = RetryPolicy {
            max_retries: retries,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
        };
        let breaker = breaker(Source::Cpsc, BreakerConfig { failures, window_secs: 120, open_secs: 300 });
        Fetcher::new(Source::Cpsc, &schedule, retry, breaker, max_bytes).unwrap()
    }

    fn quiet(_: u64, _: Option<u64>) {}

    #[tokio::test]
    async fn server_errors_are_retried_until_the_source_answers() {
        let (base, feed) = serve(2).await;
        let f = fetcher(10, 3, 1 << 20);
        let got = f.get(&format!("{base}/flaky"), &quiet).await.unwrap();
        assert_eq!((got.status, got.body.as_slice()), (200, b"[]".as_slice()));
        assert_eq!(feed.hits.load(Ordering::SeqCst), 3, "two 503s, then the answer");
        assert_eq!(f.breaker().state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn a_source_that_keeps_failing_opens_its_breaker_and_is_left_alone() {
        let (base, feed) = serve(usize::MAX).await;
        let f = fetcher(3, 10, 1 << 20);
        let err = f.get(&format!("{base}/flaky"), &quiet).await.unwrap_err();
        assert_eq!(err, FetchError::BreakerOpen(Source::Cpsc), "the retries stop once the breaker opens");
        assert_eq!(feed.hits.load(Ordering::SeqCst), 3, "3 failures within the window open it");
        assert_eq!(f.breaker().state(), BreakerState::Open);
        let again = f.get(&format!("{base}/flaky"), &quiet).await.unwrap_err();
        assert_eq!(again, FetchError::BreakerOpen(Source::Cpsc));
        assert_eq!(feed.hits.load(Ordering::SeqCst), 3, "nothing is sent while it is open");
    }

    #[tokio::test]
    async fn a_response_slower_than_the_read_timeout_fails_after_the_retries() {
        let (base, feed) = serve(0).await;
        let f = fetcher(10, 1, 1 << 20);
        let started = Instant::now();
        let err = f.get(&format!("{base}/slow"), &quiet).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Exhausted { attempts: 2, message } if message.contains("timed out")),
            "{err}"
        );
        assert_eq!(feed.hits.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() < Duration::from_secs(3), "two 300 ms timeouts, not the 5 s sleep");
    }

    #[tokio::test]
    async fn a_connection_dropped_mid_body_is_retried_and_reported() {
        let (base, feed) = serve(0).await;
        let f = fetcher(10, 2, 1 << 20);
        let err = f.get(&format!("{base}/cut"), &quiet).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Exhausted { attempts: 3, message } if message.contains("broke off")),
            "{err}"
        );
        assert_eq!(feed.hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn client_errors_are_answers_and_oversized_bodies_are_refused_without_retry() {
        let (base, feed) = serve(0).await;
        let f = fetcher(1, 3, 1024);
        let missing = f.get(&format!("{base}/missing"), &quiet).await.unwrap();
        assert_eq!(missing.status, 404);
        let err = f.get(&format!("{base}/big"), &quiet).await.unwrap_err();
        assert!(matches!(&err, FetchError::Refused(m) if m.contains("larger than 1024")), "{err}");
        assert_eq!(feed.hits.load(Ordering::SeqCst), 2);
        assert_eq!(f.breaker().state(), BreakerState::Closed, "neither counts as the source failing");
        let bad = f.get("file:///etc/passwd", &quiet).await.unwrap_err();
        assert!(matches!(bad, FetchError::Refused(_)));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transient_failure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let f = fetcher(10, 1, 1024);
        let err = f.get(&format!("http://{addr}/x"), &quiet).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Exhausted { attempts: 2, message } if message.contains("connect")),
            "{err}"
        );
    }
}
