//! Staying up when dependencies are not: the one circuit-breaker type every
//! dependency uses.

mod breaker;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
