//! Re-exported from the `babyshield-resilience` crate, which the storage
//! layer shares.

pub use babyshield_resilience::{BreakerConfig, BreakerState, CircuitBreaker, RetryBudget, RetryPolicy};
