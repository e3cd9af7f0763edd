//! Sessions and refresh tokens. One session per login; its refresh token is
//! rotated on every use, and a spent token presented again revokes the
//! session (the token family) because it means the token was stolen.

use babyshield_security::AuditChain;

use super::{AuditEvent, audit::append_in_tx, now_rfc3339, revoke_user_sessions};
use crate::{StorageError, Store};

/// What an access token's `sid` points at, checked on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub session_id: String,
    pub user_id: String,
    pub role: String,
    pub active: bool,
    /// When the session was opened (the login), unix seconds.
    pub created_at_unix: i64,
}

fn unix(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was valid; it is now spent and `new_hash` replaces it.
    Rotated(SessionInfo),
    /// The token was already spent: the session has been revoked.
    Reused { session_id: String, user_id: String },
    /// Unknown, expired, or its session is no longer active.
    Invalid,
}

/// A session to open: one login, with its first refresh token (stored only
/// as a digest).
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub refresh_hash: &'a str,
    pub refresh_expires_at: i64,
    pub expires_at: i64,
}

/// Stores a refresh token (its digest) inside the transaction `$tx`.
macro_rules! insert_refresh_token {
    ($tx:ident, $hash:expr, $session_id:expr, $now:expr, $expires_at:expr) => {
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind($hash)
            .bind($session_id)
            .bind($now)
            .bind($expires_at)
            .execute(&mut *$tx)
            .await?;
    };
}

