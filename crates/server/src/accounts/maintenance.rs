//! Operator verbs behind `babyshield user create-admin`, `keys rotate`,
//! `audit verify` and `outbox`, and the purge of deleted accounts.

use std::{sync::Arc, time::Duration};

use babyshield_security::{ChainBreak, check_policy};
use babyshield_storage::accounts::NewUser;
use serde_json::json;

use super::{Accounts, RequestMeta};
use crate::{error::ApiError, lifecycle::Lifecycle};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    /// Accounts re-sealed.
    pub resealed: u64,
    /// Development outbox messages re-sealed.
    pub resealed_mail: u64,
    /// Family values re-sealed (members, watched products, scans, webhooks).
    pub resealed_family: u64,
    pub batches: u64,
}

/// Associated data of sealed outbox fields.
pub(super) const OUTBOX_AAD: &[u8] = b"mail_outbox";

/// Rows re-sealed per batch: small transactions, so the service keeps
/// serving while a rotation runs.
const ROTATION_BATCH: i64 = 200;

fn cli() -> RequestMeta {
    RequestMeta { request_id: "cli".into(), ip: None }
}

impl Accounts {
    /// Creates an admin account, or promotes the existing account.
    pub async fn create_admin(&self, email: &str, password: String) -> Result<String, ApiError> {
        let (normalized, index) = self.email_key(email)?;
        if let Some(user) = self.store.user_by_email_index(&index).await? {
            let audit =
                self.event(&cli(), "cli", "role_change", &user.id, "success", json!({ "role": "admin" }));
            self.store.set_role(&self.audit, &user.id, "admin", &audit).await?;
            return Ok(user.id);
        }
        check_policy(&password, Some(&normalized)).map_err(|e| ApiError::invalid("password", e))?;
        let user_id = uuid::Uuid::now_v7().to_string();
        let new = NewUser {
            email_sealed: self.fields.seal(&normalized, &Self::email_aad(&user_id)),
            id: user_id.clone(),
            email_index: index,
            password_hash: self.hasher.hash(password).await?,
            role: "admin",
        };
        let audit = self.event(&cli(), "cli", "register", &user_id, "success", json!({ "role": "admin" }));
        self.store.create_user(&self.audit, &new, &audit).await?;
        Ok(user_id)
    }

    /// Re-seals every personal field still sealed with an older key, in
    /// batches, until none is left. Safe to run while the service runs.
    pub async fn rotate_keys(&self, mut progress: impl FnMut(u64)) -> Result<RotationReport, ApiError> {
        let current = self.fields.current_kid().to_string();
        let mut report = RotationReport::default();
        loop {
            let rows = self.store.users_sealed_with_other_key(&current, ROTATION_BATCH).await?;
            if rows.is_empty() {
                break;
            }
            report.batches += 1;
            for row in rows {
                let email_aad = Self::email_aad(&row.id);
                let email = self.fields.open(&row.email_sealed, &email_aad).map_err(ApiError::internal)?;
                let name_aad = Self::display_name_aad(&row.id);
                let name = row
                    .display_name_sealed
                    .as_deref()
                    .map(|s| self.fields.open(s, &name_aad))
                    .transpose()
                    .map_err(ApiError::internal)?;
                let email_sealed = self.fields.seal(&email, &email_aad);
                let name_sealed = name.as_deref().map(|n| self.fields.seal(n, &name_aad));
                if self.store.reseal_user(&row, &email_sealed, name_sealed.as_deref()).await? {
                    report.resealed += 1;
                }
            }
            progress(report.resealed);
        }
        // Development mail is sealed with the same keys.
        loop {
            let messages = self.store.outbox_sealed_with_other_key(&current, ROTATION_BATCH).await?;
            if messages.is_empty() {
                break;
            }
            report.batches += 1;
            for message in messages {
                let open = |v: &str| self.fields.open(v, OUTBOX_AAD).map_err(ApiError::internal);
                let (to, body) = (open(&message.recipient_sealed)?, open(&message.body_sealed)?);
                let (to, body) = (self.fields.seal(&to, OUTBOX_AAD), self.fields.seal(&body, OUTBOX_AAD));
                if self.store.reseal_outbox(&message, &to, &body).await? {
                    report.resealed_mail += 1;
                }
            }
        }
        // Children's profiles, watched products, scan history, webhooks.
        report.resealed_family = crate::family::reseal_family_data(&self.store, &self.fields).await?;
        let audit = self.event(
            &cli(),
            "cli",
            "key_rotation",
            "users",
            "success",
            json!({
                "key": current,
                "resealed": report.resealed,
                "resealed_mail": report.resealed_mail,
                "resealed_family": report.resealed_family,
            }),
        );
        self.store.append_audit(&self.audit, &audit).await?;
        Ok(report)
    }

    /// Recomputes the whole chain. `Ok(rows)` when intact.
    pub async fn verify_audit(&self) -> Result<Result<u64, ChainBreak>, ApiError> {
        let rows = self.store.audit_all().await?;
        let records: Vec<_> = rows.iter().map(|r| r.record()).collect();
        Ok(self.audit.verify(
            rows.iter().zip(&records).map(|(row, rec)| (rec, row.prev_mac.as_str(), row.mac.as_str())),
        ))
    }

    /// Deletes accounts soft-deleted longer ago than the retention period.
    pub async fn purge_deleted(&self) -> Result<usize, ApiError> {
        let cutoff =
            time::OffsetDateTime::now_utc() - time::Duration::days(self.config.deleted_retention_days);
        let cutoff =
            cutoff.format(&time::format_description::well_known::Rfc3339).map_err(ApiError::internal)?;
        let meta = RequestMeta { request_id: "purge".into(), ip: None };
        let purged = self
            .store
            .purge_deleted_users(&self.audit, &cutoff, |id| {
                self.event(&meta, "system", "account_purge", id, "success", json!({}))
            })
            .await?;
        Ok(purged.len())
    }

    /// Runs the purge every `purge_interval_secs` until shutdown.
    pub fn spawn_purger(self: &Arc<Self>, lifecycle: &Lifecycle) {
        let accounts = Arc::clone(self);
        let shutdown = lifecycle.shutdown_token();
        let every = Duration::from_secs(self.config.purge_interval_secs);
        lifecycle.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => match accounts.purge_deleted().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(accounts = n, "purged deleted accounts past retention"),
                        Err(e) => tracing::warn!(error = ?e, "account purge failed"),
                    },
                }
            }
        });
    }

    /// The development outbox, opened (for `babyshield outbox`).
    pub async fn outbox(&self, limit: i64) -> Result<Vec<(String, String, String, String)>, ApiError> {
        let messages = self.store.outbox_latest(limit).await?;
        messages
            .into_iter()
            .map(|m| -> Result<_, ApiError> {
                // A message sealed with a key no longer configured is shown
                // as such rather than hiding every other message.
                let open = |v: &str| {
                    self.fields.open(v, OUTBOX_AAD).unwrap_or_else(|e| format!("[cannot open: {e}]"))
                };
                Ok((m.created_at, open(&m.recipient_sealed), m.subject, open(&m.body_sealed)))
            })
            .collect()
    }
}
