use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Prod,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub host: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain_timeout_ms: u64,
    /// Pause between flipping readiness to 503 and closing the listener, so a
    /// load balancer notices before connections are refused.
    pub shutdown_delay_ms: u64,
    /// Longest a request may take before it is answered `TIMEOUT`.
    pub request_timeout_ms: u64,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// How long `/health/ready` waits for each dependency.
    pub readiness_timeout_ms: u64,
    /// Requests served at once; more are refused with 503 (load shedding).
    pub max_in_flight: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8001,
            drain_timeout_ms: 30_000,
            shutdown_delay_ms: 0,
            request_timeout_ms: 30_000,
            max_body_bytes: 1024 * 1024,
            readiness_timeout_ms: 1_000,
            max_in_flight: 2_048,
        }
    }
}

impl ServerConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        positive("server.drain_timeout_ms", self.drain_timeout_ms)?;
        positive("server.request_timeout_ms", self.request_timeout_ms)?;
        positive("server.readiness_timeout_ms", self.readiness_timeout_ms)?;
        if self.max_in_flight == 0 {
            return Err(ConfigError::new("server.max_in_flight", "must be greater than 0"));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ConfigError::new("server.max_body_bytes", "must be between 1024 and 67108864"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path.db` or `postgres://…`; unset means `<data_dir>/babyshield.db`.
    pub url: Option<String>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    /// Apply pending migrations when the service starts.
    pub migrate_on_start: bool,
    /// Load the bundled sample recalls when the catalogue is empty at start.
    pub load_sample_data: bool,
    /// SQLite only: MiB of the database file read through a memory map.
    pub sqlite_mmap_mib: u64,
    /// SQLite only: MiB of page cache per connection (filled by writes and
    /// by reads beyond the memory map). `babyshield import` gives its own
    /// connections at least 512.
    pub sqlite_cache_mib: u64,
    /// Database failures that open its circuit breaker (default: 5 in 60 s).
    pub breaker: crate::resilience::BreakerConfig,
    /// Retries of idempotent reads after a transient failure (full jitter,
    /// at most one retry per ten reads overall).
    pub read_retries: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout_ms: 2_000,
            statement_timeout_ms: 5_000,
            migrate_on_start: true,
            load_sample_data: true,
            sqlite_mmap_mib: 1024,
            sqlite_cache_mib: 64,
            breaker: crate::resilience::BreakerConfig { failures: 5, window_secs: 60, open_secs: 5 },
            read_retries: 2,
        }
    }
}

