//! Family data: members, watched products, alerts, scan history,
//! preferences and webhooks. Every query is scoped by the owner's user id,
//! so another user's id finds nothing. Personal values arrive sealed from
//! the service layer; this module stores what it is given.
//!
//! Lists are keyset-paged on the row id (UUIDv7, so id order is creation
//! order) and each is ONE statement, related rows joined in.

use crate::{StorageError, Store, recalls::now_rfc3339};

/// One family member as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub id: String,
    pub profile_sealed: String,
    pub created_at: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
}

/// A watched product as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRow {
    pub id: String,
    pub user_id: String,
    pub details_sealed: String,
    pub created_at: String,
}

/// A watched product found by its match keys, with the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchCandidate {
    pub row: WatchRow,
    pub gtin_index: Option<String>,
    pub model_index: Option<String>,
    pub brand_index: Option<String>,
}

/// A watched product to store, with its blind-indexed match keys.
#[derive(Debug, Clone)]
pub struct NewWatch {
    pub id: String,
    pub user_id: String,
    pub details_sealed: String,
    pub gtin_index: Option<String>,
    pub model_index: Option<String>,
    pub brand_index: Option<String>,
}

/// An alert to create (ignored if the user already has one for the recall).
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub id: String,
    pub user_id: String,
    pub recall_id: String,
    pub watch_id: Option<String>,
    pub match_type: String,
    pub confidence: f64,
}

/// An alert with its recall (the stored JSON document, absent if the recall
/// was removed) and its watched product, loaded in the same statement.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRow {
    pub id: String,
    pub recall_id: String,
    pub watch_id: Option<String>,
    pub match_type: String,
    pub confidence: f64,
    pub created_at: String,
    pub read_at: Option<String>,
    pub recall_doc: Option<String>,
    pub watch_sealed: Option<String>,
}

/// One scan-history entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRow {
    pub id: String,
    pub entry_sealed: String,
    pub created_at: String,
}

/// One webhook as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    pub user_id: String,
    pub config_sealed: String,
    pub created_at: String,
}

/// The sealed column of each family table (one per table, rows keyed by
/// a text `id`), for key rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    MemberProfile,
    WatchDetails,
    ScanEntry,
    WebhookConfig,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 4] = [
        SealedColumn::MemberProfile,
        SealedColumn::WatchDetails,
        SealedColumn::ScanEntry,
        SealedColumn::WebhookConfig,
    ];

    pub fn table(self) -> &'static str {
        match self {
            SealedColumn::MemberProfile => "family_members",
            SealedColumn::WatchDetails => "watched_products",
            SealedColumn::ScanEntry => "scan_history",
            SealedColumn::WebhookConfig => "webhooks",
        }
    }

    /// The field's name: the column without its `_sealed` suffix.
    pub fn field(self) -> &'static str {
        match self {
            SealedColumn::MemberProfile => "profile",
            SealedColumn::WatchDetails => "details",
            SealedColumn::ScanEntry => "entry",
            SealedColumn::WebhookConfig => "config",
        }
    }
}

/// Kind of the jobs that deliver one alert to one webhook.
pub const DELIVER_WEBHOOK: &str = "deliver_webhook";

/// Payload of a [`DELIVER_WEBHOOK`] job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DeliverWebhook {
    pub webhook_id: String,
    pub notification_id: String,
}

/// What `record_alerts` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertOutcome {
    /// Alerts created (duplicates of existing ones are not counted).
    pub created: u64,
    /// Webhook deliveries queued for them.
    pub deliveries: u64,
    /// False when the job's lease had been lost: nothing was written.
    pub job_finished: bool,
}

/// Deletes everything a user keeps about their family, inside `$tx` (the
/// account deletion's transaction).
macro_rules! delete_family_data {
    ($tx:ident, $user_id:expr) => {
        for table in crate::family::FAMILY_TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE user_id = $1")))
                .bind($user_id)
                .execute(&mut *$tx)
                .await?;
        }
    };
}
pub(crate) use delete_family_data;

