//! Staying up when dependencies are not: the one circuit-breaker type every
//! dependency uses (database, Redis, and later the agencies' feeds), and
//! retries with full jitter bounded by a retry budget, and background
//! threads that yield the CPU to requests.

mod breaker;
mod priority;
mod retry;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use priority::{
    BackgroundPool, PoolStopped, ThreadPriority, current_thread_priority, lower_current_thread,
};
pub use retry::{RetryBudget, RetryPolicy};
