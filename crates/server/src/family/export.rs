//! `GET /api/v1/user/data/export`: everything BabyShield holds about the
//! caller, opened and in one JSON document (GDPR art. 15/20). The export
//! itself is audited.

use babyshield_storage::accounts::AuditFilter;
use serde::Serialize;
use serde_json::json;

use super::{Family, Member, Notification, PageRequest, ScanEntry, WatchedProduct, Webhook};
use crate::{
    accounts::{Accounts, AuthUser, Profile, RequestMeta},
    error::ApiError,
};

/// Security events exported at most (newest first).
const MAX_SECURITY_EVENTS: u32 = 1_000;
const PAGE: i64 = 100;

/// A security event about the user, without the chain fields.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityEvent {
    pub at: String,
    pub action: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDataExport {
    pub exported_at: String,
    #[schema(value_type = Object)]
    pub account: Profile,
    pub scan_history_enabled: bool,
    pub family_members: Vec<Member>,
    /// Deleted but still restorable.
    pub deleted_family_members: Vec<Member>,
    pub watched_products: Vec<WatchedProduct>,
    pub notifications: Vec<Notification>,
    pub scan_history: Vec<ScanEntry>,
    pub webhooks: Vec<Webhook>,
    pub security_events: Vec<SecurityEvent>,
}

/// Follows a list's cursor to the end.
macro_rules! all_pages {
    ($list:expr) => {{
        let mut out = Vec::new();
        let mut page = PageRequest { limit: PAGE, after: None };
        loop {
            let got = $list(&page).await?;
            out.extend(got.items);
            match got.next_cursor {
                Some(_) => page.after = out_last_id(&out),
                None => break,
            }
        }
        out
    }};
}

trait HasId {
    fn row_id(&self) -> &str;
}
impl HasId for Member {
    fn row_id(&self) -> &str {
        &self.id
    }
}
impl HasId for WatchedProduct {
    fn row_id(&self) -> &str {
        &self.id
    }
}
impl HasId for Notification {
    fn row_id(&self) -> &str {
        &self.id
    }
}
impl HasId for ScanEntry {
    fn row_id(&self) -> &str {
        &self.id
    }
}

fn out_last_id<T: HasId>(items: &[T]) -> Option<String> {
    items.last().map(|i| i.row_id().to_string())
}

impl Family {
    pub async fn export(
        &self,
        accounts: &Accounts,
        meta: &RequestMeta,
        user: &AuthUser,
    ) -> Result<UserDataExport, ApiError> {
        let account = accounts.profile(user).await?;
        let family_members = all_pages!(|p| self.members(user, p, false));
        let deleted_family_members = all_pages!(|p| self.members(user, p, true));
        let watched_products = all_pages!(|p| self.watches(user, p));
        let notifications = all_pages!(|p| self.notifications(user, p, false));
        let scan_history = all_pages!(|p| self.scan_history(user, p));
        let webhooks = self.list_webhooks(user).await?;
        let filter = AuditFilter { target: Some(user.user_id.clone()), ..AuditFilter::default() };
        let security_events = self
            .store
            .audit_page(&filter, MAX_SECURITY_EVENTS)
            .await?
            .into_iter()
            .map(|row| SecurityEvent { at: row.at, action: row.action, outcome: row.outcome })
            .collect();
        let export = UserDataExport {
            exported_at: super::rfc3339(super::now()),
            account,
            scan_history_enabled: self.scan_history_enabled(user).await?,
            family_members,
            deleted_family_members,
            watched_products,
            notifications,
            scan_history,
            webhooks,
            security_events,
        };
        let counts = json!({
            "family_members": export.family_members.len() + export.deleted_family_members.len(),
            "watched_products": export.watched_products.len(),
            "notifications": export.notifications.len(),
            "scan_history": export.scan_history.len(),
        });
        let event = accounts.event(meta, &user.user_id, "data_export", &user.user_id, "success", counts);
        accounts.record(&event).await?;
        Ok(export)
    }
}
