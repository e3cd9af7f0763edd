//! Users: created, found by blind index or id, updated, soft-deleted,
//! restored and purged. Sealing and hashing happen in the service layer;
//! this module stores what it is given.

use babyshield_security::AuditChain;

use super::{
    AuditEvent, NewSession,
    audit::append_in_tx,
    now_rfc3339, revoke_user_sessions,
    sessions::{insert_refresh_token, insert_session},
};
use crate::{StorageError, Store};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email_sealed: String,
    pub email_index: String,
    pub password_hash: String,
    pub role: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub email_sealed: String,
    pub email_index: String,
    pub display_name_sealed: Option<String>,
    pub password_hash: String,
    pub role: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub password_changed_at: String,
    pub last_login_at: Option<String>,
    pub deleted_at: Option<String>,
}

impl UserRow {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

type UserTuple = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

const COLUMNS: &str = "id, email_sealed, email_index, display_name_sealed, password_hash, role, status, \
                       created_at, updated_at, password_changed_at, last_login_at, deleted_at";

fn user(t: UserTuple) -> UserRow {
    let (
        id,
        email_sealed,
        email_index,
        display_name_sealed,
        password_hash,
        role,
        status,
        created_at,
        updated_at,
        password_changed_at,
        last_login_at,
        deleted_at,
    ) = t;
    UserRow {
        id,
        email_sealed,
        email_index,
        display_name_sealed,
        password_hash,
        role,
        status,
        created_at,
        updated_at,
        password_changed_at,
        last_login_at,
        deleted_at,
    }
}

impl Store {
    /// Creates the user; `Conflict` when the email (blind index) is taken.
    pub async fn create_user(
        &self,
        chain: &AuditChain,
        new: &NewUser,
        audit: &AuditEvent,
    ) -> Result<(), StorageError> {
        let now = now_rfc3339();
        crate::in_write_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO users (id, email_sealed, email_index, password_hash, role, status, created_at, \
                 updated_at, password_changed_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $6, $6)",
            )
            .bind(&new.id)
            .bind(&new.email_sealed)
            .bind(&new.email_index)
            .bind(&new.password_hash)
            .bind(new.role)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            append_in_tx!(tx, chain, audit);
        });
        Ok(())
    }

    /// Creates the user and its first session (registration signs in) in
    /// ONE transaction, with both audit rows: a failure leaves no account
    /// behind. `Conflict` when the email (blind index) is taken.
    pub async fn create_user_with_session(
        &self,
        chain: &AuditChain,
        new: &NewUser,
        registered: &AuditEvent,
        session: &NewSession<'_>,
        signed_in: &AuditEvent,
    ) -> Result<(), StorageError> {
        let now = now_rfc3339();
        crate::in_write_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO users (id, email_sealed, email_index, password_hash, role, status, created_at, \
                 updated_at, password_changed_at, last_login_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $6, $6, $6)",
            )
            .bind(&new.id)
            .bind(&new.email_sealed)
            .bind(&new.email_index)
            .bind(&new.password_hash)
            .bind(new.role)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            append_in_tx!(tx, chain, registered);
            insert_session!(tx, session, &now);
            append_in_tx!(tx, chain, signed_in);
        });
        Ok(())
    }

    pub async fn user_by_email_index(&self, index: &str) -> Result<Option<UserRow>, StorageError> {
        let row: Option<UserTuple> = self
            .read(|| async {
                let sql = format!("SELECT {COLUMNS} FROM users WHERE email_index = $1");
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(index).fetch_optional(p).await?
                }))
            })
            .await?;
        Ok(row.map(user))
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StorageError> {
        let row: Option<UserTuple> = self
            .read(|| async {
                let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(id).fetch_optional(p).await?
                }))
            })
            .await?;
        Ok(row.map(user))
    }

    /// Replaces the password hash without touching sessions (transparent
    /// rehash on login when the hashing parameters changed).
    pub async fn rehash_password(&self, user_id: &str, hash: &str) -> Result<(), StorageError> {
        crate::on_pool!(self, p => {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user_id).execute(p).await?
                .rows_affected()
        });
        Ok(())
    }

    /// New password hash; every session of the user is revoked in the same
    /// transaction (old access and refresh tokens stop working at once).
    /// Stores the new hash, revokes every session, and opens the caller's
    /// new one, with both audit rows, in ONE transaction: a failure leaves
    /// the old password and sessions in place, never a signed-out user with
    /// a changed password.
    pub async fn change_password(
        &self,
        chain: &AuditChain,
        user_id: &str,
        hash: &str,
        audit: &AuditEvent,
        session: &NewSession<'_>,
        signed_in: &AuditEvent,
    ) -> Result<(), StorageError> {
        let now = now_rfc3339();
        crate::in_write_tx!(self, tx => {
            sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(&now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            revoke_user_sessions!(tx, user_id, "password_changed", &now);
            append_in_tx!(tx, chain, audit);
            insert_session!(tx, session, &now);
            append_in_tx!(tx, chain, signed_in);
        });
        Ok(())
    }

    pub async fn update_display_name(
        &self,
        user_id: &str,
        display_name_sealed: Option<&str>,
    ) -> Result<(), StorageError> {
        crate::on_pool!(self, p => {
            sqlx::query("UPDATE users SET display_name_sealed = $1, updated_at = $2 WHERE id = $3")
                .bind(display_name_sealed)
                .bind(now_rfc3339())
                .bind(user_id)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Soft delete: the account stops working at once (sessions revoked) and
    /// is purged after the retention period unless an admin restores it.
    pub async fn soft_delete_user(
        &self,
        chain: &AuditChain,
        user_id: &str,
        audit: &AuditEvent,
    ) -> Result<(), StorageError> {
        let now = now_rfc3339();
        crate::in_write_tx!(self, tx => {
            sqlx::query("UPDATE users SET status = 'deleted', deleted_at = $1, updated_at = $1 WHERE id = $2")
                .bind(&now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            revoke_user_sessions!(tx, user_id, "account_deleted", &now);
            // Children's profiles, watched products, alerts and history go
            // at once, not after the retention: restoring an account brings
            // back the login, never the family data.
            crate::family::delete_family_data!(tx, user_id);
            append_in_tx!(tx, chain, audit);
        });
        Ok(())
    }

    /// Undoes a soft delete; false when there was nothing to restore.
    pub async fn restore_user(
        &self,
        chain: &AuditChain,
        user_id: &str,
        audit: &AuditEvent,
    ) -> Result<bool, StorageError> {
        let restored = crate::in_write_tx!(self, tx => {
            let done = sqlx::query(
                "UPDATE users SET status = 'active', deleted_at = NULL, updated_at = $1 WHERE id = $2 AND status = 'deleted'",
            )
            .bind(now_rfc3339())
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done > 0 {
                append_in_tx!(tx, chain, audit);
            }
            done > 0
        });
        Ok(restored)
    }

    /// Removes accounts soft-deleted before `cutoff` (RFC 3339), with all
    /// their rows (cascade). Returns the purged ids.
    pub async fn purge_deleted_users(
        &self,
        chain: &AuditChain,
        cutoff: &str,
        audit: impl Fn(&str) -> AuditEvent,
    ) -> Result<Vec<String>, StorageError> {
        let purged = crate::in_write_tx!(self, tx => {
            let ids: Vec<String> =
                sqlx::query_scalar("SELECT id FROM users WHERE status = 'deleted' AND deleted_at < $1 LIMIT 500")
                    .bind(cutoff)
                    .fetch_all(&mut *tx)
                    .await?;
            for id in &ids {
                sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
                let event = audit(id);
                append_in_tx!(tx, chain, &event);
            }
            ids
        });
        Ok(purged)
    }

    pub async fn set_role(
        &self,
        chain: &AuditChain,
        user_id: &str,
        role: &str,
        audit: &AuditEvent,
    ) -> Result<(), StorageError> {
        crate::in_write_tx!(self, tx => {
            sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
                .bind(role)
                .bind(now_rfc3339())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            append_in_tx!(tx, chain, audit);
        });
        Ok(())
    }

    /// Users whose sealed fields use another key than `current_kid`
    /// (`babyshield keys rotate` re-seals them in batches).
    pub async fn users_sealed_with_other_key(
        &self,
        current_kid: &str,
        limit: i64,
    ) -> Result<Vec<UserRow>, StorageError> {
        let prefix = format!("v1:{current_kid}:%");
        let sql = format!(
            "SELECT {COLUMNS} FROM users WHERE email_sealed NOT LIKE $1 \
             OR (display_name_sealed IS NOT NULL AND display_name_sealed NOT LIKE $1) ORDER BY id LIMIT $2"
        );
        let rows: Vec<UserTuple> = crate::on_pool!(self, p => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&prefix).bind(limit).fetch_all(p).await?
        });
        Ok(rows.into_iter().map(user).collect())
    }

    /// Stores re-sealed fields, only if the row still holds what was read
    /// (a concurrent change wins; the next batch picks the row up again).
    pub async fn reseal_user(
        &self,
        old: &UserRow,
        email_sealed: &str,
        display_name_sealed: Option<&str>,
    ) -> Result<bool, StorageError> {
        let changed = crate::on_pool!(self, p => {
            sqlx::query(
                "UPDATE users SET email_sealed = $1, display_name_sealed = $2 \
                 WHERE id = $3 AND email_sealed = $4 AND display_name_sealed IS NOT DISTINCT FROM $5",
            )
            .bind(email_sealed)
            .bind(display_name_sealed)
            .bind(&old.id)
            .bind(&old.email_sealed)
            .bind(&old.display_name_sealed)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    pub async fn count_users(&self) -> Result<i64, StorageError> {
        Ok(crate::on_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(p).await?))
    }
}
