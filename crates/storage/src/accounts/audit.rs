//! The audit trail: append (inside the caller's transaction), page, verify.

use babyshield_security::{AuditChain, AuditRecord};
use serde::Serialize;

use crate::{StorageError, Store};

/// A security event to record. `details` is a short JSON object with no
/// secrets and no personal data.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub outcome: &'static str,
    pub request_id: String,
    pub ip_hash: String,
    pub details: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub request_id: String,
    pub ip_hash: String,
    pub details: String,
    #[serde(skip)]
    pub prev_mac: String,
    #[serde(skip)]
    pub mac: String,
}

impl AuditRow {
    pub fn record(&self) -> AuditRecord {
        AuditRecord {
            seq: self.seq,
            at: self.at.clone(),
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            outcome: self.outcome.clone(),
            request_id: self.request_id.clone(),
            ip_hash: self.ip_hash.clone(),
            details: self.details.clone(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    /// Rows with a smaller seq than this (newest first paging).
    pub before_seq: Option<i64>,
}

/// Appends one chained audit row inside the transaction `$tx`. The caller's
/// transaction holds the write lock, so seq and prev_mac cannot race.
macro_rules! append_in_tx {
    ($tx:ident, $chain:expr, $event:expr) => {{
        let event: &$crate::accounts::AuditEvent = $event;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *$tx)
                .await?;
        let (seq, prev_mac) = match last {
            Some((seq, mac)) => (seq + 1, mac),
            None => (1, babyshield_security::GENESIS.to_string()),
        };
        let record = babyshield_security::AuditRecord {
            seq,
            at: $crate::accounts::now_rfc3339(),
            actor: event.actor.clone(),
            action: event.action.to_string(),
            target: event.target.clone(),
            outcome: event.outcome.to_string(),
            request_id: event.request_id.clone(),
            ip_hash: event.ip_hash.clone(),
            details: event.details.clone(),
        };
        let mac = $chain.mac(&prev_mac, &record);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, target, outcome, request_id, ip_hash, details, prev_mac, mac) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(record.seq)
        .bind(&record.at)
        .bind(&record.actor)
        .bind(&record.action)
        .bind(&record.target)
        .bind(&record.outcome)
        .bind(&record.request_id)
        .bind(&record.ip_hash)
        .bind(&record.details)
        .bind(&prev_mac)
        .bind(&mac)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use append_in_tx;

type AuditTuple = (i64, String, String, String, String, String, String, String, String, String, String);

fn row(
    (seq, at, actor, action, target, outcome, request_id, ip_hash, details, prev_mac, mac): AuditTuple,
) -> AuditRow {
    AuditRow { seq, at, actor, action, target, outcome, request_id, ip_hash, details, prev_mac, mac }
}

const COLUMNS: &str = "seq, at, actor, action, target, outcome, request_id, ip_hash, details, prev_mac, mac";

impl Store {
    /// Records an event that changes nothing else (a failed login, say).
    pub async fn append_audit(&self, chain: &AuditChain, event: &AuditEvent) -> Result<(), StorageError> {
        crate::in_write_tx!(self, tx => {
            append_in_tx!(tx, chain, event);
        });
        Ok(())
    }

    /// Newest first, filtered.
    pub async fn audit_page(&self, filter: &AuditFilter, limit: u32) -> Result<Vec<AuditRow>, StorageError> {
        let mut args = crate::recalls::args::Args::default();
        let mut conditions = Vec::new();
        if let Some(v) = &filter.action {
            conditions.push(format!("action = {}", args.text(v.clone())));
        }
        if let Some(v) = &filter.actor {
            conditions.push(format!("actor = {}", args.text(v.clone())));
        }
        if let Some(v) = &filter.target {
            conditions.push(format!("target = {}", args.text(v.clone())));
        }
        if let Some(v) = filter.before_seq {
            conditions.push(format!("seq < {}", args.int(v)));
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let limit = args.int(i64::from(limit));
        let sql = format!("SELECT {COLUMNS} FROM audit_log{where_clause} ORDER BY seq DESC LIMIT {limit}");
        let rows: Vec<AuditTuple> = crate::on_pool!(self, p => {
            crate::recalls::args::bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), args).fetch_all(p).await?
        });
        Ok(rows.into_iter().map(row).collect())
    }

    /// Every row in seq order, for `babyshield audit verify`.
    pub async fn audit_all(&self) -> Result<Vec<AuditRow>, StorageError> {
        let rows: Vec<AuditTuple> = crate::on_pool!(self, p => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq")))
                .fetch_all(p)
                .await?
        });
        Ok(rows.into_iter().map(row).collect())
    }
}