impl DatabaseConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.url
            && babyshield_storage::Backend::from_url(url).is_none()
        {
            return Err(ConfigError::new(
                "database.url",
                "must start with sqlite: or postgres:// (or postgresql://)",
            ));
        }
        if !(1..=1000).contains(&self.max_connections) {
            return Err(ConfigError::new("database.max_connections", "must be between 1 and 1000"));
        }
        if self.min_connections > self.max_connections {
            return Err(ConfigError::new(
                "database.min_connections",
                "must not exceed database.max_connections",
            ));
        }
        positive("database.acquire_timeout_ms", self.acquire_timeout_ms)?;
        if !(1..=MAX_CACHE_MIB).contains(&self.sqlite_cache_mib) {
            return Err(ConfigError::new(
                "database.sqlite_cache_mib",
                format!("must be between 1 and {MAX_CACHE_MIB}"),
            ));
        }
        self.breaker.validate("database.breaker").map_err(|m| ConfigError::new("database.breaker", m))?;
        if self.read_retries > 5 {
            return Err(ConfigError::new("database.read_retries", "must be at most 5"));
        }
        positive("database.statement_timeout_ms", self.statement_timeout_ms)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:port[/db]`; unset means no Redis (single instance).
    pub url: Option<String>,
    /// Longest one Redis call may take before the caller falls back.
    pub timeout_ms: u64,
    /// Redis failures that open its circuit breaker (defaults: 10 in 30 s).
    pub breaker: crate::resilience::BreakerConfig,
    /// Whether `/health/ready` fails while Redis is down. Off by default:
    /// rate limits fall back to each instance, so taking every instance
    /// out of the load balancer would turn a degradation into an outage.
    pub required: bool,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            timeout_ms: 100,
            breaker: crate::resilience::BreakerConfig { failures: 10, window_secs: 30, open_secs: 5 },
            required: false,
        }
    }
}

impl RedisConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::new("redis.url", "must start with redis:// or rediss://"));
        }
        positive("redis.timeout_ms", self.timeout_ms)?;
        self.breaker.validate("redis.breaker").map_err(|m| ConfigError::new("redis.breaker", m))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Pretty,
    /// One JSON object per line for log shippers.
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter such as `info` or `info,babyshield_storage=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Pretty, level: "info".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// How long a `nextCursor` stays valid.
    pub cursor_max_age_secs: i64,
    /// How often each instance checks whether the catalogue changed (to
    /// refresh its typo-tolerance vocabulary).
    pub vocabulary_refresh_secs: u64,
    /// Searches that reach the database at once (cache misses and safety
    /// check candidates); more wait, bounded by `max_queued`.
    pub max_concurrent: usize,
    /// Searches waiting for one of those slots; more are refused with 503
    /// at once, so an overload cannot queue statements until they time out
    /// and open the database breaker for every other endpoint.
    pub max_queued: usize,
    /// Answer searches from an in-memory index of the catalogue, built at
    /// start and kept current from the database (about 400 MB per million
    /// recalls); `false` searches through the database's full-text indexes.
    pub in_memory_index: bool,
    /// Memory (MiB) for the stored documents of recent result pages, kept
    /// by version beside the in-memory index; 0 reads every page's
    /// documents from the database.
    pub document_cache_mib: u64,
    /// Memory (MiB) for the match sets of recently searched terms, kept
    /// beside the in-memory index (at a million recalls 500 KiB per term);
    /// 0 computes them for every search.
    pub term_cache_mib: u64,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            cursor_max_age_secs: 24 * 3600,
            vocabulary_refresh_secs: 30,
            max_concurrent: 8,
            max_queued: 64,
            in_memory_index: true,
            document_cache_mib: babyshield_storage::recalls::DEFAULT_DOCUMENT_CACHE_MIB,
            term_cache_mib: babyshield_storage::recalls::DEFAULT_TERM_CACHE_MIB,
        }
    }
}

/// Largest `database.sqlite_cache_mib`, `search.document_cache_mib` and `search.term_cache_mib`
/// (64 GiB): a typo of a few digits more is refused instead of letting a
/// cache take the machine.
const MAX_CACHE_MIB: u64 = 65_536;

impl SearchConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.cursor_max_age_secs <= 0 {
            return Err(ConfigError::new("search.cursor_max_age_secs", "must be greater than 0"));
        }
        if self.max_concurrent == 0 {
            return Err(ConfigError::new("search.max_concurrent", "must be greater than 0"));
        }
        for (key, mib) in [
            ("search.document_cache_mib", self.document_cache_mib),
            ("search.term_cache_mib", self.term_cache_mib),
        ] {
            if mib > MAX_CACHE_MIB {
                return Err(ConfigError::new(key, format!("must be at most {MAX_CACHE_MIB} (MiB)")));
            }
        }
        positive("search.vocabulary_refresh_secs", self.vocabulary_refresh_secs)
    }
}

fn positive(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::new(key, "must be greater than 0"));
    }
    Ok(())
}

/// Hides every password a database or Redis URL can carry: the userinfo
/// part (`postgres://user:secret@host/db`) and `password=` / `sslpassword=`
/// query parameters.
pub(super) fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.to_ascii_lowercase().ends_with("password") => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// Lifetime of a JWT access token.
    pub access_token_ttl_secs: i64,
    /// Lifetime of one refresh token (each use issues a new one).
    pub refresh_token_ttl_secs: i64,
    /// A session ends this long after login whatever the refreshes.
    pub session_max_secs: i64,
    /// How long a password-reset link works.
    pub reset_token_ttl_secs: i64,
    /// Account deletion needs a login at most this old.
    pub recent_login_secs: i64,
    /// Soft-deleted accounts are purged after this many days.
    pub deleted_retention_days: i64,
    pub purge_interval_secs: u64,
    /// Argon2id cost (OWASP: 19456 KiB, 2 passes, 1 lane).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes computed at once (0 = number of cores).
    pub hashing_concurrency: usize,
    /// Logins waiting for a hashing slot before new ones get 503.
    pub hashing_queue: usize,
    /// Failed logins per (account, client) and per client before blocking.
    pub throttle_free_failures: i64,
    /// Failures older than this are forgotten.
    pub throttle_window_secs: i64,
    /// Longest block after repeated failures.
    pub throttle_max_block_secs: i64,
    /// Public base URL used in password-reset mails.
    pub public_url: String,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            session_max_secs: 90 * 24 * 3600,
            reset_token_ttl_secs: 1800,
            recent_login_secs: 900,
            deleted_retention_days: 30,
            purge_interval_secs: 3600,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hashing_concurrency: 0,
            hashing_queue: 64,
            throttle_free_failures: 5,
            throttle_window_secs: 900,
            throttle_max_block_secs: 900,
            public_url: "http://127.0.0.1:8001".into(),
        }
    }
}

