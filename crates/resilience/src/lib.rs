//! Staying up when dependencies are not: the one circuit-breaker type every
//! dependency uses (database, Redis, and later the agencies' feeds), and
//! retries with full jitter bounded by a retry budget.

mod breaker;
mod retry;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use retry::{RetryBudget, RetryPolicy};
