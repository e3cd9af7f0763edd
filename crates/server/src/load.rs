//! How busy requests keep this server, for work that should give way to
//! them (an agency pull's pages, `ingest/pull.rs`).
//!
//! The request middleware adds every request's time in flight to one
//! counter. Between two readings, the counter's growth divided by the time
//! between them is the mean number of requests in flight (Little's law):
//! 0 on an idle server, about 1 when requests keep one worker busy, the
//! connection count under a closed-loop load. A thread's priority cannot
//! reach work done in another process (PostgreSQL's backend writing a
//! pull's rows), and a lowered priority still takes a share of a busy core;
//! pausing the work itself can.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// Requests' time in flight, summed.
#[derive(Debug, Default)]
pub struct RequestLoad {
    busy_nanos: AtomicU64,
}

/// A reading of [`RequestLoad`] to measure from.
#[derive(Debug, Clone, Copy)]
pub struct LoadMark {
    at: Instant,
    busy_nanos: u64,
}

impl RequestLoad {
    /// Adds one finished request's time in flight.
    pub fn record(&self, in_flight: Duration) {
        let nanos = u64::try_from(in_flight.as_nanos()).unwrap_or(u64::MAX);
        self.busy_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn mark(&self) -> LoadMark {
        LoadMark { at: Instant::now(), busy_nanos: self.busy_nanos.load(Ordering::Relaxed) }
    }

    /// The mean number of requests in flight since `mark` (a request is
    /// counted when it ends, so one that spans several readings lands in
    /// the one it ends in).
    pub fn in_flight_since(&self, mark: LoadMark) -> f64 {
        let busy = self.busy_nanos.load(Ordering::Relaxed).wrapping_sub(mark.busy_nanos);
        let elapsed = mark.at.elapsed().as_nanos().max(1);
        busy as f64 / elapsed as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_requests_spent_in_flight_over_the_time_elapsed_is_the_mean_in_flight() {
        let load = RequestLoad::default();
        let mark = load.mark();
        assert_eq!(load.in_flight_since(mark), 0.0, "no request, nothing in flight");
        // Whatever time passed since the mark (at least this much), a
        // request in flight for a day outweighs it.
        load.record(Duration::from_secs(86_400));
        assert!(load.in_flight_since(mark) > 1.0);
        // A later mark starts from the sum as it is.
        let later = load.mark();
        assert_eq!(load.in_flight_since(later), 0.0);
        load.record(Duration::from_nanos(1));
        let mean = load.in_flight_since(later);
        assert!(mean > 0.0 && mean <= 1.0, "{mean}");
    }
}
