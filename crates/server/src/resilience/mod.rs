//! Re-exported from the `babyshield-resilience` crate, which the storage
//! layer shares, plus the server's async bulkhead.

mod bulkhead;

pub use bulkhead::{Admission, Bulkhead, Entered};

pub use babyshield_resilience::{BreakerConfig, BreakerState, CircuitBreaker, RetryBudget, RetryPolicy};
