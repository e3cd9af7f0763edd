//! The failed-login policy. Three counters per attempt:
//! - the (account, client) pair and the client alone are blocked for a
//!   growing time once they pass the free failures: that stops one client
//!   guessing one password or stuffing many accounts;
//! - the account alone is never blocked (an attacker who only knows a
//!   parent's email must not lock them out): its failures only add a growing
//!   delay, capped at two seconds, to every attempt on it.

use std::time::Duration;

use babyshield_security::hash_ip;

use super::{Accounts, RequestMeta};
use crate::error::ApiError;

/// Clients get this many times the pair's free failures before the client
/// counter blocks (a family behind one router shares an address).
const CLIENT_FACTOR: i64 = 4;
const MAX_ACCOUNT_DELAY_MS: u64 = 2_000;

pub(super) struct ThrottleKeys {
    pair: String,
    client: String,
    account: String,
}

impl ThrottleKeys {
    fn all(&self) -> [&str; 3] {
        [&self.pair, &self.client, &self.account]
    }
}

impl Accounts {
    pub(super) fn throttle_keys(&self, email_index: &str, meta: &RequestMeta) -> ThrottleKeys {
        let client =
            meta.ip.map(|ip| hash_ip(&self.ip_key, &ip.to_string())).unwrap_or_else(|| "unknown".into());
        ThrottleKeys {
            pair: format!("pair:{email_index}:{client}"),
            client: format!("client:{client}"),
            account: format!("account:{email_index}"),
        }
    }

    /// Refuses the attempt while the pair or the client is blocked, and
    /// slows attempts on an account that is being guessed at.
    pub(super) async fn throttle_check(&self, keys: &ThrottleKeys) -> Result<(), ApiError> {
        let now = Self::now();
        let states = self.store.throttle_states(&keys.all()).await?;
        let blocked_until = states[0].blocked_until.max(states[1].blocked_until);
        if blocked_until > now {
            metrics::counter!("login_throttled_total").increment(1);
            return Err(ApiError::RateLimited {
                message: "too many failed sign-ins; wait before trying again".into(),
                retry_after_secs: (blocked_until - now) as u64,
            });
        }
        let excess = states[2].failures - self.config.throttle_free_failures * CLIENT_FACTOR;
        if excess > 0 {
            let delay = 100u64.saturating_mul(1 << excess.min(5)).min(MAX_ACCOUNT_DELAY_MS);
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        Ok(())
    }

    pub(super) async fn throttle_failure(&self, keys: &ThrottleKeys) -> Result<(), ApiError> {
        let free = self.config.throttle_free_failures;
        let max = self.config.throttle_max_block_secs;
        let block = move |key: usize, failures: i64| -> i64 {
            let free = match key {
                0 => free,
                1 => free * CLIENT_FACTOR,
                _ => return 0,
            };
            if failures <= free { 0 } else { (1i64 << (failures - free).min(20)).min(max) }
        };
        self.store
            .throttle_failure(&keys.all(), Self::now(), self.config.throttle_window_secs, block)
            .await?;
        Ok(())
    }

    /// A successful login clears the pair; the client and account counters
    /// keep counting other attempts.
    pub(super) async fn throttle_success(&self, keys: &ThrottleKeys) -> Result<(), ApiError> {
        self.store.throttle_clear(&[&keys.pair]).await?;
        Ok(())
    }
}
