//! Accounts and authentication: registration, login, tokens, sessions,
//! passwords, profile, deletion, and the operator verbs (create admin, key
//! rotation, audit verification, purge). Every security event is audited in
//! the same transaction as the change it describes.

mod hashing;
mod login;
mod maintenance;
mod password;
mod profile;
mod throttle;

use std::{net::IpAddr, sync::Arc};

use babyshield_security::{
    AuditChain, BlindIndex, DataKeyRing, KeyRing, PasswordParams, TokenSettings, hash_ip, normalize_email,
};
use babyshield_storage::{
    Store,
    accounts::{AuditEvent, NewSession},
};
use serde::Serialize;

use crate::{
    config::{AccountsConfig, Config, ConfigError, Secrets},
    error::ApiError,
    mail::Mailer,
};

pub use hashing::PasswordHasher;
pub use maintenance::RotationReport;
pub use profile::Profile;

/// Who is calling, for the audit trail. The IP is only ever stored hashed.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub ip: Option<IpAddr>,
}

/// A verified access token whose session is still active.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: String,
    pub session_id: String,
    pub role: String,
    /// Unix time of the login that opened the session.
    pub login_at: i64,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// A session about to be stored: what storage keeps, plus the raw refresh
/// token for the client and the audit row.
struct PendingSession {
    id: String,
    user_id: String,
    refresh: String,
    refresh_hash: String,
    refresh_expires_at: i64,
    expires_at: i64,
    now: i64,
    audit: AuditEvent,
}

impl PendingSession {
    fn stored(&self) -> NewSession<'_> {
        NewSession {
            id: &self.id,
            user_id: &self.user_id,
            refresh_hash: &self.refresh_hash,
            refresh_expires_at: self.refresh_expires_at,
            expires_at: self.expires_at,
        }
    }
}

/// The OAuth2-style token answer of the contract.
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

pub struct Accounts {
    store: Store,
    config: AccountsConfig,
    tokens: KeyRing,
    token_settings: TokenSettings,
    fields: Arc<DataKeyRing>,
    email_index: BlindIndex,
    audit: AuditChain,
    ip_key: Vec<u8>,
    hasher: PasswordHasher,
    mailer: Arc<dyn Mailer>,
}

