//! The external dependencies the service talks to, and how it checks them for
//! `/health/ready`, `/health/dependencies` and `/health/detailed`.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;

use crate::state::AppState;

/// A Redis server, reached through one multiplexed connection that is
/// re-established after a failure.
pub struct Redis {
    client: redis::Client,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Redis {
    pub fn open(url: &str) -> Result<Redis, redis::RedisError> {
        Ok(Redis { client: redis::Client::open(url)?, connection: Mutex::new(None) })
    }

    /// `PING`, bounded by `timeout`. A failed connection is dropped so the
    /// next call reconnects.
    pub async fn ping(&self, timeout: Duration) -> Result<(), String> {
        let attempt = async {
            let mut slot = self.connection.lock().await;
            if slot.is_none() {
                *slot =
                    Some(self.client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?);
            }
            let connection = slot.as_mut().expect("set above");
            match redis::cmd("PING").query_async::<String>(connection).await {
                Ok(_) => Ok(()),
                Err(e) => {
                    *slot = None;
                    Err(e.to_string())
                }
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) => {
                // The lock may be held by the timed-out attempt; it is
                // released when that future is dropped here.
                Err(format!("no answer within {} ms", timeout.as_millis()))
            }
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
