//! Typed configuration: defaults, then `babyshield.toml` (path overridable),
//! then `BABYSHIELD__SECTION__KEY` environment variables. Everything is
//! validated before the service starts; a bad value stops it with one line
//! naming the key.

mod secrets;
mod sections;

use std::path::{Path, PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};

pub use secrets::{Secret, Secrets};
pub use sections::{
    AccountsConfig, DatabaseConfig, Environment, HttpConfig, LogConfig, LogFormat, RedisConfig, SearchConfig,
    ServerConfig,
};

/// The whole configuration, as loaded from file and environment.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `dev` generates missing secrets once and keeps them under `data_dir`;
    /// `prod` refuses to start without real secrets.
    pub env: Environment,
    /// Where the embedded database and development secrets live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub log: LogConfig,
    pub search: SearchConfig,
    pub accounts: AccountsConfig,
    pub http: HttpConfig,
    pub rate_limit: crate::rate_limit::RateLimitConfig,
    pub mail: crate::mail::MailConfig,
    pub idempotency: crate::idempotency::IdempotencyConfig,
    pub flags: crate::flags::FlagsConfig,
    pub cache: crate::cache::CacheConfig,
    pub family: crate::family::FamilyConfig,
    pub jobs: crate::jobs::JobsConfig,
    pub ingest: crate::ingest::IngestConfig,
    pub secrets: secrets::SecretsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            env: Environment::Dev,
            data_dir: PathBuf::from("data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            log: LogConfig::default(),
            search: SearchConfig::default(),
            accounts: AccountsConfig::default(),
            http: HttpConfig::default(),
            rate_limit: crate::rate_limit::RateLimitConfig::default(),
            mail: crate::mail::MailConfig::default(),
            idempotency: crate::idempotency::IdempotencyConfig::default(),
            flags: crate::flags::FlagsConfig::default(),
            cache: crate::cache::CacheConfig::default(),
            family: crate::family::FamilyConfig::default(),
            jobs: crate::jobs::JobsConfig::default(),
            ingest: crate::ingest::IngestConfig::default(),
            secrets: secrets::SecretsConfig::default(),
        }
    }
}

/// A configuration problem, phrased for the operator: names the key and says
/// what is wrong, on one line.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { key: key.into(), message: message.into() }
    }
}

/// Where to read the config file from: `--config`, else `BABYSHIELD_CONFIG`,
/// else `./babyshield.toml` when it exists.
pub fn default_config_path() -> PathBuf {
    std::env::var_os("BABYSHIELD_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("babyshield.toml"))
}

impl Config {
    /// Loads and validates the configuration. `explicit_path` must exist when
    /// given; the default path is optional.
    pub fn load(explicit_path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match explicit_path {
            Some(path) if !path.exists() => {
                return Err(ConfigError::new("--config", format!("file {} not found", path.display())));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file(default_config_path())),
        }
        figment = figment.merge(Env::prefixed("BABYSHIELD__").split("__").lowercase(true));
        Self::from_figment(figment)
    }

    /// Builds a config from defaults plus the given TOML text (tests, tools).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Self::from_figment(Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text)))
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            let key =
                e.path.iter().filter(|p| p.as_str() != "default").cloned().collect::<Vec<_>>().join(".");
            let key = if key.is_empty() { "config".to_string() } else { key };
            let origin = e.metadata.as_ref().and_then(|m| m.source.as_ref()).map(|s| format!(" (from {s})"));
            ConfigError::new(key, format!("{}{}", e.kind, origin.unwrap_or_default()))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the relations between values that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.database.validate()?;
        self.redis.validate()?;
        self.search.validate()?;
        self.accounts.validate()?;
        self.rate_limit.validate()?;
        self.http.validate()?;
        self.mail.validate().map_err(|m| ConfigError::new("mail", m))?;
        self.idempotency.validate()?;
        self.flags.validate()?;
        self.cache.validate()?;
        self.family.validate()?;
        self.jobs.validate()?;
        self.ingest.validate()?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("data_dir", "must not be empty"));
        }
        Ok(())
    }

    /// The database URL in effect: the configured one, or the embedded SQLite
    /// file under `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("babyshield.db").display()),
        }
    }

    /// The effective configuration as TOML with every secret redacted, for
    /// `babyshield check-config`.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = Some(sections::redact_url_password(&self.database_url()));
        shown.redis.url = self.redis.url.as_deref().map(sections::redact_url_password);
        shown.mail.smtp_url = self.mail.smtp_url.as_deref().map(sections::redact_url_password);
        shown.secrets = self.secrets.redacted();
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

#[cfg(test)]
mod tests;
