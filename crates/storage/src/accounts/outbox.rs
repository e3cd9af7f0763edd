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

type OutboxRow = (i64, String, String, String, String);

fn message((id, created_at, recipient_sealed, subject, body_sealed): OutboxRow) -> OutboxMessage {
    OutboxMessage { id, created_at, recipient_sealed, subject, body_sealed }
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
        let rows: Vec<OutboxRow> = crate::on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, created_at, recipient_sealed, subject, body_sealed FROM mail_outbox ORDER BY id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(p)
            .await?
        });
        Ok(rows.into_iter().map(message).collect())
    }
}

impl Store {
    /// Outbox messages sealed with another key than `current_kid`.
    pub async fn outbox_sealed_with_other_key(
        &self,
        current_kid: &str,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StorageError> {
        let prefix = format!("v1:{current_kid}:%");
        let rows: Vec<OutboxRow> = crate::on_pool!(self, p => {
            sqlx::query_as(
                "SELECT id, created_at, recipient_sealed, subject, body_sealed FROM mail_outbox \
                 WHERE recipient_sealed NOT LIKE $1 OR body_sealed NOT LIKE $1 ORDER BY id LIMIT $2",
            )
            .bind(&prefix)
            .bind(limit)
            .fetch_all(p)
            .await?
        });
        Ok(rows.into_iter().map(message).collect())
    }

    /// Stores re-sealed fields if the row still holds what was read.
    pub async fn reseal_outbox(
        &self,
        old: &OutboxMessage,
        recipient_sealed: &str,
        body_sealed: &str,
    ) -> Result<bool, StorageError> {
        let changed = crate::on_pool!(self, p => {
            sqlx::query(
                "UPDATE mail_outbox SET recipient_sealed = $1, body_sealed = $2 \
                 WHERE id = $3 AND recipient_sealed = $4 AND body_sealed = $5",
            )
            .bind(recipient_sealed)
            .bind(body_sealed)
            .bind(old.id)
            .bind(&old.recipient_sealed)
            .bind(&old.body_sealed)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }
}
