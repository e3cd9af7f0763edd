//! Rate limiting: GCRA with named tiers (see `tiers.rs` for the routes),
//! keyed by client address or by user. In memory by default; shared by all
//! instances through Redis when `redis.url` is set, falling back to the
//! in-memory limiter (never to an error) while Redis is unavailable.

mod gcra;
mod local;
mod shared;
mod tiers;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{config::ConfigError, dependencies::Redis};

pub use gcra::{Decision, Quota};
pub use tiers::{Tier, tier_for};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub standard: String,
    pub strict: String,
    pub auth: String,
    pub search: String,
    pub search_signed_in: String,
    /// Peers whose `X-Forwarded-For` is believed (exact addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            standard: "100/min".into(),
            strict: "20/min".into(),
            auth: "10/min".into(),
            search: "60/min".into(),
            search_signed_in: "300/min".into(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimitConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.quotas().map(|_| ())
    }

    fn quotas(&self) -> Result<Quotas, ConfigError> {
        let parse = |key: &str, text: &str| {
            Quota::parse(text).map_err(|m| ConfigError::new(format!("rate_limit.{key}"), m))
        };
        Ok(Quotas {
            standard: parse("standard", &self.standard)?,
            strict: parse("strict", &self.strict)?,
            auth: parse("auth", &self.auth)?,
            search: parse("search", &self.search)?,
            search_signed_in: parse("search_signed_in", &self.search_signed_in)?,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Quotas {
    standard: Quota,
    strict: Quota,
    auth: Quota,
    search: Quota,
    search_signed_in: Quota,
}

/// Who a request is counted against.
#[derive(Debug, Clone)]
pub enum Subject {
    Client(std::net::IpAddr),
    User(String),
}

pub struct RateLimiter {
    quotas: Quotas,
    local: local::LocalLimiter,
    redis: Option<Arc<Redis>>,
    enabled: bool,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig, redis: Option<Arc<Redis>>) -> Result<RateLimiter, ConfigError> {
        Ok(RateLimiter {
            quotas: config.quotas()?,
            local: local::LocalLimiter::default(),
            redis,
            enabled: config.enabled,
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The quota and key for a request of `tier` by `subject`.
    fn quota_and_key(&self, tier: Tier, subject: &Subject) -> (Quota, String) {
        let quota = match (tier, subject) {
            (Tier::Standard, _) => self.quotas.standard,
            (Tier::Strict, _) => self.quotas.strict,
            (Tier::Auth, _) => self.quotas.auth,
            (Tier::Search, Subject::User(_)) => self.quotas.search_signed_in,
            (Tier::Search, Subject::Client(_)) => self.quotas.search,
        };
        let who = match subject {
            Subject::Client(ip) => format!("ip:{ip}"),
            Subject::User(id) => format!("user:{id}"),
        };
        (quota, format!("babyshield:rl:{}:{who}", tier.name()))
    }

    pub async fn check(&self, tier: Tier, subject: &Subject) -> Decision {
        let (quota, key) = self.quota_and_key(tier, subject);
        if let Some(redis) = &self.redis {
            match shared::check(redis, quota, &key).await {
                Ok(decision) => return decision,
                Err(e) => {
                    metrics::counter!("rate_limit_local_fallback_total").increment(1);
                    tracing::debug!(error = %e, "rate limit falls back to this instance");
                }
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        self.local.check(quota, &key, now as u64)
    }
}