/// Opens `$session` (a [`NewSession`]) inside the transaction `$tx`: the
/// session row and its first refresh token.
macro_rules! insert_session {
    ($tx:ident, $session:expr, $now:expr) => {{
        let session: &$crate::accounts::NewSession<'_> = $session;
        sqlx::query("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(session.id)
            .bind(session.user_id)
            .bind($now)
            .bind(session.expires_at)
            .execute(&mut *$tx)
            .await?;
        insert_refresh_token!($tx, session.refresh_hash, session.id, $now, session.refresh_expires_at);
    }};
}
pub(crate) use {insert_refresh_token, insert_session};

impl Store {
    pub async fn create_session(
        &self,
        chain: &AuditChain,
        session: &NewSession<'_>,
        audit: &AuditEvent,
    ) -> Result<(), StorageError> {
        let now = now_rfc3339();
        crate::in_write_tx!(self, tx => {
            insert_session!(tx, session, &now);
            sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
                .bind(&now)
                .bind(session.user_id)
                .execute(&mut *tx)
                .await?;
            append_in_tx!(tx, chain, audit);
        });
        Ok(())
    }

    /// The session behind an access token; `active` is false once it was
    /// revoked, expired, or its user was deleted.
    pub async fn session_info(
        &self,
        session_id: &str,
        now_unix: i64,
    ) -> Result<Option<SessionInfo>, StorageError> {
        self.read(|| async {
            let row: Option<(String, String, String, Option<String>, i64, String)> = crate::on_pool!(self, p => {
                sqlx::query_as(
                    "SELECT s.user_id, u.role, u.status, s.revoked_at, s.expires_at, s.created_at FROM sessions s \
                     JOIN users u ON u.id = s.user_id WHERE s.id = $1",
                )
                .bind(session_id)
                .fetch_optional(p)
                .await?
            });
            Ok(row.map(|(user_id, role, status, revoked_at, expires_at, created_at)| SessionInfo {
                session_id: session_id.to_string(),
                user_id,
                role,
                active: status == "active" && revoked_at.is_none() && expires_at > now_unix,
                created_at_unix: unix(&created_at),
            }))
        })
        .await
    }

    /// Spends `old_hash` and stores `new_hash` in the same session, or
    /// detects reuse and revokes the session. Audited either way.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_refresh_token(
        &self,
        chain: &AuditChain,
        old_hash: &str,
        new_hash: &str,
        now_unix: i64,
        new_expires_at: i64,
        rotated: impl Fn(&SessionInfo) -> AuditEvent,
        reused: impl Fn(&str, &str) -> AuditEvent,
    ) -> Result<RefreshOutcome, StorageError> {
        let now = now_rfc3339();
        let outcome = crate::in_write_tx!(self, tx => {
            type Found = (String, i64, Option<String>, String, String, String, Option<String>, i64, String);
            let found: Option<Found> = sqlx::query_as(
                "SELECT t.session_id, t.expires_at, t.used_at, s.user_id, u.role, u.status, s.revoked_at, s.expires_at, \
                 s.created_at \
                 FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id \
                 WHERE t.token_hash = $1",
            )
            .bind(old_hash)
            .fetch_optional(&mut *tx)
            .await?;
            match found {
                None => RefreshOutcome::Invalid,
                Some((session_id, _, Some(_), user_id, _, _, revoked_at, _, _)) => {
                    if revoked_at.is_none() {
                        sqlx::query("UPDATE sessions SET revoked_at = $1, revoke_reason = 'refresh_reuse' WHERE id = $2")
                            .bind(&now)
                            .bind(&session_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let event = reused(&session_id, &user_id);
                    append_in_tx!(tx, chain, &event);
                    RefreshOutcome::Reused { session_id, user_id }
                }
                Some((session_id, expires_at, None, user_id, role, status, revoked_at, session_expires, created_at)) => {
                    if expires_at <= now_unix || revoked_at.is_some() || status != "active" || session_expires <= now_unix {
                        RefreshOutcome::Invalid
                    } else {
                        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2")
                            .bind(&now)
                            .bind(old_hash)
                            .execute(&mut *tx)
                            .await?;
                        insert_refresh_token!(tx, new_hash, &session_id, &now, new_expires_at.min(session_expires));
                        let info = SessionInfo { session_id, user_id, role, active: true, created_at_unix: unix(&created_at) };
                        let event = rotated(&info);
                        append_in_tx!(tx, chain, &event);
                        RefreshOutcome::Rotated(info)
                    }
                }
            }
        });
        Ok(outcome)
    }

    /// Revokes one session (logout). Idempotent.
    pub async fn revoke_session(
        &self,
        chain: &AuditChain,
        session_id: &str,
        reason: &str,
        audit: &AuditEvent,
    ) -> Result<(), StorageError> {
        crate::in_write_tx!(self, tx => {
            sqlx::query("UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
                .bind(now_rfc3339())
                .bind(reason)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
            append_in_tx!(tx, chain, audit);
        });
        Ok(())
    }

    /// Stores a password-reset token (hashed) for the user.
    pub async fn create_password_reset(
        &self,
        chain: &AuditChain,
        token_hash: &str,
        user_id: &str,
        expires_at: i64,
        audit: &AuditEvent,
    ) -> Result<(), StorageError> {
        crate::in_write_tx!(self, tx => {
            sqlx::query("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(token_hash)
                .bind(user_id)
                .bind(now_rfc3339())
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            append_in_tx!(tx, chain, audit);
        });
        Ok(())
    }

    /// Whether a reset token exists, is unspent and unexpired (a cheap check
    /// before the expensive password hash; `reset_password` checks again).
    pub async fn reset_token_usable(&self, token_hash: &str, now_unix: i64) -> Result<bool, StorageError> {
        self.read(|| async {
            let found: Option<i64> = crate::on_pool!(self, p => {
                sqlx::query_scalar(
                    "SELECT expires_at FROM password_resets WHERE token_hash = $1 AND used_at IS NULL",
                )
                .bind(token_hash)
                .fetch_optional(p)
                .await?
            });
            Ok(found.is_some_and(|expires_at| expires_at > now_unix))
        })
        .await
    }

    /// Spends a reset token and sets the new password, revoking every
    /// session, in one transaction. `None` when the token is unknown, used or
    /// expired (nothing changes then).
    pub async fn reset_password(
        &self,
        chain: &AuditChain,
        token_hash: &str,
        new_hash: &str,
        now_unix: i64,
        audit: impl Fn(&str) -> AuditEvent,
    ) -> Result<Option<String>, StorageError> {
        let now = now_rfc3339();
        let user = crate::in_write_tx!(self, tx => {
            let found: Option<(String, i64, Option<String>, String)> = sqlx::query_as(
                "SELECT r.user_id, r.expires_at, r.used_at, u.status FROM password_resets r \
                 JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
            match found {
                Some((user_id, expires_at, None, status)) if expires_at > now_unix && status == "active" => {
                    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE token_hash = $2")
                        .bind(&now)
                        .bind(token_hash)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3")
                        .bind(new_hash)
                        .bind(&now)
                        .bind(&user_id)
                        .execute(&mut *tx)
                        .await?;
                    revoke_user_sessions!(tx, &user_id, "password_reset", &now);
                    let event = audit(&user_id);
                    append_in_tx!(tx, chain, &event);
                    Some(user_id)
                }
                _ => None,
            }
        });
        Ok(user)
    }
}
