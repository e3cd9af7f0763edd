//! Recall alerts (`/api/v1/notifications`): newest first, each with its
//! recall and watched product loaded in the same statement.

use babyshield_domain::{Recall, RecallItem};
use babyshield_storage::family::NotificationRow;
use serde::Serialize;

use super::{Family, PageRequest, paging::Page};
use crate::{accounts::AuthUser, error::ApiError};

/// One alert.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: String,
    /// Always recall_alert for now.
    pub kind: &'static str,
    pub recall_id: String,
    /// The recall (absent if it has since been removed from the catalogue).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub recall: Option<RecallItem>,
    /// The watched product it concerns (absent once the product is unwatched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watched_product_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watched_product_label: Option<String>,
    pub match_type: String,
    pub confidence: f64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
    pub read: bool,
}

pub type NotificationPage = Page<Notification>;

impl Family {
    pub(super) fn notification_view(&self, row: NotificationRow) -> Result<Notification, ApiError> {
        let recall = row
            .recall_doc
            .as_deref()
            .map(|doc| serde_json::from_str::<Recall>(doc).map(|r| RecallItem::from(&r)))
            .transpose()
            .map_err(ApiError::internal)?;
        let label = match (&row.watch_id, &row.watch_sealed) {
            (Some(id), Some(sealed)) => self.watch_label(id, sealed),
            _ => None,
        };
        Ok(Notification {
            id: row.id,
            kind: "recall_alert",
            recall_id: row.recall_id,
            recall,
            watched_product_id: row.watch_id,
            watched_product_label: label,
            match_type: row.match_type,
            confidence: row.confidence,
            created_at: row.created_at,
            read: row.read_at.is_some(),
            read_at: row.read_at,
        })
    }

    pub async fn notifications(
        &self,
        user: &AuthUser,
        page: &PageRequest,
        unread_only: bool,
    ) -> Result<NotificationPage, ApiError> {
        let rows = self
            .store
            .list_notifications(&user.user_id, page.after.as_deref(), page.fetch(), unread_only)
            .await?;
        page.page(rows, |r| &r.id, |r| self.notification_view(r))
    }

    pub async fn unread_count(&self, user: &AuthUser) -> Result<i64, ApiError> {
        Ok(self.store.unread_notifications(&user.user_id).await?)
    }

    pub async fn mark_read(&self, user: &AuthUser, id: &str) -> Result<Notification, ApiError> {
        if !self.store.mark_notification_read(&user.user_id, id).await? {
            return Err(ApiError::NotFound("no notification with this id".into()));
        }
        match self.store.notification(&user.user_id, id).await? {
            Some(row) => self.notification_view(row),
            None => Err(ApiError::NotFound("no notification with this id".into())),
        }
    }

    pub async fn mark_all_read(&self, user: &AuthUser) -> Result<u64, ApiError> {
        Ok(self.store.mark_all_notifications_read(&user.user_id).await?)
    }
}
