//! The development outbox: mail kept in the database (sealed) when no SMTP
//! server is configured, for the operator to read with `babyshield outbox`.

use crate::{StorageError, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub created_at: String,
    pub recipient_sealed: String,
    pub subject: String,
    pub body_sealed: String,
}

impl Store {
    pub async fn outbox_push(
        &self,
        recipient_sealed: &str,
        subject: &str,
        body_sealed: &str,
    ) -> Result<(), StorageError> {
        crate::on_pool!(self, p => {
            sqlx::query("INSERT INTO mail_outbox (created_at, recipient_sealed, subject, body_sealed) VALUES ($1, $2, $3, $4)")
                .bind(super::now_rfc3339())
                .bind(recipient_sealed)
                .bind(subject)
                .bind(body_sealed)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Newest first.
    pub async fn outbox_latest(&self, limit: i64) -> Result<Vec<OutboxMessage>, StorageError> {
        let rows: Vec<(i64, String, String, String, String)> = crate::on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, created_at, recipient_sealed, subject, body_sealed FROM mail_outbox ORDER BY id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(p)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, created_at, recipient_sealed, subject, body_sealed)| OutboxMessage {
                id,
                created_at,
                recipient_sealed,
                subject,
                body_sealed,
            })
            .collect())
    }
}
