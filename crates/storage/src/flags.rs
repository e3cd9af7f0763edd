//! Runtime overrides of feature flags. The flags themselves and their
//! defaults live in the configuration; this table only holds what admins
//! changed, and every instance re-reads it every few seconds.

use crate::{StorageError, Store};

/// One override: exactly one of `enabled` and `percent` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagOverride {
    pub name: String,
    pub enabled: Option<bool>,
    pub percent: Option<i32>,
    pub updated_at: String,
    /// The admin's user id.
    pub updated_by: String,
}

type OverrideTuple = (String, Option<bool>, Option<i32>, String, String);

impl Store {
    /// Every override, by name.
    pub async fn flag_overrides(&self) -> Result<Vec<FlagOverride>, StorageError> {
        let rows: Vec<OverrideTuple> = self
            .timed(async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(
                        "SELECT name, enabled, percent, updated_at, updated_by FROM feature_flags ORDER BY name",
                    )
                    .fetch_all(p)
                    .await?
                }))
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(name, enabled, percent, updated_at, updated_by)| FlagOverride {
                name,
                enabled,
                percent,
                updated_at,
                updated_by,
            })
            .collect())
    }

    /// Creates or replaces the override of `name`; `updated_at` is now.
    pub async fn set_flag_override(
        &self,
        name: &str,
        enabled: Option<bool>,
        percent: Option<i32>,
        updated_by: &str,
    ) -> Result<(), StorageError> {
        let now = crate::recalls::now_rfc3339();
        self.timed(async {
            crate::on_pool!(self, p => {
                sqlx::query(
                    "INSERT INTO feature_flags (name, enabled, percent, updated_at, updated_by) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, \
                     percent = excluded.percent, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                )
                .bind(name)
                .bind(enabled)
                .bind(percent)
                .bind(&now)
                .bind(updated_by)
                .execute(p)
                .await?
                .rows_affected()
            });
            Ok(())
        })
        .await
    }

    /// Removes the override of `name` (back to the config default); false
    /// when there was none.
    pub async fn clear_flag_override(&self, name: &str) -> Result<bool, StorageError> {
        let removed = self
            .timed(async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query("DELETE FROM feature_flags WHERE name = $1").bind(name).execute(p).await?
                        .rows_affected()
                }))
            })
            .await?;
        Ok(removed > 0)
    }
}
