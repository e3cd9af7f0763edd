//! Opt-in scan history: what a signed-in parent checked, when, and the
//! verdict. Off by default; turning it off deletes it.

use serde::{Deserialize, Serialize};

use super::{Family, PageRequest, SafetyReport, SealedColumn, aad, new_id, paging::Page};
use crate::{accounts::AuthUser, error::ApiError};

/// One remembered check (sealed at rest).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanEntry {
    #[serde(default)]
    pub id: String,
    /// safety_check or image_scan.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    pub verdict: String,
    pub recall_ids: Vec<String>,
    #[serde(default)]
    pub created_at: String,
}

pub type ScanPage = Page<ScanEntry>;

impl Family {
    /// Remembers a check when the user opted in (a no-op otherwise).
    pub(super) async fn record_check(
        &self,
        user: &AuthUser,
        source: &str,
        report: &SafetyReport,
    ) -> Result<(), ApiError> {
        // History is opt-in and off for most users: a read, not a write
        // transaction, on their checks. (The insert re-checks the opt-in.)
        if !self.store.scan_history_enabled(&user.user_id).await? {
            return Ok(());
        }
        let id = new_id();
        let entry = ScanEntry {
            id: String::new(),
            source: source.to_string(),
            barcode: report.product.barcode.clone(),
            product_name: report.product.product_name.clone(),
            brand: report.product.brand.clone(),
            model: report.product.model.clone(),
            member_id: report.member_id.clone(),
            verdict: report.verdict.as_str().to_string(),
            recall_ids: report.matches.iter().map(|m| m.recall.id.clone()).collect(),
            created_at: String::new(),
        };
        let sealed = self.seal(&entry, &aad(SealedColumn::ScanEntry, &id))?;
        self.store.record_scan(&user.user_id, &id, &sealed, self.config.scan_history_keep).await?;
        Ok(())
    }

    pub async fn scan_history(&self, user: &AuthUser, page: &PageRequest) -> Result<ScanPage, ApiError> {
        let rows = self.store.list_scans(&user.user_id, page.after.as_deref(), page.fetch()).await?;
        page.page(
            rows,
            |r| &r.id,
            |r| {
                let mut entry: ScanEntry =
                    self.open(&r.entry_sealed, &aad(SealedColumn::ScanEntry, &r.id))?;
                entry.id = r.id;
                entry.created_at = r.created_at;
                Ok(entry)
            },
        )
    }

    pub async fn clear_scan_history(&self, user: &AuthUser) -> Result<u64, ApiError> {
        Ok(self.store.clear_scans(&user.user_id).await?)
    }

    pub async fn scan_history_enabled(&self, user: &AuthUser) -> Result<bool, ApiError> {
        Ok(self.store.scan_history_enabled(&user.user_id).await?)
    }

    pub async fn set_scan_history(&self, user: &AuthUser, enabled: bool) -> Result<(), ApiError> {
        Ok(self.store.set_scan_history(&user.user_id, enabled).await?)
    }
}
