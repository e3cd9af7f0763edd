//! `[ingest]`: how the agencies' feeds are fetched, and the per-source
//! schedules. Every schedule is off by default, and no source has a
//! `base_url` until one is configured: the service never reaches the
//! internet unless told to.

use babyshield_ingest::Source;
use babyshield_resilience::ThreadPriority;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// [`IngestConfig::nice`] unless configured.
pub const DEFAULT_NICE: i32 = 10;

/// [`IngestConfig::yield_percent`] unless configured.
pub const DEFAULT_YIELD_PERCENT: u32 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// How long a pull holds a source before another instance may take it
    /// over; renewed every third of it while the pull runs.
    pub lease_secs: u64,
    /// Retries of one request after a timeout, a connection error, a 5xx or
    /// a 429 (full-jitter backoff between `retry_base_ms` and `retry_cap_ms`).
    pub retries: u32,
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    /// Failed requests to one source that open its circuit breaker
    /// (default: 3 within 120 s, then no request for 300 s).
    pub breaker: crate::resilience::BreakerConfig,
    /// How a pull's CPU work in this process yields to requests. 1..19:
    /// on SQLite its pages are written (a connection of its own) at this
    /// niceness, and they are parsed and prepared under `SCHED_IDLE`
    /// (preempted by any request thread that wakes up; the writer holds
    /// SQLite's write lock, so it keeps a share of a busy core). While
    /// requests keep every core busy a pull then slows down instead of
    /// slowing them; on idle cores it runs at full speed. 0: everything
    /// competes equally.
    pub nice: i32,
    /// While requests keep the cores busy, a pull pauses after each page
    /// for this percentage of the time the page took to store (300: three
    /// times as long, at most 10 s): in full once requests in flight
    /// average one per core, less between that and one core left over, not
    /// at all below; 0: never pauses. A pull alone runs at full speed.
    pub yield_percent: u32,
    pub cpsc: SourceSchedule,
    pub fda_food: SourceSchedule,
    pub fda_drug: SourceSchedule,
    pub fda_device: SourceSchedule,
    pub health_canada: SourceSchedule,
}

/// One source's feed and schedule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceSchedule {
    /// Pull every `interval_secs` (manual pulls work either way).
    pub enabled: bool,
    /// CPSC: the Recall endpoint, e.g.
    /// `https://www.saferproducts.gov/RestWebServices/Recall`; openFDA: the
    /// enforcement endpoint, e.g. `https://api.fda.gov/food/enforcement.json`;
    /// Health Canada: the API root, e.g.
    /// `https://healthycanadians.gc.ca/recall-alert-rappel-avis/api`.
    pub base_url: Option<String>,
    /// Time between the starts of two pulls.
    pub interval_secs: u64,
    /// Records per request (openFDA `limit` (at most 1000), Health Canada `lim`).
    pub page_size: u32,
    /// Days per request window (CPSC, openFDA).
    pub window_days: u32,
    /// First day of the first pull (`YYYY-MM-DD`); later pulls start where
    /// the previous one ended.
    pub since: String,
    pub connect_timeout_ms: u64,
    /// Longest wait for the next bytes of a response.
    pub read_timeout_ms: u64,
    /// Longest one request may take in all, body included.
    pub request_timeout_ms: u64,
    /// Pause between two requests to the source (pages and details).
    pub politeness_ms: u64,
    /// Pages per pull at most; the next pull continues from the cursor.
    pub max_pages: u32,
    /// Health Canada's language (`en` or `fr`).
    pub language: String,
}

impl SourceSchedule {
    fn with(page_size: u32, window_days: u32) -> SourceSchedule {
        SourceSchedule { page_size, window_days, ..SourceSchedule::default() }
    }
}

impl Default for SourceSchedule {
    fn default() -> Self {
        SourceSchedule {
            enabled: false,
            base_url: None,
            interval_secs: 6 * 3600,
            page_size: 100,
            window_days: 31,
            since: "2024-01-01".into(),
            connect_timeout_ms: 5_000,
            read_timeout_ms: 30_000,
            request_timeout_ms: 120_000,
            politeness_ms: 1_000,
            max_pages: 200,
            language: "en".into(),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            lease_secs: 60,
            retries: 3,
            retry_base_ms: 500,
            retry_cap_ms: 8_000,
            breaker: crate::resilience::BreakerConfig { failures: 3, window_secs: 120, open_secs: 300 },
            nice: DEFAULT_NICE,
            yield_percent: DEFAULT_YIELD_PERCENT,
            cpsc: SourceSchedule::with(100, 31),
            fda_food: SourceSchedule::with(1000, 31),
            fda_drug: SourceSchedule::with(1000, 31),
            fda_device: SourceSchedule::with(1000, 31),
            health_canada: SourceSchedule::with(50, 31),
        }
    }
}

impl IngestConfig {
    pub fn source(&self, source: Source) -> &SourceSchedule {
        match source {
            Source::Cpsc => &self.cpsc,
            Source::FdaFood => &self.fda_food,
            Source::FdaDrug => &self.fda_drug,
            Source::FdaDevice => &self.fda_device,
            Source::HealthCanada => &self.health_canada,
        }
    }

    pub fn source_mut(&mut self, source: Source) -> &mut SourceSchedule {
        match source {
            Source::Cpsc => &mut self.cpsc,
            Source::FdaFood => &mut self.fda_food,
            Source::FdaDrug => &mut self.fda_drug,
            Source::FdaDevice => &mut self.fda_device,
            Source::HealthCanada => &mut self.health_canada,
        }
    }

