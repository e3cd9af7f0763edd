//! Changing a password, and the reset flow for a forgotten one.

use babyshield_security::{check_policy, new_opaque_token, token_digest};
use serde_json::json;

use super::{Accounts, AuthUser, RequestMeta, TokenPair};
use crate::{error::ApiError, mail::Mail};

impl Accounts {
    /// Needs the current password. Every session (this one included) is
    /// revoked; the caller gets a fresh pair for this device.
    pub async fn change_password(
        &self,
        meta: &RequestMeta,
        user: &AuthUser,
        current: String,
        new: String,
        confirm: &str,
    ) -> Result<TokenPair, ApiError> {
        if new != confirm {
            return Err(ApiError::invalid("confirm_password", "does not match new_password"));
        }
        let row = self
            .store
            .user_by_id(&user.user_id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("account not found".into()))?;
        let email =
            self.fields.open(&row.email_sealed, &Self::email_aad(&row.id)).map_err(ApiError::internal)?;
        check_policy(&new, Some(&email)).map_err(|e| ApiError::invalid("new_password", e))?;
        if !self.hasher.verify(current, Some(row.password_hash.clone())).await?.matches {
            let audit =
                self.event(meta, &user.user_id, "password_change", &user.user_id, "failure", json!({}));
            self.store.append_audit(&self.audit, &audit).await?;
            return Err(ApiError::invalid("current_password", "is not correct"));
        }
        let hash = self.hasher.hash(new).await?;
        let audit = self.event(meta, &user.user_id, "password_change", &user.user_id, "success", json!({}));
        let session = self.new_session(meta, &user.user_id, "login");
        self.store
            .change_password(&self.audit, &user.user_id, &hash, &audit, &session.stored(), &session.audit)
            .await?;
        self.pair(&user.user_id, &session.id, &user.role, session.refresh, session.now)
    }

    /// Validates the address; the lookup, token and mail happen in
    /// [`Accounts::send_reset`], off the request, so the answer and its
    /// timing are the same whether or not the account exists.
    pub fn validate_reset_request(&self, email: &str) -> Result<String, ApiError> {
        self.email_key(email).map(|(normalized, _)| normalized)
    }

    pub async fn send_reset(&self, meta: &RequestMeta, email: &str) -> Result<(), ApiError> {
        let (normalized, index) = self.email_key(email)?;
        let Some(user) = self.store.user_by_email_index(&index).await?.filter(|u| u.is_active()) else {
            let audit =
                self.event(meta, "anonymous", "password_reset_request", "unknown", "ignored", json!({}));
            self.store.append_audit(&self.audit, &audit).await?;
            return Ok(());
        };
        let token = new_opaque_token();
        let expires = Self::now() + self.config.reset_token_ttl_secs;
        let audit = self.event(meta, &user.id, "password_reset_request", &user.id, "success", json!({}));
        self.store
            .create_password_reset(&self.audit, &token_digest(&token), &user.id, expires, &audit)
            .await?;
        let minutes = self.config.reset_token_ttl_secs / 60;
        let mail = Mail {
            to: normalized,
            subject: "Reset your BabyShield password".into(),
            body: format!(
                "Someone asked to reset the password of your BabyShield account.\n\n\
                 Use this code in the app within {minutes} minutes (it works once):\n\n    {token}\n\n\
                 Or open {}/reset-password?token={token}\n\n\
                 If it wasn't you, ignore this message: your password is unchanged.\n",
                self.config.public_url.trim_end_matches('/')
            ),
        };
        self.mailer.send(mail).await.map_err(|e| ApiError::Unavailable {
            public: "mail is unavailable, retry shortly".into(),
            cause: e.to_string(),
        })
    }

    /// Spends the token and sets the password; every session is revoked.
    pub async fn confirm_reset(
        &self,
        meta: &RequestMeta,
        token: &str,
        new: String,
        confirm: &str,
    ) -> Result<(), ApiError> {
        if new != confirm {
            return Err(ApiError::invalid("confirm_password", "does not match new_password"));
        }
        if token.len() > 128 {
            return Err(ApiError::invalid("token", "reset token is invalid or expired"));
        }
        check_policy(&new, None).map_err(|e| ApiError::invalid("new_password", e))?;
        // Refuse an unknown or spent token before paying for a hash.
        if !self.store.reset_token_usable(&token_digest(token), Self::now()).await? {
            let audit = self.event(meta, "anonymous", "password_reset", "unknown", "failure", json!({}));
            self.store.append_audit(&self.audit, &audit).await?;
            return Err(ApiError::invalid("token", "reset token is invalid or expired"));
        }
        let hash = self.hasher.hash(new).await?;
        let reset = self
            .store
            .reset_password(&self.audit, &token_digest(token), &hash, Self::now(), |user| {
                self.event(meta, user, "password_reset", user, "success", json!({}))
            })
            .await?;
        match reset {
            Some(_) => Ok(()),
            None => {
                let audit = self.event(meta, "anonymous", "password_reset", "unknown", "failure", json!({}));
                self.store.append_audit(&self.audit, &audit).await?;
                Err(ApiError::invalid("token", "reset token is invalid or expired"))
            }
        }
    }
}
