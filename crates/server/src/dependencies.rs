//! The external dependencies the service talks to, and how it checks them for
//! `/health/ready`, `/health/dependencies` and `/health/detailed`.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;

use crate::{
    resilience::{BreakerConfig, CircuitBreaker},
    state::AppState,
};

/// A Redis server, reached through one multiplexed connection that is
/// re-established after a failure. Every call has a timeout and goes
/// through a circuit breaker, so a dead Redis costs callers nothing but the
/// fallback they choose (rate limits and caches go local).
pub struct Redis {
    client: redis::Client,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
    timeout: Duration,
    breaker: CircuitBreaker,
}

/// Redis could not serve the call (down, slow, or the breaker is open).
#[derive(Debug, Clone, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct RedisUnavailable(pub String);

impl Redis {
    pub fn open(url: &str, timeout: Duration, breaker: BreakerConfig) -> Result<Redis, redis::RedisError> {
        Ok(Redis {
            client: redis::Client::open(url)?,
            connection: Mutex::new(None),
            timeout,
            breaker: CircuitBreaker::new("redis", breaker),
        })
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, String> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = self.client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    async fn forget_connection(&self) {
        *self.connection.lock().await = None;
    }

    /// Runs `op` on the shared connection, bounded by the call timeout and
    /// guarded by the breaker.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, RedisUnavailable>
    where
        F: FnOnce(redis::aio::MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.allow() {
            return Err(RedisUnavailable("circuit breaker open".into()));
        }
        let attempt = async {
            let connection = self.connection().await?;
            op(connection).await.map_err(|e| e.to_string())
        };
        let outcome = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        match outcome {
            Ok(value) => {
                self.breaker.record_success();
                Ok(value)
            }
            Err(e) => {
                self.breaker.record_failure();
                self.forget_connection().await;
                metrics::counter!("redis_errors_total").increment(1);
                Err(RedisUnavailable(e))
            }
        }
    }

    /// `PING` for the health pages: bounded by `timeout`, and not subject to
    /// the breaker (readiness must report what Redis really does).
    pub async fn ping(&self, timeout: Duration) -> Result<(), String> {
        let attempt = async {
            let mut connection = self.connection().await?;
            redis::cmd("PING").query_async::<String>(&mut connection).await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                self.forget_connection().await;
                Err(e)
            }
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Up,
    Down,
}

/// One dependency's state as the health pages show it. `error` is a short
/// operator-facing reason and only appears on `/health/detailed`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyStatus {
    pub name: &'static str,
    pub status: Health,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checks every configured dependency concurrently, each bounded by the
/// readiness timeout.
pub async fn check_all(state: &AppState) -> Vec<DependencyStatus> {
    let timeout = Duration::from_millis(state.config().server.readiness_timeout_ms);
    let database = timed("database", state.store().ping(timeout));
    let redis = async {
        match state.redis() {
            Some(redis) => Some(timed("redis", redis.ping(timeout)).await),
            None => None,
        }
    };
    let (database, redis) = tokio::join!(database, redis);
    std::iter::once(database).chain(redis).collect()
}

async fn timed<E: std::fmt::Display>(
    name: &'static str,
    check: impl std::future::Future<Output = Result<(), E>>,
) -> DependencyStatus {
    let started = Instant::now();
    let result = check.await;
    let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    match result {
        Ok(()) => DependencyStatus { name, status: Health::Up, latency_ms, error: None },
        Err(e) => DependencyStatus { name, status: Health::Down, latency_ms, error: Some(e.to_string()) },
    }
}