impl AccountsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("accounts.access_token_ttl_secs", self.access_token_ttl_secs),
            ("accounts.refresh_token_ttl_secs", self.refresh_token_ttl_secs),
            ("accounts.session_max_secs", self.session_max_secs),
            ("accounts.reset_token_ttl_secs", self.reset_token_ttl_secs),
            ("accounts.recent_login_secs", self.recent_login_secs),
            ("accounts.deleted_retention_days", self.deleted_retention_days),
            ("accounts.throttle_window_secs", self.throttle_window_secs),
            ("accounts.throttle_max_block_secs", self.throttle_max_block_secs),
        ] {
            if value <= 0 {
                return Err(ConfigError::new(key, "must be greater than 0"));
            }
        }
        if self.access_token_ttl_secs > 3600 {
            return Err(ConfigError::new("accounts.access_token_ttl_secs", "must be at most 3600"));
        }
        if self.reset_token_ttl_secs > 3600 {
            return Err(ConfigError::new("accounts.reset_token_ttl_secs", "must be at most 3600"));
        }
        if self.argon2_memory_kib < 19_456 || self.argon2_iterations < 2 || self.argon2_parallelism < 1 {
            return Err(ConfigError::new(
                "accounts.argon2_memory_kib",
                "Argon2id cost must be at least OWASP's m=19456 KiB, t=2, p=1",
            ));
        }
        positive("accounts.purge_interval_secs", self.purge_interval_secs)?;
        if self.hashing_queue == 0 {
            return Err(ConfigError::new("accounts.hashing_queue", "must be greater than 0"));
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(ConfigError::new("accounts.public_url", "must start with http:// or https://"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Send `Strict-Transport-Security`. Off by default: the service speaks
    /// plain HTTP behind a TLS-terminating proxy, and only an operator who
    /// knows every client reaches it over HTTPS should turn this on.
    pub hsts: bool,
    /// `max-age` of the HSTS header; 0 tells browsers to forget it.
    pub hsts_max_age_secs: u64,
    /// Exact browser origins (`scheme://host[:port]`) allowed to call the API
    /// cross-origin. Empty means no CORS headers at all.
    pub cors_allowed_origins: Vec<String>,
    /// Response bodies smaller than this are sent uncompressed: below about
    /// a kilobyte gzip and br save less than they cost.
    pub compression_min_bytes: u16,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            hsts: false,
            hsts_max_age_secs: 31_536_000,
            cors_allowed_origins: Vec::new(),
            compression_min_bytes: 1024,
        }
    }
}

impl HttpConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for origin in &self.cors_allowed_origins {
            check_origin(origin).map_err(|reason| {
                ConfigError::new("http.cors_allowed_origins", format!("{origin:?} {reason}"))
            })?;
        }
        Ok(())
    }
}

/// Browsers send `Origin` as lowercase `scheme://host[:port]` without a
/// default port, and CORS compares it byte for byte: anything else in the
/// allowlist could never match, so it is refused rather than ignored.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    if origin == "*" {
        return Err("is not allowed: a wildcard would let every website call the API from its \
                    visitors' browsers; list each allowed origin exactly");
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return Err("must look like https://host[:port]");
    };
    let default_port = match scheme {
        "https" => ":443",
        "http" => ":80",
        _ => return Err("must start with https:// or http://"),
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err("must be scheme://host[:port] with no path, query, user or trailing slash");
    }
    if authority.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("must be lowercase, as browsers send it");
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => !ipv6.is_empty() && ipv6.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.'),
        None => !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
    };
    if !host_ok {
        return Err("has an invalid host");
    }
    if let Some(port) = port {
        if !port.parse::<u16>().is_ok_and(|p| p != 0) || port.starts_with('0') {
            return Err("has an invalid port");
        }
        if authority.ends_with(default_port) {
            return Err("names the scheme's default port, which browsers leave out of Origin");
        }
    }
    Ok(())
}
