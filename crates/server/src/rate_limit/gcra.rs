//! GCRA (generic cell rate algorithm): exact rate limiting with one number
//! per key, the theoretical arrival time (TAT). A quota of N per period
//! admits a burst of N, then one request every period/N. All times are
//! integer milliseconds so the local and Redis implementations agree
//! exactly.

use std::fmt;

/// `limit` requests per `period_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub period_ms: u64,
}

impl Quota {
    /// Parses `"100/min"`, `"10/sec"`, `"1000/hour"`.
    pub fn parse(text: &str) -> Result<Quota, String> {
        let (n, unit) = text.trim().split_once('/').ok_or("expected N/sec, N/min or N/hour")?;
        let limit: u32 = n.trim().parse().map_err(|_| format!("'{n}' is not a whole number"))?;
        if limit == 0 || limit > 1_000_000 {
            return Err("the limit must be between 1 and 1000000".into());
        }
        let period_ms = match unit.trim() {
            "s" | "sec" | "second" => 1_000,
            "m" | "min" | "minute" => 60_000,
            "h" | "hour" => 3_600_000,
            other => return Err(format!("unknown period '{other}'; use sec, min or hour")),
        };
        Ok(Quota { limit, period_ms })
    }

    /// Time between requests at the sustained rate.
    pub fn emission_ms(&self) -> u64 {
        (self.period_ms / u64::from(self.limit)).max(1)
    }

    /// How far ahead of now the TAT may run and still admit a request.
    pub fn tolerance_ms(&self) -> u64 {
        self.emission_ms() * u64::from(self.limit - 1)
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period_ms {
            1_000 => "sec",
            60_000 => "min",
            _ => "hour",
        };
        write!(f, "{}/{unit}", self.limit)
    }
}

/// The answer for one request, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Until the full burst is available again.
    pub reset_ms: u64,
    /// Until the next request would be admitted (0 when allowed).
    pub retry_after_ms: u64,
}

/// Decides from the stored TAT; returns the decision and the TAT to store
/// (`None` when nothing changes: a rejected request consumes nothing).
pub fn decide(quota: Quota, stored_tat: Option<u64>, now: u64) -> (Decision, Option<u64>) {
    let tat = stored_tat.unwrap_or(now).max(now);
    let t = quota.emission_ms();
    let tau = quota.tolerance_ms();
    if tat - now > tau {
        let decision = Decision {
            allowed: false,
            limit: quota.limit,
            remaining: 0,
            reset_ms: tat - now,
            retry_after_ms: tat - tau - now,
        };
        return (decision, None);
    }
    let new_tat = tat + t;
    (from_backlog(quota, true, new_tat - now, 0), Some(new_tat))
}

/// Builds a decision from the backlog (`TAT - now`) after the request.
pub fn from_backlog(quota: Quota, allowed: bool, backlog_ms: u64, retry_after_ms: u64) -> Decision {
    let t = quota.emission_ms();
    let room = (quota.tolerance_ms() + t).saturating_sub(backlog_ms);
    Decision {
        allowed,
        limit: quota.limit,
        remaining: if allowed { (room / t) as u32 } else { 0 },
        reset_ms: backlog_ms,
        retry_after_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(quota: Quota, times: &[u64]) -> Vec<Decision> {
        let mut tat = None;
        times
            .iter()
            .map(|&now| {
                let (decision, next) = decide(quota, tat, now);
                if next.is_some() {
                    tat = next;
                }
                decision
            })
            .collect()
    }

    #[test]
    fn exactly_the_limit_passes_in_a_burst_then_requests_are_refused() {
        let quota = Quota::parse("10/min").unwrap();
        let decisions = run(quota, &[1_000; 11]);
        assert!(decisions[..10].iter().all(|d| d.allowed));
        assert_eq!(
            decisions.iter().map(|d| d.remaining).take(10).collect::<Vec<_>>(),
            vec![9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
        );
        assert!(!decisions[10].allowed);
        assert_eq!(decisions[10].retry_after_ms, 6_000, "one emission interval");
    }

    #[test]
    fn the_sustained_rate_is_admitted_after_the_burst() {
        let quota = Quota::parse("2/sec").unwrap();
        let decisions = run(quota, &[0, 0, 0, 499, 500, 999, 1_000]);
        let allowed: Vec<bool> = decisions.iter().map(|d| d.allowed).collect();
        assert_eq!(allowed, vec![true, true, false, false, true, false, true]);
    }

    #[test]
    fn refused_requests_do_not_consume_quota() {
        let quota = Quota::parse("1/sec").unwrap();
        let decisions = run(quota, &[0, 10, 20, 30, 1_000]);
        assert!(decisions[4].allowed);
    }

    #[test]
    fn quotas_parse_and_reject_nonsense() {
        assert_eq!(Quota::parse("100/min").unwrap(), Quota { limit: 100, period_ms: 60_000 });
        assert_eq!(Quota::parse(" 5 / hour ").unwrap().period_ms, 3_600_000);
        for bad in ["", "10", "0/min", "x/min", "10/fortnight", "-1/sec"] {
            assert!(Quota::parse(bad).is_err(), "{bad}");
        }
    }
}
