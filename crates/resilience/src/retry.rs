//! Retries for idempotent operations only: exponential backoff with full
//! jitter (a random wait between zero and the capped exponential), and a
//! budget so a failing dependency is not hammered. Every call deposits a
//! fraction of a token; every retry spends a whole one, so retries stay a
//! bounded share of traffic whatever the failure rate.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use rand::Rng;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based): uniform in
    /// `[0, min(cap, base * 2^(attempt-1))]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
        let ceiling = exp.min(self.cap);
        let millis = ceiling.as_millis() as u64;
        Duration::from_millis(if millis == 0 { 0 } else { rand::rng().random_range(0..=millis) })
    }
}

/// Retry tokens, in thousandths so fractions can be deposited atomically.
#[derive(Debug)]
pub struct RetryBudget {
    milli_tokens: AtomicU64,
    deposit_milli: u64,
    max_milli: u64,
}

impl RetryBudget {
    /// `ratio`: retries allowed per call (0.1 = one retry per ten calls);
    /// `burst`: tokens that can be saved up.
    pub fn new(ratio: f64, burst: u64) -> RetryBudget {
        let max_milli = burst * 1000;
        RetryBudget {
            milli_tokens: AtomicU64::new(max_milli),
            deposit_milli: (ratio.clamp(0.0, 1.0) * 1000.0) as u64,
            max_milli,
        }
    }

    /// Called once per operation.
    pub fn deposit(&self) {
        let _ = self.milli_tokens.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
            Some((t + self.deposit_milli).min(self.max_milli))
        });
    }

    /// Takes one token for a retry; false when the budget is spent.
    pub fn try_withdraw(&self) -> bool {
        self.milli_tokens.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| t.checked_sub(1000)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_a_capped_exponential() {
        let policy =
            RetryPolicy { max_retries: 5, base: Duration::from_millis(10), cap: Duration::from_millis(50) };
        for attempt in 1..=6 {
            let ceiling = Duration::from_millis((10u64 << (attempt - 1)).min(50));
            for _ in 0..200 {
                assert!(policy.backoff(attempt) <= ceiling);
            }
        }
        let spread: std::collections::HashSet<_> = (0..200).map(|_| policy.backoff(3)).collect();
        assert!(spread.len() > 10, "waits are spread, not fixed");
    }

    #[test]
    fn the_budget_bounds_retries_to_a_share_of_calls() {
        let budget = RetryBudget::new(0.1, 2);
        assert!(budget.try_withdraw() && budget.try_withdraw(), "the saved-up burst");
        assert!(!budget.try_withdraw(), "then nothing until calls deposit");
        for _ in 0..10 {
            budget.deposit();
        }
        assert!(budget.try_withdraw(), "ten calls earn one retry");
        assert!(!budget.try_withdraw());
    }
}
