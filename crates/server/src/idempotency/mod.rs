//! Idempotency keys for the POST routes that create things.
//!
//! A client that sends `Idempotency-Key: <key>` may retry the request as
//! often as it likes: the first request runs, its response (2xx or 4xx) is
//! stored for `idempotency.ttl_secs` (24 h) and every retry gets it back with
//! `Idempotent-Replayed: true`. The same key with another request is refused
//! with 422 `INVALID_PARAMETERS` (the IETF idempotency-key draft's answer for
//! a reused key); a retry that arrives while the first request still runs
//! gets 409 `CONFLICT` with `Retry-After`, so concurrent duplicates never both
//! execute. A 5xx is not stored: the key is released and a retry runs again.
//!
//! Keys are scoped to the caller (the signed-in user, else a keyed hash of
//! the client address) and to the method and route: two clients may use the
//! same key. Stored bodies are sealed with the personal-data key ring,
//! because a register response carries tokens.
//!
//! [`COVERED`] is the one list of routes this applies to; on every other
//! route the header is ignored.

mod layer;
mod replay;

use std::time::Duration;

use axum::http::{HeaderValue, Method};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{config::ConfigError, error::ApiError, state::AppState};

pub(crate) use layer::guard;

/// The request header, and the one marking a replayed response.
pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Routes that create something, by method and route template. Add new
/// create routes (family members, watched products) here.
pub const COVERED: &[(Method, &str)] = &[(Method::POST, "/api/v1/auth/register")];

fn covers(method: &Method, route: &str) -> bool {
    COVERED.iter().any(|(m, r)| m == method && *r == route)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencyConfig {
    /// How long a stored response is replayed to retries.
    pub ttl_secs: u64,
    /// How often each instance deletes expired keys.
    pub purge_interval_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        IdempotencyConfig { ttl_secs: 24 * 3600, purge_interval_secs: 3600 }
    }
}

impl IdempotencyConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(60..=7 * 24 * 3600).contains(&self.ttl_secs) {
            return Err(ConfigError::new("idempotency.ttl_secs", "must be between 60 and 604800 (7 days)"));
        }
        if self.purge_interval_secs == 0 {
            return Err(ConfigError::new("idempotency.purge_interval_secs", "must be greater than 0"));
        }
        Ok(())
    }
}

/// Longest key accepted, in bytes.
const MAX_KEY_LEN: usize = 255;

/// 1 to 255 visible ASCII characters (UUIDs, ULIDs, random base64...).
fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(format!(
            "invalid Idempotency-Key header: must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        )));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// What makes two requests "the same": method, path with query, and body.
fn request_hash(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(path_and_query.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

/// Deletes expired keys every `idempotency.purge_interval_secs` until
/// shutdown. Expired keys are ignored before that; this only bounds the table.
pub fn spawn_purger(state: &AppState) {
    let store = state.store().clone();
    let shutdown = state.lifecycle().shutdown_token();
    let every = Duration::from_secs(state.config().idempotency.purge_interval_secs);
    state.lifecycle().spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => match store.purge_idempotency_keys(now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(keys = n, "purged expired idempotency keys"),
                    Err(e) => tracing::warn!(error = %e, "idempotency key purge failed"),
                },
            }
        }
    });
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        for good in ["a", "3f2c-uuid-like", "~!\"#$%&'()*+,-./:;<=>?@[]^_`{|}", &"k".repeat(255)] {
            assert!(parse_key(&HeaderValue::from_str(good).unwrap()).is_ok(), "{good}");
        }
        for bad in ["", "has space", &"k".repeat(256), "tab\there"] {
            let Ok(value) = HeaderValue::from_str(bad) else { continue };
            let error = parse_key(&value).unwrap_err();
            assert!(error.to_string().contains("Idempotency-Key"), "{error}");
        }
        let non_ascii = HeaderValue::from_bytes("clé".as_bytes()).unwrap();
        assert!(parse_key(&non_ascii).is_err());
    }

    #[test]
    fn the_hash_covers_method_path_and_body() {
        let base = request_hash(&Method::POST, "/a", b"{}");
        assert_eq!(base, request_hash(&Method::POST, "/a", b"{}"));
        assert_ne!(base, request_hash(&Method::PUT, "/a", b"{}"));
        assert_ne!(base, request_hash(&Method::POST, "/a?x=1", b"{}"));
        assert_ne!(base, request_hash(&Method::POST, "/a", b"{ }"));
    }

    #[test]
    fn only_listed_routes_are_covered() {
        assert!(covers(&Method::POST, "/api/v1/auth/register"));
        assert!(!covers(&Method::GET, "/api/v1/auth/register"));
        assert!(!covers(&Method::POST, "/api/v1/auth/login"));
    }

    #[test]
    fn config_rejects_a_ttl_out_of_range() {
        let error = crate::config::Config::from_toml("[idempotency]\nttl_secs = 5").unwrap_err();
        assert_eq!(error.key, "idempotency.ttl_secs");
    }
}