    /// [`IngestConfig::nice`] as a thread priority: the SQLite writer's.
    pub fn priority(&self) -> Result<ThreadPriority, ConfigError> {
        ThreadPriority::from_nice(self.nice).map_err(|e| ConfigError::new("ingest.nice", e))
    }

    /// The priority of the threads parsing and preparing a pull's pages:
    /// `SCHED_IDLE` unless `nice` is 0. They take none of the service's
    /// locks (only the allocator's and the kernel's, as every thread
    /// does), so they can be preempted at any moment; a nice value alone
    /// still lets a running thread finish its slice (milliseconds) before a
    /// request thread that wakes up gets the core.
    pub fn parsing_priority(&self) -> Result<ThreadPriority, ConfigError> {
        Ok(match self.priority()? {
            ThreadPriority::Normal => ThreadPriority::Normal,
            _ => ThreadPriority::Idle,
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.priority()?;
        if self.yield_percent > 10_000 {
            return Err(ConfigError::new("ingest.yield_percent", "must be between 0 and 10000"));
        }
        if !(5..=3600).contains(&self.lease_secs) {
            return Err(ConfigError::new("ingest.lease_secs", "must be between 5 and 3600"));
        }
        if self.retries > 10 {
            return Err(ConfigError::new("ingest.retries", "must be at most 10"));
        }
        if self.retry_base_ms == 0 || self.retry_cap_ms < self.retry_base_ms {
            return Err(ConfigError::new(
                "ingest.retry_cap_ms",
                "retry_base_ms must be greater than 0 and retry_cap_ms at least retry_base_ms",
            ));
        }
        self.breaker.validate("ingest.breaker").map_err(|m| ConfigError::new("ingest.breaker", m))?;
        for source in Source::ALL {
            self.source(*source).validate(&config_key(*source))?;
        }
        Ok(())
    }
}

/// `ingest.fda_food`: the config table of a source.
pub fn config_key(source: Source) -> String {
    format!("ingest.{}", source.as_str().replace('-', "_"))
}

impl SourceSchedule {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{key}.{field}");
        match &self.base_url {
            Some(url) => check_url(url).map_err(|m| ConfigError::new(at("base_url"), m))?,
            None if self.enabled => {
                return Err(ConfigError::new(at("base_url"), "must be set when the schedule is enabled"));
            }
            None => {}
        }
        if self.interval_secs == 0 {
            return Err(ConfigError::new(at("interval_secs"), "must be greater than 0"));
        }
        if !(1..=1000).contains(&self.page_size) {
            return Err(ConfigError::new(at("page_size"), "must be between 1 and 1000"));
        }
        if !(1..=366).contains(&self.window_days) {
            return Err(ConfigError::new(at("window_days"), "must be between 1 and 366"));
        }
        if babyshield_domain::ymd::parse(&self.since).is_none() {
            return Err(ConfigError::new(at("since"), "must be a date (YYYY-MM-DD)"));
        }
        for (field, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("read_timeout_ms", self.read_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::new(at(field), "must be greater than 0"));
            }
        }
        if self.politeness_ms > 60_000 {
            return Err(ConfigError::new(at("politeness_ms"), "must be at most 60000"));
        }
        if !(1..=100_000).contains(&self.max_pages) {
            return Err(ConfigError::new(at("max_pages"), "must be between 1 and 100000"));
        }
        if !matches!(self.language.as_str(), "en" | "fr") {
            return Err(ConfigError::new(at("language"), "must be en or fr"));
        }
        Ok(())
    }
}

/// An absolute `http://` or `https://` URL without credentials.
pub fn check_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with http:// or https://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_schedule_nothing_and_reach_no_network() {
        let config = IngestConfig::default();
        config.validate().unwrap();
        for source in Source::ALL {
            let s = config.source(*source);
            assert!(!s.enabled && s.base_url.is_none(), "{source}");
        }
        assert_eq!(
            config.breaker,
            crate::resilience::BreakerConfig { failures: 3, window_secs: 120, open_secs: 300 }
        );
    }

    #[test]
    fn a_pull_parses_under_sched_idle_unless_its_niceness_is_zero() {
        let mut config = IngestConfig::default();
        assert_eq!(config.priority().unwrap(), ThreadPriority::Nice(DEFAULT_NICE));
        assert_eq!(config.parsing_priority().unwrap(), ThreadPriority::Idle);
        config.nice = 0;
        assert_eq!(config.priority().unwrap(), ThreadPriority::Normal);
        assert_eq!(config.parsing_priority().unwrap(), ThreadPriority::Normal);
        config.nice = 20;
        assert_eq!(config.parsing_priority().unwrap_err().key, "ingest.nice");
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut config = IngestConfig::default();
        config.fda_food.enabled = true;
        assert_eq!(config.validate().unwrap_err().key, "ingest.fda_food.base_url");
        config.fda_food.base_url = Some("ftp://example.org/x".into());
        assert_eq!(config.validate().unwrap_err().key, "ingest.fda_food.base_url");
        config.fda_food.base_url = Some("https://api.fda.gov/food/enforcement.json".into());
        config.validate().unwrap();
        config.health_canada.since = "01/02/2024".into();
        assert_eq!(config.validate().unwrap_err().key, "ingest.health_canada.since");
        config.health_canada.since = "2024-02-01".into();
        config.cpsc.page_size = 0;
        assert_eq!(config.validate().unwrap_err().key, "ingest.cpsc.page_size");
        config.cpsc.page_size = 100;
        config.yield_percent = 10_001;
        assert_eq!(config.validate().unwrap_err().key, "ingest.yield_percent");
        config.yield_percent = 0;
        config.validate().unwrap();
    }
}
