//! Secrets: given in config or environment, or read from a file. In `dev`,
//! a missing secret is generated once and kept in `<data_dir>/secrets.toml`
//! (mode 0600), so restarts keep cursors and sessions valid. Anywhere else a
//! missing or placeholder secret refuses to start.

use std::{
    collections::BTreeMap,
    fmt,
    io::Write,
    path::{Path, PathBuf},
};

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::{Config, ConfigError, Environment};

/// A secret value. Never printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where each secret may come from (the `[secrets]` config section).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Signs search cursors (`nextCursor`) so clients cannot forge them.
    pub cursor_key: Option<String>,
    pub cursor_key_file: Option<PathBuf>,
    /// Bearer token for operator-only pages (`/health/detailed`).
    pub operator_token: Option<String>,
    pub operator_token_file: Option<PathBuf>,
    /// JWT signing keys, `kid:base64url-secret,...`; the first signs, all
    /// verify (append the old key when rotating, drop it after 15 minutes).
    pub token_keys: Option<String>,
    pub token_keys_file: Option<PathBuf>,
    /// Keys sealing personal data at rest, `kid:base64url-32-bytes,...`; the
    /// first seals, all open. Rotate by prepending a key, then run
    /// `babyshield keys rotate`.
    pub data_keys: Option<String>,
    pub data_keys_file: Option<PathBuf>,
    /// Key of the blind index used to find accounts by email.
    pub blind_index_key: Option<String>,
    pub blind_index_key_file: Option<PathBuf>,
    /// Key of the audit trail's HMAC chain (and of hashed client IPs).
    pub audit_key: Option<String>,
    pub audit_key_file: Option<PathBuf>,
}

impl SecretsConfig {
    pub(super) fn redacted(&self) -> SecretsConfig {
        let hide = |v: &Option<String>| v.as_ref().map(|_| "[redacted]".to_string());
        SecretsConfig {
            cursor_key: hide(&self.cursor_key),
            operator_token: hide(&self.operator_token),
            token_keys: hide(&self.token_keys),
            data_keys: hide(&self.data_keys),
            blind_index_key: hide(&self.blind_index_key),
            audit_key: hide(&self.audit_key),
            ..self.clone()
        }
    }

    fn source(&self, name: &str) -> (Option<&String>, Option<&PathBuf>) {
        match name {
            "cursor_key" => (self.cursor_key.as_ref(), self.cursor_key_file.as_ref()),
            "operator_token" => (self.operator_token.as_ref(), self.operator_token_file.as_ref()),
            "token_keys" => (self.token_keys.as_ref(), self.token_keys_file.as_ref()),
            "data_keys" => (self.data_keys.as_ref(), self.data_keys_file.as_ref()),
            "blind_index_key" => (self.blind_index_key.as_ref(), self.blind_index_key_file.as_ref()),
            "audit_key" => (self.audit_key.as_ref(), self.audit_key_file.as_ref()),
            _ => (None, None),
        }
    }
}

/// The resolved secrets the service runs with.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub cursor_key: Secret,
    pub operator_token: Secret,
    pub token_keys: Secret,
    pub data_keys: Secret,
    pub blind_index_key: Secret,
    pub audit_key: Secret,
}

/// Shortest acceptable secret, in characters (32 random bytes are 43 in base64).
const MIN_SECRET_LEN: usize = 32;
const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "secret",
    "password",
    "example",
    "replace",
    "todo",
    "xxx",
    "default",
    "insecure",
];
const GENERATED_FILE: &str = "secrets.toml";

impl Secrets {
    /// Resolves every secret or explains, naming the key, why it cannot.
    pub fn resolve(config: &Config) -> Result<Secrets, ConfigError> {
        let mut store = GeneratedSecrets::new(&config.data_dir);
        let mut get = |name: &str| resolve_one(config, name, &mut store);
        Ok(Secrets {
            cursor_key: get("cursor_key")?,
            operator_token: get("operator_token")?,
            token_keys: get("token_keys")?,
            data_keys: get("data_keys")?,
            blind_index_key: get("blind_index_key")?,
            audit_key: get("audit_key")?,
        })
    }
}

