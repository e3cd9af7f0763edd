//! Idempotency keys: claim a key before running a request, store the
//! response it produced, replay it to retries. The primary key on
//! `(scope, key)` decides races: of two requests claiming the same key at
//! once, exactly one insert succeeds. Times are unix seconds.

use crate::{StorageError, Store};

/// A key already claimed by an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub request_hash: String,
    /// `None` while the first request is still running.
    pub status: Option<i32>,
    /// JSON list of `[name, value]` pairs (the replayable headers).
    pub headers: Option<String>,
    /// The response body as the caller stored it (sealed by the service).
    pub body: Option<String>,
    pub created_at: i64,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: run the request, then `complete` or `release` it.
    Claimed,
    /// Someone claimed it first (and it has not expired).
    Existing(StoredKey),
}

/// When and for how long a claim holds.
#[derive(Debug, Clone, Copy)]
pub struct ClaimTimes {
    pub now: i64,
    /// The stored response is replayed until then.
    pub expires_at: i64,
    /// A placeholder created before this with the same request is taken
    /// over: its request cannot still be running (the instance died).
    pub abandoned_before: i64,
}

type KeyTuple = (String, Option<i32>, Option<String>, Option<String>, i64);

impl Store {
    /// Claims `(scope, key)` for a request with `request_hash`, or returns
    /// what an earlier request left there. Expired rows count as absent.
    pub async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        times: ClaimTimes,
    ) -> Result<Claim, StorageError> {
        self.timed(async {
            // A row can vanish between the insert and the read (its request
            // failed with a 5xx and released it): then try again.
            for _ in 0..3 {
                if let Some(claim) = self.try_claim(scope, key, request_hash, times).await? {
                    return Ok(claim);
                }
            }
            Err(StorageError::Unavailable("idempotency key is contended; retry".into()))
        })
        .await
    }

    async fn try_claim(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        times: ClaimTimes,
    ) -> Result<Option<Claim>, StorageError> {
        let inserted = crate::on_pool!(self, p => {
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at <= $3")
                .bind(scope)
                .bind(key)
                .bind(times.now)
                .execute(p)
                .await?;
            sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(times.now)
            .bind(times.expires_at)
            .execute(p)
            .await?
            .rows_affected()
        });
        if inserted == 1 {
            return Ok(Some(Claim::Claimed));
        }
        let taken_over = crate::on_pool!(self, p => {
            sqlx::query(
                "UPDATE idempotency_keys SET created_at = $4, expires_at = $5 \
                 WHERE scope = $1 AND key = $2 AND request_hash = $3 AND status IS NULL AND created_at < $6",
            )
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(times.now)
            .bind(times.expires_at)
            .bind(times.abandoned_before)
            .execute(p)
            .await?
            .rows_affected()
        });
        if taken_over == 1 {
            return Ok(Some(Claim::Claimed));
        }
        let row: Option<KeyTuple> = crate::on_pool!(self, p => {
            sqlx::query_as(
                "SELECT request_hash, status, headers, body, created_at FROM idempotency_keys \
                 WHERE scope = $1 AND key = $2",
            )
            .bind(scope)
            .bind(key)
            .fetch_optional(p)
            .await?
        });
        Ok(row.map(|(request_hash, status, headers, body, created_at)| {
            Claim::Existing(StoredKey { request_hash, status, headers, body, created_at })
        }))
    }

    /// Stores the response of a claimed key for replay.
    pub async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        status: i32,
        headers: &str,
        body: &str,
    ) -> Result<(), StorageError> {
        self.timed(async {
            crate::on_pool!(self, p => {
                sqlx::query(
                    "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5 \
                     WHERE scope = $1 AND key = $2 AND status IS NULL",
                )
                .bind(scope)
                .bind(key)
                .bind(status)
                .bind(headers)
                .bind(body)
                .execute(p)
                .await?
                .rows_affected()
            });
            Ok(())
        })
        .await
    }

    /// Gives a claimed key back (the request failed on our side), so the
    /// client's retry runs the request again.
    pub async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StorageError> {
        self.timed(async {
            crate::on_pool!(self, p => {
                sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL")
                    .bind(scope)
                    .bind(key)
                    .execute(p)
                    .await?
                    .rows_affected()
            });
            Ok(())
        })
        .await
    }

    /// Deletes keys that expired before `now`; returns how many.
    pub async fn purge_idempotency_keys(&self, now: i64) -> Result<u64, StorageError> {
        Ok(crate::on_pool!(self, p => {
            sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1").bind(now).execute(p).await?
                .rows_affected()
        }))
    }
}
