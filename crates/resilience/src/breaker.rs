//! A circuit breaker: closed (calls go through), open (calls are refused at
//! once so a failing dependency is not hammered and callers fall back), and
//! half-open (one trial call decides). It opens after `failures` failures
//! within `window`, and stays open for `open_for`.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Failures within `window_secs` that open the breaker.
    pub failures: u32,
    pub window_secs: u64,
    /// How long it stays open before a trial call.
    pub open_secs: u64,
}

impl BreakerConfig {
    pub fn validate(&self, key: &str) -> Result<(), String> {
        if self.failures == 0 || self.window_secs == 0 || self.open_secs == 0 {
            return Err(format!("{key}: failures, window_secs and open_secs must be greater than 0"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: Vec<Instant>,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
    /// When the current half-open trial started: a trial whose outcome never
    /// comes back (its future was dropped) expires after `open_secs` (at
    /// least a second).
    trial_started: Option<Instant>,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    name: &'static str,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(name: &'static str, config: BreakerConfig) -> CircuitBreaker {
        let breaker = CircuitBreaker {
            name,
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: Vec::new(),
                opened_at: None,
                trial_in_flight: false,
                trial_started: None,
            }),
        };
        breaker.publish(BreakerState::Closed);
        breaker
    }

    fn publish(&self, state: BreakerState) {
        metrics::gauge!("circuit_breaker_state", "dependency" => self.name).set(state.gauge());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// Whether a call may go through now. In half-open, exactly one trial
    /// call is let through until its outcome is recorded.
    pub fn allow(&self) -> bool {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => true,
            BreakerState::Open => {
                let elapsed = inner.opened_at.map(|t| t.elapsed()).unwrap_or_default();
                if elapsed >= Duration::from_secs(self.config.open_secs) {
                    inner.state = BreakerState::HalfOpen;
                    inner.trial_in_flight = true;
                    inner.trial_started = Some(Instant::now());
                    drop(inner);
                    self.publish(BreakerState::HalfOpen);
                    true
                } else {
                    false
                }
            }
            BreakerState::HalfOpen => {
                let expiry = Duration::from_secs(self.config.open_secs.max(1));
                let lost = inner.trial_started.is_some_and(|t| t.elapsed() >= expiry);
                if inner.trial_in_flight && !lost {
                    false
                } else {
                    inner.trial_in_flight = true;
                    inner.trial_started = Some(Instant::now());
                    true
                }
            }
        }
    }

    /// Whether calls are being refused right now, without taking the
    /// half-open trial: for callers that cannot report an outcome.
    pub fn refusing(&self) -> bool {
        let inner = self.lock();
        inner.state == BreakerState::Open
            && inner.opened_at.is_some_and(|t| t.elapsed() < Duration::from_secs(self.config.open_secs))
    }

    pub fn record_success(&self) {
        let mut inner = self.lock();
        let was = inner.state;
        inner.state = BreakerState::Closed;
        inner.failures.clear();
        inner.opened_at = None;
        inner.trial_in_flight = false;
        drop(inner);
        if was != BreakerState::Closed {
            tracing::info!(dependency = self.name, "circuit breaker closed: dependency recovered");
            self.publish(BreakerState::Closed);
        }
    }

    pub fn record_failure(&self) {
        let now = Instant::now();
        let window = Duration::from_secs(self.config.window_secs);
        let mut inner = self.lock();
        inner.failures.retain(|t| now.duration_since(*t) < window);
        inner.failures.push(now);
        let open = match inner.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => inner.failures.len() >= self.config.failures as usize,
            BreakerState::Open => false,
        };
        inner.trial_in_flight = false;
        if open {
            inner.state = BreakerState::Open;
            inner.opened_at = Some(now);
            drop(inner);
            tracing::warn!(
                dependency = self.name,
                "circuit breaker open: calls refused until a trial succeeds"
            );
            metrics::counter!("circuit_breaker_opened_total", "dependency" => self.name).increment(1);
            self.publish(BreakerState::Open);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32, open_secs: u64) -> CircuitBreaker {
        CircuitBreaker::new("test", BreakerConfig { failures, window_secs: 60, open_secs })
    }

    #[test]
    fn opens_after_the_threshold_and_refuses_calls() {
        let b = breaker(3, 60);
        for _ in 0..2 {
            b.record_failure();
            assert_eq!(b.state(), BreakerState::Closed);
        }
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = breaker(2, 60);
        b.record_failure();
        b.record_success();
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_lets_one_trial_through_and_closes_on_success() {
        let b = breaker(1, 0);
        // open_secs = 0 is refused by validation; here it makes the trial immediate.
        b.record_failure();
        assert!(b.allow(), "the trial call");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.allow(), "only one trial at a time");
        b.record_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow());
    }

    #[test]
    fn a_trial_whose_outcome_never_comes_back_expires() {
        let b = breaker(1, 0);
        b.record_failure();
        assert!(b.allow(), "the trial call, whose future is then dropped");
        assert!(!b.allow(), "while the trial may still report back");
        std::thread::sleep(Duration::from_millis(1_050));
        assert!(b.allow(), "a lost trial expires instead of wedging the breaker");
    }

    #[test]
    fn checking_without_calling_takes_no_trial() {
        let b = CircuitBreaker::new("test", BreakerConfig { failures: 1, window_secs: 60, open_secs: 3600 });
        assert!(!b.refusing());
        b.record_failure();
        assert!(b.refusing());
        assert!(!b.allow());
    }

    #[test]
    fn a_failed_trial_opens_again() {
        let b = breaker(1, 0);
        b.record_failure();
        assert!(b.allow());
        b.record_failure();
        assert_eq!(b.state(), BreakerState::Open);
    }
}
