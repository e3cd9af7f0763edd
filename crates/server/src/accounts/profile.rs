//! The signed-in user's own account, and what admins can do to accounts.

use babyshield_storage::accounts::{AuditFilter, AuditRow};
use serde::Serialize;
use serde_json::json;

use super::{Accounts, AuthUser, RequestMeta};
use crate::error::ApiError;

/// `GET /api/v1/auth/me`.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub role: String,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

/// Longest display name accepted.
pub const MAX_DISPLAY_NAME: usize = 100;

impl Accounts {
    pub async fn profile(&self, user: &AuthUser) -> Result<Profile, ApiError> {
        let row = self
            .store
            .user_by_id(&user.user_id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("account not found".into()))?;
        let email =
            self.fields.open(&row.email_sealed, &Self::email_aad(&row.id)).map_err(ApiError::internal)?;
        let display_name = row
            .display_name_sealed
            .as_deref()
            .map(|s| self.fields.open(s, &Self::display_name_aad(&row.id)))
            .transpose()
            .map_err(ApiError::internal)?;
        Ok(Profile {
            id: row.id,
            email,
            display_name,
            role: row.role,
            created_at: row.created_at,
            last_login_at: row.last_login_at,
        })
    }

    pub async fn update_profile(
        &self,
        user: &AuthUser,
        display_name: Option<String>,
    ) -> Result<Profile, ApiError> {
        let display_name = display_name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if let Some(name) = &display_name {
            if name.chars().count() > MAX_DISPLAY_NAME {
                return Err(ApiError::invalid(
                    "display_name",
                    format!("must be at most {MAX_DISPLAY_NAME} characters"),
                ));
            }
            if name.chars().any(char::is_control) {
                return Err(ApiError::invalid("display_name", "must not contain control characters"));
            }
        }
        let sealed =
            display_name.as_deref().map(|n| self.fields.seal(n, &Self::display_name_aad(&user.user_id)));
        self.store.update_display_name(&user.user_id, sealed.as_deref()).await?;
        self.profile(user).await
    }

    /// Soft delete, needing a login of at most `recent_login_secs`: the
    /// account stops working at once and is purged after the retention.
    pub async fn delete_account(&self, meta: &RequestMeta, user: &AuthUser) -> Result<(), ApiError> {
        if Self::now() - user.login_at > self.config.recent_login_secs {
            return Err(ApiError::Forbidden("sign in again to confirm deleting your account".into()));
        }
        let retention = self.config.deleted_retention_days;
        let audit = self.event(
            meta,
            &user.user_id,
            "account_delete",
            &user.user_id,
            "success",
            json!({ "purge_after_days": retention }),
        );
        self.store.soft_delete_user(&self.audit, &user.user_id, &audit).await?;
        Ok(())
    }

    pub async fn restore_account(
        &self,
        meta: &RequestMeta,
        admin: &AuthUser,
        user_id: &str,
    ) -> Result<(), ApiError> {
        let audit = self.event(meta, &admin.user_id, "account_restore", user_id, "success", json!({}));
        if self.store.restore_user(&self.audit, user_id, &audit).await? {
            Ok(())
        } else {
            Err(ApiError::NotFound("no deleted account with this id (it may have been purged)".into()))
        }
    }

    pub async fn set_role(
        &self,
        meta: &RequestMeta,
        admin: &AuthUser,
        user_id: &str,
        role: &str,
    ) -> Result<(), ApiError> {
        if !matches!(role, "user" | "admin") {
            return Err(ApiError::invalid("role", "must be user or admin"));
        }
        if self.store.user_by_id(user_id).await?.is_none() {
            return Err(ApiError::NotFound("no account with this id".into()));
        }
        let audit =
            self.event(meta, &admin.user_id, "role_change", user_id, "success", json!({ "role": role }));
        self.store.set_role(&self.audit, user_id, role, &audit).await?;
        Ok(())
    }

    /// The audit trail, newest first. Reading it is itself audited.
    pub async fn audit_page(
        &self,
        meta: &RequestMeta,
        admin: &AuthUser,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<Vec<AuditRow>, ApiError> {
        let rows = self.store.audit_page(filter, limit).await?;
        let audit = self.event(meta, &admin.user_id, "admin_audit_read", "audit_log", "success", json!({}));
        self.store.append_audit(&self.audit, &audit).await?;
        Ok(rows)
    }
}
