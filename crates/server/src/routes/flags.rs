//! `/api/v1/admin/flags`: feature flags with their defaults, overrides and
//! effective values; admins override or reset them (403 for users).

use axum::{
    Router,
    extract::{Path, State},
    routing::{get, put},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    accounts::RequestMeta,
    auth::Admin,
    envelope::Envelope,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    flags::{FlagValue, FlagView},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/flags", get(list)).route("/api/v1/admin/flags/{name}", put(update))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagList {
    items: Vec<FlagView>,
    /// Longest time before every instance applies a change.
    refresh_ms: u64,
}

/// Every flag: its config default, the admin override if any, and the
/// value in force.
#[utoipa::path(get, path = "/api/v1/admin/flags", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "`data: {items: [{name, default, override: {value, updatedAt, updatedBy} | null, effective}], refreshMs}`; values are `{enabled: bool}` or `{percent: 0..100}`"),
              (status = 403, description = "Not an admin")))]
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Envelope<FlagList> {
    Envelope(FlagList { items: state.flags().list(), refresh_ms: state.config().flags.refresh_ms })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagChange {
    enabled: Option<bool>,
    percent: Option<i64>,
    reset: Option<bool>,
}

impl FlagChange {
    /// The override to store; `None` resets to the config default.
    fn parse(self) -> ApiResult<Option<FlagValue>> {
        match (self.enabled, self.percent, self.reset) {
            (Some(on), None, None) => Ok(Some(FlagValue::Enabled(on))),
            (None, Some(p), None) => u8::try_from(p)
                .ok()
                .filter(|p| *p <= 100)
                .map(|p| Some(FlagValue::Percent(p)))
                .ok_or_else(|| ApiError::invalid("percent", "must be an integer between 0 and 100")),
            (None, None, Some(true)) => Ok(None),
            (None, None, Some(false)) => Err(ApiError::invalid("reset", "must be true (or leave it out)")),
            _ => Err(ApiError::InvalidParameters("set exactly one of enabled, percent or reset".into())),
        }
    }
}

/// Overrides a flag on every instance (within `refreshMs`), or resets it.
#[utoipa::path(put, path = "/api/v1/admin/flags/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path, description = "e.g. auth.registration_open")),
    request_body(content = serde_json::Value, description = "exactly one of `{enabled: bool}`, `{percent: 0..100}`, `{reset: true}`"),
    responses((status = 200, description = "The flag as `GET` lists it"), (status = 400, description = "Invalid change"),
              (status = 403, description = "Not an admin"), (status = 404, description = "No flag with this name")))]
pub async fn update(
    State(state): State<AppState>,
    meta: RequestMeta,
    Admin(admin): Admin,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<FlagChange>,
) -> ApiResult<Envelope<FlagView>> {
    let flags = state.flags();
    if flags.view(&name).is_none() {
        let shown: String = name.chars().take(64).collect();
        return Err(ApiError::NotFound(format!("no feature flag named '{shown}'")));
    }
    let value = body.parse()?;
    flags.set(&name, value, &admin.user_id).await?;
    let details = match value {
        Some(value) => json!({ "set": value }),
        None => json!({ "reset": true }),
    };
    let event = state.accounts().event(&meta, &admin.user_id, "flag_change", &name, "success", details);
    state.accounts().record(&event).await?;
    let view = flags.view(&name).ok_or_else(|| ApiError::internal("flag vanished"))?;
    Ok(Envelope(view))
}