/// Whether the user already has `max` rows in `table`, read inside the
/// transaction `$tx` that would add one (so two requests cannot both pass).
macro_rules! at_limit {
    ($tx:ident, $table:literal, $user_id:expr, $max:expr) => {{
        let (count,): (i64,) =
            sqlx::query_as(concat!("SELECT COUNT(*) FROM ", $table, " WHERE user_id = $1"))
                .bind($user_id)
                .fetch_one(&mut *$tx)
                .await?;
        count >= $max
    }};
}

/// Every table of family data, children before parents.
pub(crate) const FAMILY_TABLES: [&str; 6] =
    ["notifications", "scan_history", "webhooks", "watched_products", "family_members", "user_preferences"];

type MemberTuple = (String, String, String, String, Option<String>);
type WatchTuple = (String, String, String, String);
type NotificationTuple =
    (String, String, Option<String>, String, f64, String, Option<String>, Option<String>, Option<String>);

fn member((id, profile_sealed, created_at, updated_at, deleted_at): MemberTuple) -> MemberRow {
    MemberRow { id, profile_sealed, created_at, updated_at, deleted_at }
}

type WebhookTuple = (String, String, String, String);

fn webhook((id, user_id, config_sealed, created_at): WebhookTuple) -> WebhookRow {
    WebhookRow { id, user_id, config_sealed, created_at }
}

fn watch((id, user_id, details_sealed, created_at): WatchTuple) -> WatchRow {
    WatchRow { id, user_id, details_sealed, created_at }
}

/// An alert with its recall and watched product: one statement, joined.
const NOTIFICATION_SELECT: &str = "SELECT n.id, n.recall_id, n.watch_id, n.match_type, n.confidence, \
     n.created_at, n.read_at, r.doc, w.details_sealed FROM notifications n \
     LEFT JOIN recalls r ON r.id = n.recall_id \
     LEFT JOIN watched_products w ON w.id = n.watch_id";

fn notification(t: NotificationTuple) -> NotificationRow {
    let (id, recall_id, watch_id, match_type, confidence, created_at, read_at, recall_doc, watch_sealed) = t;
    NotificationRow {
        id,
        recall_id,
        watch_id,
        match_type,
        confidence,
        created_at,
        read_at,
        recall_doc,
        watch_sealed,
    }
}

/// Keyset bound for ascending pages: ids after `after` (or all).
fn lower(after: Option<&str>) -> &str {
    after.unwrap_or("")
}

/// Keyset bound for descending pages: ids before `before` (or all; ids are
/// 32 hex digits, all below "g").
fn upper(before: Option<&str>) -> &str {
    before.unwrap_or("g")
}

impl Store {
    // ---- family members -------------------------------------------------

