//! Failed-login counters. The policy (how long each failure count blocks)
//! is the caller's; this module keeps the counts.

use crate::{StorageError, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    pub failures: i64,
    /// Unix seconds until which attempts on this key are refused.
    pub blocked_until: i64,
}

impl Store {
    /// The state of each key (missing keys are clean).
    pub async fn throttle_states(&self, keys: &[&str]) -> Result<Vec<ThrottleState>, StorageError> {
        let mut states = Vec::with_capacity(keys.len());
        for key in keys {
            let row: Option<(i64, i64)> = crate::on_pool!(self, p => {
                sqlx::query_as("SELECT failures, blocked_until FROM login_throttle WHERE key = $1")
                    .bind(*key)
                    .fetch_optional(p)
                    .await?
            });
            states.push(
                row.map(|(failures, blocked_until)| ThrottleState { failures, blocked_until })
                    .unwrap_or_default(),
            );
        }
        Ok(states)
    }

    /// Counts a failure on every key. Counts older than `window_secs` start
    /// over; `block_for(key_index, failures)` says how long to block.
    pub async fn throttle_failure(
        &self,
        keys: &[&str],
        now_unix: i64,
        window_secs: i64,
        block_for: impl Fn(usize, i64) -> i64,
    ) -> Result<(), StorageError> {
        crate::in_write_tx!(self, tx => {
            for (i, key) in keys.iter().enumerate() {
                let row: Option<(i64, i64)> =
                    sqlx::query_as("SELECT failures, last_failure_at FROM login_throttle WHERE key = $1")
                        .bind(*key)
                        .fetch_optional(&mut *tx)
                        .await?;
                let failures = match row {
                    Some((failures, last)) if now_unix - last < window_secs => failures + 1,
                    _ => 1,
                };
                let blocked_until = now_unix + block_for(i, failures);
                sqlx::query(
                    "INSERT INTO login_throttle (key, failures, last_failure_at, blocked_until) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, \
                     last_failure_at = excluded.last_failure_at, blocked_until = excluded.blocked_until",
                )
                .bind(*key)
                .bind(failures)
                .bind(now_unix)
                .bind(blocked_until)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    pub async fn throttle_clear(&self, keys: &[&str]) -> Result<(), StorageError> {
        for key in keys {
            crate::on_pool!(self, p => {
                sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(*key).execute(p).await?
                .rows_affected()
            });
        }
        Ok(())
    }
}
