//! The Redis tier, shared by every instance. Each call goes through
//! [`Redis::run`] (timeout and circuit breaker); any failure is reported as
//! `None`/ignored so the caller falls back to the in-process tier and the
//! database, never to an error response. Once the breaker lets a trial call
//! through and it succeeds, Redis is used again.

use std::{sync::Arc, time::Duration};

use axum::body::Bytes;

use crate::dependencies::Redis;

pub struct SharedTier {
    redis: Arc<Redis>,
}

fn fell_back(operation: &'static str, error: &dyn std::fmt::Display) {
    metrics::counter!("cache_redis_fallback_total").increment(1);
    tracing::debug!(cache.operation = operation, error = %error, "redis cache unavailable; serving without it");
}

impl SharedTier {
    pub fn new(redis: Arc<Redis>) -> SharedTier {
        SharedTier { redis }
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// The stored body, or `None` on a miss or when Redis cannot answer.
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        let key = key.to_owned();
        let outcome = self
            .redis
            .run(|mut connection| async move {
                redis::cmd("GET").arg(key).query_async::<Option<Vec<u8>>>(&mut connection).await
            })
            .await;
        match outcome {
            Ok(found) => found.map(Bytes::from),
            Err(e) => {
                fell_back("get", &e);
                None
            }
        }
    }

    /// `SET key body PX ttl`; a failure only costs other instances a miss.
    pub async fn set(&self, key: &str, body: &Bytes, ttl: Duration) {
        let key = key.to_owned();
        let body = body.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let outcome = self
            .redis
            .run(|mut connection| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(body.as_ref())
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async::<()>(&mut connection)
                    .await
            })
            .await;
        if let Err(e) = outcome {
            fell_back("set", &e);
        }
    }
}