    /// Adds a member unless the user already has `max` (deleted ones still
    /// count until purged); false when at the limit.
    pub async fn create_member(
        &self,
        user_id: &str,
        id: &str,
        profile_sealed: &str,
        max: i64,
    ) -> Result<bool, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::in_write_tx!(self, unlocked tx => {
                if at_limit!(tx, "family_members", user_id, max) {
                    false
                } else {
                    sqlx::query(
                        "INSERT INTO family_members (id, user_id, profile_sealed, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4)",
                    )
                    .bind(id)
                    .bind(user_id)
                    .bind(profile_sealed)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                    true
                }
            }))
        })
        .await
    }

    /// The user's members in creation order, after the id `after`; deleted
    /// ones only when `deleted` is true (and then only those).
    pub async fn list_members(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: i64,
        deleted: bool,
    ) -> Result<Vec<MemberRow>, StorageError> {
        let condition = if deleted { "deleted_at IS NOT NULL" } else { "deleted_at IS NULL" };
        let sql = format!(
            "SELECT id, profile_sealed, created_at, updated_at, deleted_at FROM family_members \
             WHERE user_id = $1 AND id > $2 AND {condition} ORDER BY id LIMIT $3"
        );
        let rows: Vec<MemberTuple> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(user_id)
                        .bind(lower(after))
                        .bind(limit)
                        .fetch_all(p)
                        .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(member).collect())
    }

    /// One member of the user, deleted or not.
    pub async fn member(&self, user_id: &str, id: &str) -> Result<Option<MemberRow>, StorageError> {
        let row: Option<MemberTuple> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(
                        "SELECT id, profile_sealed, created_at, updated_at, deleted_at FROM family_members \
                         WHERE user_id = $1 AND id = $2",
                    )
                    .bind(user_id)
                    .bind(id)
                    .fetch_optional(p)
                    .await?
                }))
            })
            .await?;
        Ok(row.map(member))
    }

    /// Replaces a live member's profile; false when there is none.
    pub async fn update_member(
        &self,
        user_id: &str,
        id: &str,
        profile_sealed: &str,
    ) -> Result<bool, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query(
                    "UPDATE family_members SET profile_sealed = $1, updated_at = $2 \
                     WHERE user_id = $3 AND id = $4 AND deleted_at IS NULL",
                )
                .bind(profile_sealed)
                .bind(&now)
                .bind(user_id)
                .bind(id)
                .execute(p)
                .await?
                .rows_affected()
                    == 1
            }))
        })
        .await
    }

    /// Soft-deletes a live member; false when there is none.
    pub async fn delete_member(&self, user_id: &str, id: &str) -> Result<bool, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query(
                    "UPDATE family_members SET deleted_at = $1, updated_at = $1 \
                     WHERE user_id = $2 AND id = $3 AND deleted_at IS NULL",
                )
                .bind(&now)
                .bind(user_id)
                .bind(id)
                .execute(p)
                .await?
                .rows_affected()
                    == 1
            }))
        })
        .await
    }

    /// Restores a member deleted at or after `cutoff` (RFC 3339); false when
    /// there is none (never deleted, unknown, or past the window).
    pub async fn restore_member(&self, user_id: &str, id: &str, cutoff: &str) -> Result<bool, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query(
                    "UPDATE family_members SET deleted_at = NULL, updated_at = $1 \
                     WHERE user_id = $2 AND id = $3 AND deleted_at IS NOT NULL AND deleted_at >= $4",
                )
                .bind(&now)
                .bind(user_id)
                .bind(id)
                .bind(cutoff)
                .execute(p)
                .await?
                .rows_affected()
                    == 1
            }))
        })
        .await
    }

    /// Removes members deleted before `cutoff` for good; how many.
    pub async fn purge_deleted_members(&self, cutoff: &str) -> Result<u64, StorageError> {
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query("DELETE FROM family_members WHERE deleted_at IS NOT NULL AND deleted_at < $1")
                    .bind(cutoff)
                    .execute(p)
                    .await?
                    .rows_affected()
            }))
        })
        .await
    }

    // ---- watched products -----------------------------------------------

    /// Stores a watched product unless the user has `max`; false at the limit.
    pub async fn create_watch(&self, new: &NewWatch, max: i64) -> Result<bool, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::in_write_tx!(self, unlocked tx => {
                if at_limit!(tx, "watched_products", &new.user_id, max) {
                    false
                } else {
                    sqlx::query(
                        "INSERT INTO watched_products (id, user_id, details_sealed, gtin_index, model_index, \
                         brand_index, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&new.id)
                    .bind(&new.user_id)
                    .bind(&new.details_sealed)
                    .bind(&new.gtin_index)
                    .bind(&new.model_index)
                    .bind(&new.brand_index)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                    true
                }
            }))
        })
        .await
    }

    /// The user's watched products, newest first, before the id `before`.
    pub async fn list_watches(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WatchRow>, StorageError> {
        let rows: Vec<WatchTuple> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(
                        "SELECT id, user_id, details_sealed, created_at FROM watched_products \
                         WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                    )
                    .bind(user_id)
                    .bind(upper(before))
                    .bind(limit)
                    .fetch_all(p)
                    .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(watch).collect())
    }

    /// Stops watching; false when the user has no such watched product. Its
    /// alerts stay (they point at a recall, and lose the product link).
    pub async fn delete_watch(&self, user_id: &str, id: &str) -> Result<bool, StorageError> {
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query("DELETE FROM watched_products WHERE user_id = $1 AND id = $2")
                    .bind(user_id)
                    .bind(id)
                    .execute(p)
                    .await?
                    .rows_affected()
                    == 1
            }))
        })
        .await
    }

    /// Whether anyone watches any product: when nobody does, a batch of new
    /// recalls has nothing to match and its job finishes without reading them.
    pub async fn any_watched_products(&self) -> Result<bool, StorageError> {
        self.read(|| async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM watched_products)").fetch_one(p).await?
            }))
        })
        .await
    }

    /// Watched products whose blind-indexed GTIN, model or brand is one of
    /// `keys` (any user): the candidates for a batch of recalls. The three
    /// kinds of key are blind-indexed under different purposes, so one list
    /// serves all three columns without a key of one kind matching another.
    pub async fn watches_matching(&self, keys: &[String]) -> Result<Vec<WatchCandidate>, StorageError> {
        type CandidateTuple =
            (String, String, String, String, Option<String>, Option<String>, Option<String>);
        let mut out: Vec<WatchCandidate> = Vec::new();
        for chunk in keys.chunks(200) {
            let mut args = crate::recalls::args::Args::default();
            let list = chunk.iter().map(|k| args.text(k.as_str())).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT id, user_id, details_sealed, created_at, gtin_index, model_index, brand_index \
                 FROM watched_products WHERE gtin_index IN ({list}) OR model_index IN ({list}) \
                 OR brand_index IN ({list})"
            );
            let rows: Vec<CandidateTuple> = self
                .read(|| async {
                    Ok(crate::on_pool!(self, p => {
                        crate::recalls::args::bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), args)
                            .fetch_all(p)
                            .await?
                    }))
                })
                .await?;
            for (id, user_id, details_sealed, created_at, gtin_index, model_index, brand_index) in rows {
                // A watch can match keys in two chunks.
                if !out.iter().any(|w| w.row.id == id) {
                    out.push(WatchCandidate {
                        row: WatchRow { id, user_id, details_sealed, created_at },
                        gtin_index,
                        model_index,
                        brand_index,
                    });
                }
            }
        }
        Ok(out)
    }

    // ---- alerts ----------------------------------------------------------

    /// Creates the alerts a match job found, queues a webhook delivery for
    /// each new one, and finishes the job, in ONE transaction. An alert that
    /// exists already (same user and recall) is skipped, so a job that runs
    /// twice, or two jobs finding the same recall, alert once.
    pub async fn record_alerts(
        &self,
        job_id: i64,
        owner: &str,
        alerts: &[NewNotification],
    ) -> Result<AlertOutcome, StorageError> {
        let now = now_rfc3339();
        let run_after = crate::unix_now();
        self.timed(async {
            Ok(crate::in_write_tx!(self, unlocked tx => {
                let owned: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM jobs WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
                )
                .bind(job_id)
                .bind(owner)
                .fetch_optional(&mut *tx)
                .await?;
                if owned.is_none() {
                    AlertOutcome::default()
                } else {
                    let mut outcome = AlertOutcome { job_finished: true, ..AlertOutcome::default() };
                    for alert in alerts {
                        let created: Option<(String,)> = sqlx::query_as(
                            "INSERT INTO notifications (id, user_id, recall_id, watch_id, match_type, confidence, \
                             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             ON CONFLICT (user_id, recall_id) DO NOTHING RETURNING id",
                        )
                        .bind(&alert.id)
                        .bind(&alert.user_id)
                        .bind(&alert.recall_id)
                        .bind(&alert.watch_id)
                        .bind(&alert.match_type)
                        .bind(alert.confidence)
                        .bind(&now)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if created.is_none() {
                            continue;
                        }
                        outcome.created += 1;
                        let hooks: Vec<(String,)> = sqlx::query_as("SELECT id FROM webhooks WHERE user_id = $1")
                            .bind(&alert.user_id)
                            .fetch_all(&mut *tx)
                            .await?;
                        for (webhook_id,) in hooks {
                            let payload = serde_json::to_string(&DeliverWebhook {
                                webhook_id,
                                notification_id: alert.id.clone(),
                            })?;
                            let job = crate::jobs::NewJob { kind: DELIVER_WEBHOOK, payload, max_attempts: 8, run_after };
                            crate::jobs::enqueue_job_in_tx!(tx, &job, &now);
                            outcome.deliveries += 1;
                        }
                    }
                    sqlx::query(
                        "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_until = NULL, last_error = NULL, \
                         finished_at = $1 WHERE id = $2",
                    )
                    .bind(&now)
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
                    outcome
                }
            }))
        })
        .await
    }

    /// The user's alerts, newest first, before the id `before`, each with
    /// its recall and watched product (one statement).
    pub async fn list_notifications(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: i64,
        unread_only: bool,
    ) -> Result<Vec<NotificationRow>, StorageError> {
        let unread = if unread_only { " AND n.read_at IS NULL" } else { "" };
        let sql = format!(
            "{NOTIFICATION_SELECT} WHERE n.user_id = $1 AND n.id < $2{unread} ORDER BY n.id DESC LIMIT $3"
        );
        let rows: Vec<NotificationTuple> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(user_id)
                        .bind(upper(before))
                        .bind(limit)
                        .fetch_all(p)
                        .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(notification).collect())
    }

    /// One alert of the user with its recall and product (for webhooks).
    pub async fn notification(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<Option<NotificationRow>, StorageError> {
        let sql = format!("{NOTIFICATION_SELECT} WHERE n.user_id = $1 AND n.id = $2");
        let row: Option<NotificationTuple> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(user_id)
                    .bind(id)
                    .fetch_optional(p)
                    .await?
                }))
            })
            .await?;
        Ok(row.map(notification))
    }

    /// Unread alerts of the user.
    pub async fn unread_notifications(&self, user_id: &str) -> Result<i64, StorageError> {
        let (count,): (i64,) = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
                        .bind(user_id)
                        .fetch_one(p)
                        .await?
                }))
            })
            .await?;
        Ok(count)
    }

    /// Marks one alert read (idempotent); false when the user has no such alert.
    pub async fn mark_notification_read(&self, user_id: &str, id: &str) -> Result<bool, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query(
                    "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE user_id = $2 AND id = $3",
                )
                .bind(&now)
                .bind(user_id)
                .bind(id)
                .execute(p)
                .await?
                .rows_affected()
                    == 1
            }))
        })
        .await
    }

    /// Marks every unread alert of the user read; how many.
    pub async fn mark_all_notifications_read(&self, user_id: &str) -> Result<u64, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
                    .bind(&now)
                    .bind(user_id)
                    .execute(p)
                    .await?
                    .rows_affected()
            }))
        })
        .await
    }

    // ---- scan history and preferences -------------------------------------

    /// Whether the user opted in to scan history.
    pub async fn scan_history_enabled(&self, user_id: &str) -> Result<bool, StorageError> {
        let row: Option<(bool,)> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as("SELECT scan_history FROM user_preferences WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_optional(p)
                        .await?
                }))
            })
            .await?;
        Ok(row.is_some_and(|(on,)| on))
    }

    /// Opts in or out; opting out deletes the history in the same transaction.
    pub async fn set_scan_history(&self, user_id: &str, enabled: bool) -> Result<(), StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            crate::in_write_tx!(self, unlocked tx => {
                sqlx::query(
                    "INSERT INTO user_preferences (user_id, scan_history, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id) DO UPDATE SET scan_history = excluded.scan_history, \
                     updated_at = excluded.updated_at",
                )
                .bind(user_id)
                .bind(enabled)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                if !enabled {
                    sqlx::query("DELETE FROM scan_history WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
                }
            });
            Ok(())
        })
        .await
    }

    /// Records a scan if (and only if) the user has opted in, keeping the
    /// newest `keep` entries; true when recorded.
    pub async fn record_scan(
        &self,
        user_id: &str,
        id: &str,
        entry_sealed: &str,
        keep: i64,
    ) -> Result<bool, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::in_write_tx!(self, unlocked tx => {
                let inserted = sqlx::query(
                    "INSERT INTO scan_history (id, user_id, entry_sealed, created_at) \
                     SELECT $1, $2, $3, $4 WHERE EXISTS \
                     (SELECT 1 FROM user_preferences WHERE user_id = $2 AND scan_history)",
                )
                .bind(id)
                .bind(user_id)
                .bind(entry_sealed)
                .bind(&now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if inserted {
                    sqlx::query(
                        "DELETE FROM scan_history WHERE user_id = $1 AND id < \
                         (SELECT id FROM scan_history WHERE user_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                    )
                    .bind(user_id)
                    .bind(keep - 1)
                    .execute(&mut *tx)
                    .await?;
                }
                inserted
            }))
        })
        .await
    }

    /// The user's scan history, newest first, before the id `before`.
    pub async fn list_scans(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ScanRow>, StorageError> {
        let rows: Vec<(String, String, String)> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(
                        "SELECT id, entry_sealed, created_at FROM scan_history \
                         WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                    )
                    .bind(user_id)
                    .bind(upper(before))
                    .bind(limit)
                    .fetch_all(p)
                    .await?
                }))
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, entry_sealed, created_at)| ScanRow { id, entry_sealed, created_at })
            .collect())
    }

    /// Deletes the user's scan history; how many entries.
    pub async fn clear_scans(&self, user_id: &str) -> Result<u64, StorageError> {
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query("DELETE FROM scan_history WHERE user_id = $1")
                    .bind(user_id)
                    .execute(p)
                    .await?
                    .rows_affected()
            }))
        })
        .await
    }

    // ---- webhooks ---------------------------------------------------------

    /// Stores a webhook unless the user has `max`; false at the limit.
    pub async fn create_webhook(
        &self,
        user_id: &str,
        id: &str,
        config_sealed: &str,
        max: i64,
    ) -> Result<bool, StorageError> {
        let now = now_rfc3339();
        self.timed(async {
            Ok(crate::in_write_tx!(self, unlocked tx => {
                if at_limit!(tx, "webhooks", user_id, max) {
                    false
                } else {
                    sqlx::query("INSERT INTO webhooks (id, user_id, config_sealed, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(id)
                        .bind(user_id)
                        .bind(config_sealed)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await?;
                    true
                }
            }))
        })
        .await
    }

    /// The user's webhooks, oldest first.
    pub async fn list_webhooks(&self, user_id: &str) -> Result<Vec<WebhookRow>, StorageError> {
        let rows: Vec<WebhookTuple> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as(
                        "SELECT id, user_id, config_sealed, created_at FROM webhooks WHERE user_id = $1 ORDER BY id",
                    )
                    .bind(user_id)
                    .fetch_all(p)
                    .await?
                }))
            })
            .await?;
        Ok(rows.into_iter().map(webhook).collect())
    }

    /// One webhook by id (any user: the delivery job's lookup).
    pub async fn webhook(&self, id: &str) -> Result<Option<WebhookRow>, StorageError> {
        let row: Option<WebhookTuple> = self
            .read(|| async {
                Ok(crate::on_pool!(self, p => {
                    sqlx::query_as("SELECT id, user_id, config_sealed, created_at FROM webhooks WHERE id = $1")
                        .bind(id)
                        .fetch_optional(p)
                        .await?
                }))
            })
            .await?;
        Ok(row.map(webhook))
    }

    /// Removes a webhook of the user; false when there is none.
    pub async fn delete_webhook(&self, user_id: &str, id: &str) -> Result<bool, StorageError> {
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query("DELETE FROM webhooks WHERE user_id = $1 AND id = $2")
                    .bind(user_id)
                    .bind(id)
                    .execute(p)
                    .await?
                    .rows_affected()
                    == 1
            }))
        })
        .await
    }

    // ---- key rotation -------------------------------------------------------

    /// Rows of `column` sealed with a key other than `current_kid`: (id, sealed).
    pub async fn family_sealed_with_other_key(
        &self,
        column: SealedColumn,
        current_kid: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let sql = format!(
            "SELECT id, {field}_sealed FROM {table} WHERE {field}_sealed NOT LIKE $1 ORDER BY id LIMIT $2",
            field = column.field(),
            table = column.table()
        );
        let prefix = format!("v1:{current_kid}:%");
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&prefix).bind(limit).fetch_all(p).await?
            }))
        })
        .await
    }

    /// Stores a re-sealed value if the row still holds what was read.
    pub async fn reseal_family(
        &self,
        column: SealedColumn,
        id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StorageError> {
        let sql = format!(
            "UPDATE {table} SET {field}_sealed = $1 WHERE id = $2 AND {field}_sealed = $3",
            field = column.field(),
            table = column.table()
        );
        self.timed(async {
            Ok(crate::on_pool!(self, p => {
                sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(new).bind(id).bind(old).execute(p).await?.rows_affected()
                    == 1
            }))
        })
        .await
    }
}
