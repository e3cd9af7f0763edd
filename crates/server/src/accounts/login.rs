//! Registering, signing in, refreshing and signing out.

use babyshield_security::{check_policy, new_opaque_token, token_digest};
use babyshield_storage::{
    StorageError,
    accounts::{NewUser, RefreshOutcome},
};
use serde_json::json;

use super::{Accounts, AuthUser, RequestMeta, TokenPair};
use crate::error::ApiError;

/// The one answer for an unknown email, a wrong password or a deleted
/// account, so responses never tell which it was.
fn bad_credentials() -> ApiError {
    ApiError::Unauthorized("incorrect email or password".into())
}

impl Accounts {
    pub async fn register(
        &self,
        meta: &RequestMeta,
        email: &str,
        password: String,
        confirm: &str,
    ) -> Result<(String, TokenPair), ApiError> {
        let (normalized, index) = self.email_key(email)?;
        if password != confirm {
            return Err(ApiError::invalid("confirm_password", "does not match password"));
        }
        check_policy(&password, Some(&normalized)).map_err(|e| ApiError::invalid("password", e))?;
        let user_id = uuid::Uuid::now_v7().to_string();
        let hash = self.hasher.hash(password).await?;
        let new = NewUser {
            email_sealed: self.fields.seal(&normalized, &Self::email_aad(&user_id)),
            id: user_id.clone(),
            email_index: index,
            password_hash: hash,
            role: "user",
        };
        let registered = self.event(meta, &user_id, "register", &user_id, "success", json!({}));
        let session = self.new_session(meta, &user_id, "login");
        let stored = self
            .store
            .create_user_with_session(&self.audit, &new, &registered, &session.stored(), &session.audit)
            .await;
        match stored {
            Ok(()) => {}
            Err(StorageError::Conflict(_)) => {
                return Err(ApiError::Conflict("an account with this email already exists".into()));
            }
            Err(e) => return Err(e.into()),
        }
        let pair = self.pair(&user_id, &session.id, "user", session.refresh, session.now)?;
        Ok((user_id, pair))
    }

    /// Password sign-in (both `/auth/token` and `/auth/login`).
    pub async fn login(
        &self,
        meta: &RequestMeta,
        email: &str,
        password: String,
    ) -> Result<(String, TokenPair), ApiError> {
        let Ok((_, index)) = self.email_key(email) else {
            // Not an email at all: same answer as a wrong password, after
            // the same hashing work.
            self.hasher.verify(password, None).await?;
            return Err(bad_credentials());
        };
        let keys = self.throttle_keys(&index, meta);
        self.throttle_check(&keys).await?;
        let user = self.store.user_by_email_index(&index).await?.filter(|u| u.is_active());
        let verified =
            self.hasher.verify(password.clone(), user.as_ref().map(|u| u.password_hash.clone())).await?;
        let Some(user) = user.filter(|_| verified.matches) else {
            self.throttle_failure(&keys).await?;
            let target = "unknown";
            let audit = self.event(meta, "anonymous", "login", target, "failure", json!({}));
            self.store.append_audit(&self.audit, &audit).await?;
            return Err(bad_credentials());
        };
        self.throttle_success(&keys).await?;
        if verified.rehash {
            let hash = self.hasher.hash(password).await?;
            self.store.rehash_password(&user.id, &hash).await?;
        }
        let pair = self.open_session(meta, &user.id, &user.role, "login").await?;
        Ok((user.id, pair))
    }

    /// Rotates the refresh token. A spent token presented again revokes the
    /// whole session and is audited as reuse.
    pub async fn refresh(&self, meta: &RequestMeta, refresh_token: &str) -> Result<TokenPair, ApiError> {
        let now = Self::now();
        let new_refresh = new_opaque_token();
        let outcome = self
            .store
            .rotate_refresh_token(
                &self.audit,
                &token_digest(refresh_token),
                &token_digest(&new_refresh),
                now,
                now + self.config.refresh_token_ttl_secs,
                |s| {
                    self.event(
                        meta,
                        &s.user_id,
                        "token_refresh",
                        &s.user_id,
                        "success",
                        json!({ "session": s.session_id }),
                    )
                },
                |session, user| {
                    self.event(
                        meta,
                        user,
                        "refresh_token_reuse",
                        user,
                        "revoked",
                        json!({ "session": session }),
                    )
                },
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated(session) => {
                self.pair(&session.user_id, &session.session_id, &session.role, new_refresh, now)
            }
            RefreshOutcome::Reused { .. } => {
                metrics::counter!("refresh_token_reuse_total").increment(1);
                Err(ApiError::Unauthorized("refresh token is no longer valid; sign in again".into()))
            }
            RefreshOutcome::Invalid => {
                Err(ApiError::Unauthorized("refresh token is no longer valid; sign in again".into()))
            }
        }
    }

    pub async fn logout(&self, meta: &RequestMeta, user: &AuthUser) -> Result<(), ApiError> {
        let audit = self.event(
            meta,
            &user.user_id,
            "logout",
            &user.user_id,
            "success",
            json!({ "session": user.session_id }),
        );
        self.store.revoke_session(&self.audit, &user.session_id, "logout", &audit).await?;
        Ok(())
    }
}