fn resolve_one(config: &Config, name: &str, store: &mut GeneratedSecrets) -> Result<Secret, ConfigError> {
    let key = format!("secrets.{name}");
    let (value, file) = config.secrets.source(name);
    let value = match (value, file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(&key, format!("set either {key} or {key}_file, not both")));
        }
        (Some(v), None) => Some(v.trim().to_string()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| {
                    ConfigError::new(format!("{key}_file"), format!("cannot read {}: {e}", path.display()))
                })?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    match (value, config.env) {
        (Some(v), Environment::Prod) => {
            check_strength(&v).map_err(|m| ConfigError::new(&key, m))?;
            Ok(Secret(v))
        }
        (Some(v), Environment::Dev) if !v.is_empty() => Ok(Secret(v)),
        (_, Environment::Dev) => {
            store.get_or_generate(name).map(Secret).map_err(|m| ConfigError::new(&key, m))
        }
        (None, Environment::Prod) => Err(ConfigError::new(
            &key,
            format!(
                "missing: set BABYSHIELD__SECRETS__{} or {key}_file (env = \"prod\" never generates secrets)",
                name.to_uppercase()
            ),
        )),
    }
}

fn check_strength(value: &str) -> Result<(), String> {
    if value.chars().count() < MIN_SECRET_LEN {
        return Err(format!("too short: at least {MIN_SECRET_LEN} characters are required"));
    }
    // Whole words at the start, or the unmistakable ones anywhere: a random
    // base64 secret can contain "xxx" or "todo" by chance.
    let lower = value.to_ascii_lowercase();
    let unmistakable = ["changeme", "change-me", "change_me", "placeholder", "replace-me", "replace_me"];
    if PLACEHOLDERS.iter().any(|p| lower.starts_with(p)) || unmistakable.iter().any(|p| lower.contains(p)) {
        return Err("looks like a placeholder value; generate a random one".into());
    }
    let distinct: std::collections::HashSet<char> = value.chars().collect();
    if distinct.len() < 8 {
        return Err("has too few distinct characters to be random".into());
    }
    Ok(())
}

/// A fresh random secret in the shape the named secret needs: key rings are
/// `kid:base64url`, everything else 32 random bytes in base64url.
fn generate(name: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    if KEY_RINGS.contains(&name) {
        let mut id = [0u8; 4];
        rand::rng().fill_bytes(&mut id);
        let kid = babyshield_security::to_hex(&id);
        format!("k{kid}:{secret}")
    } else {
        secret
    }
}

/// Secrets holding `kid:secret` lists rather than one value.
const KEY_RINGS: &[&str] = &["token_keys", "data_keys"];

/// `<data_dir>/secrets.toml`: development secrets generated on first start.
struct GeneratedSecrets {
    path: PathBuf,
    values: Option<BTreeMap<String, String>>,
}

impl GeneratedSecrets {
    fn new(data_dir: &Path) -> Self {
        GeneratedSecrets { path: data_dir.join(GENERATED_FILE), values: None }
    }

    fn get_or_generate(&mut self, name: &str) -> Result<String, String> {
        if self.values.is_none() {
            self.values = Some(self.read()?);
        }
        let values = self.values.as_mut().expect("loaded above");
        if let Some(v) = values.get(name) {
            return Ok(v.clone());
        }
        let value = generate(name);
        values.insert(name.to_string(), value.clone());
        self.write()?;
        Ok(value)
    }

    fn read(&self) -> Result<BTreeMap<String, String>, String> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|e| format!("{} is unreadable: {e}", self.path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(format!("cannot read {}: {e}", self.path.display())),
        }
    }

    /// Writes atomically (temp file + rename) with owner-only permissions.
    fn write(&self) -> Result<(), String> {
        let values = self.values.as_ref().expect("loaded before write");
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let text = format!(
            "# Generated by babyshield in env = \"dev\". Keep private; never commit.\n{}",
            toml::to_string(values).map_err(|e| e.to_string())?
        );
        let tmp = self.path.with_extension(format!("tmp{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        file.write_all(text.as_bytes()).and_then(|_| file.sync_all()).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}