impl Accounts {
    /// Builds the service from validated config and secrets; a malformed key
    /// ring is a configuration error naming the secret.
    /// The mailer is SMTP when `mail.smtp_url` is set, otherwise the sealed
    /// development outbox.
    pub fn new(config: &Config, secrets: &Secrets, store: Store) -> anyhow::Result<Accounts> {
        let a = &config.accounts;
        let bad =
            |key: &str, e: &dyn std::fmt::Display| ConfigError::new(format!("secrets.{key}"), e.to_string());
        let tokens = KeyRing::parse(secrets.token_keys.expose()).map_err(|e| bad("token_keys", &e))?;
        let fields =
            Arc::new(DataKeyRing::parse(secrets.data_keys.expose()).map_err(|e| bad("data_keys", &e))?);
        let email_index = BlindIndex::new(secrets.blind_index_key.expose().as_bytes())
            .map_err(|e| bad("blind_index_key", &e))?;
        let audit = AuditChain::new(secrets.audit_key.expose().as_bytes());
        let params = PasswordParams {
            m_cost_kib: a.argon2_memory_kib,
            t_cost: a.argon2_iterations,
            p_cost: a.argon2_parallelism,
        };
        let hasher = PasswordHasher::new(params, a.hashing_concurrency, a.hashing_queue);
        let token_settings = TokenSettings { ttl_secs: a.access_token_ttl_secs, ..TokenSettings::default() };
        let outbox_keys = Arc::clone(&fields);
        let seal: crate::mail::Seal =
            Arc::new(move |value: &str| outbox_keys.seal(value, maintenance::OUTBOX_AAD));
        let mailer =
            crate::mail::from_config(&config.mail, crate::mail::OutboxMailer::new(store.clone(), seal))?;
        Ok(Accounts {
            store,
            config: a.clone(),
            tokens,
            token_settings,
            fields,
            email_index,
            audit,
            ip_key: secrets.audit_key.expose().as_bytes().to_vec(),
            hasher,
            mailer,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The personal-data key ring, shared with the family service.
    pub(crate) fn field_keys(&self) -> Arc<DataKeyRing> {
        Arc::clone(&self.fields)
    }

    pub(crate) fn event(
        &self,
        meta: &RequestMeta,
        actor: &str,
        action: &'static str,
        target: &str,
        outcome: &'static str,
        details: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            actor: actor.to_string(),
            action,
            target: target.to_string(),
            outcome,
            request_id: meta.request_id.clone(),
            ip_hash: meta.ip.map(|ip| hash_ip(&self.ip_key, &ip.to_string())).unwrap_or_default(),
            details: details.to_string(),
        }
    }

    /// Normalized email and its blind index.
    fn email_key(&self, email: &str) -> Result<(String, String), ApiError> {
        let normalized = normalize_email(email).map_err(|e| ApiError::invalid("email", e))?;
        let index = self.email_index.compute(&normalized);
        Ok((normalized, index))
    }

    fn email_aad(user_id: &str) -> Vec<u8> {
        format!("users/{user_id}/email").into_bytes()
    }

    fn display_name_aad(user_id: &str) -> Vec<u8> {
        format!("users/{user_id}/display_name").into_bytes()
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    /// Seals bytes that are not a personal field but hold secrets all the
    /// same (a stored response with tokens, for idempotent replay), with the
    /// personal-data key ring; `context` is bound as associated data, so a
    /// blob opens only where it was stored.
    pub fn seal_blob(&self, bytes: &[u8], context: &str) -> String {
        use base64::Engine;
        self.fields.seal(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes), context.as_bytes())
    }

    /// Opens a blob from [`seal_blob`](Self::seal_blob) with the same `context`.
    pub fn open_blob(&self, sealed: &str, context: &str) -> Result<Vec<u8>, ApiError> {
        use base64::Engine;
        let text = self.fields.open(sealed, context.as_bytes()).map_err(ApiError::internal)?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(ApiError::internal)
    }

    /// The keyed hash of a client address the audit trail stores, for
    /// anything else that must key on a client without keeping its address.
    pub fn client_hash(&self, ip: IpAddr) -> String {
        hash_ip(&self.ip_key, &ip.to_string())
    }

    /// Appends an audit row for a change made outside this service (a
    /// feature flag, say).
    pub(crate) async fn record(&self, event: &AuditEvent) -> Result<(), ApiError> {
        Ok(self.store.append_audit(&self.audit, event).await?)
    }

    /// The user a bearer token names, if its signature and lifetime check
    /// out; no database lookup (rate limiting keys on it, authentication
    /// still checks the session).
    pub fn token_subject(&self, bearer: &str) -> Option<String> {
        self.tokens.verify(&self.token_settings, bearer, Self::now()).ok().map(|c| c.sub)
    }

    /// Checks the bearer token and that its session is still active.
    pub async fn authenticate(&self, bearer: &str) -> Result<AuthUser, ApiError> {
        let now = Self::now();
        let claims = self
            .tokens
            .verify(&self.token_settings, bearer, now)
            .map_err(|e| ApiError::Unauthorized(format!("access token rejected: {e}")))?;
        let session = self
            .store
            .session_info(&claims.sid, now)
            .await?
            .filter(|s| s.active && s.user_id == claims.sub)
            .ok_or_else(|| ApiError::Unauthorized("session has ended; sign in again".into()))?;
        Ok(AuthUser {
            user_id: session.user_id,
            session_id: session.session_id,
            role: session.role,
            login_at: session.created_at_unix,
        })
    }

    /// A new session with its first token pair.
    async fn open_session(
        &self,
        meta: &RequestMeta,
        user_id: &str,
        role: &str,
        action: &'static str,
    ) -> Result<TokenPair, ApiError> {
        let session = self.new_session(meta, user_id, action);
        self.store.create_session(&self.audit, &session.stored(), &session.audit).await?;
        self.pair(user_id, &session.id, role, session.refresh, session.now)
    }

    /// Everything a new session needs, before it is stored.
    fn new_session(&self, meta: &RequestMeta, user_id: &str, action: &'static str) -> PendingSession {
        let now = Self::now();
        let id = uuid::Uuid::now_v7().simple().to_string();
        let refresh = babyshield_security::new_opaque_token();
        PendingSession {
            user_id: user_id.to_string(),
            audit: self.event(
                meta,
                user_id,
                action,
                user_id,
                "success",
                serde_json::json!({ "session": id }),
            ),
            refresh_hash: babyshield_security::token_digest(&refresh),
            refresh_expires_at: now + self.config.refresh_token_ttl_secs,
            expires_at: now + self.config.session_max_secs,
            id,
            refresh,
            now,
        }
    }

    fn pair(
        &self,
        user_id: &str,
        session_id: &str,
        role: &str,
        refresh: String,
        now: i64,
    ) -> Result<TokenPair, ApiError> {
        let (access_token, _) = self
            .tokens
            .issue(&self.token_settings, user_id, session_id, role, now)
            .map_err(ApiError::internal)?;
        Ok(TokenPair {
            access_token,
            refresh_token: refresh,
            token_type: "bearer",
            expires_in: self.token_settings.ttl_secs,
        })
    }
}
