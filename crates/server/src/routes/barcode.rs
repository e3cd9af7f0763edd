use std::collections::HashMap;

use axum::{
    Router,
    extract::{Path, Query, State},
    routing::get,
};
use babyshield_domain::{Gtin, RecallItem};
use serde::Serialize;

use crate::{
    cache::{CacheClass, CachedJson, IfNoneMatch},
    error::{ApiError, ApiResult},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/lookup/barcode", get(by_query))
        .route("/api/v1/lookup/barcode/{code}", get(by_path))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BarcodeResult {
    /// The code as the client sent it.
    pub barcode: String,
    /// The normalized 14-digit GTIN every padded form maps to.
    pub gtin: String,
    pub recalled: bool,
    pub count: usize,
    /// A plain sentence for the app to show.
    pub message: String,
    pub items: Vec<RecallItem>,
}

/// Recalls of the product with this UPC/EAN/GTIN (any padded form).
#[utoipa::path(get, path = "/api/v1/lookup/barcode/{code}", tag = "recalls",
    params(("code" = String, Path, description = "UPC-A, EAN-13, EAN-8 or GTIN-14; spaces and dashes ignored"),
           ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer")),
    responses(
        (status = 200, description = "`data: {barcode, gtin, recalled, count, message, items}`; `recalled: false` when no recall is known; `ETag`"),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 400, description = "Not a barcode, or a wrong check digit (the message says which)")))]
pub async fn by_path(
    State(state): State<AppState>,
    Path(code): Path<String>,
    conditional: IfNoneMatch,
) -> ApiResult<CachedJson> {
    Ok(conditional.answer(lookup(&state, code).await?))
}

/// Same as the path form, with `?code=`.
#[utoipa::path(get, path = "/api/v1/lookup/barcode", tag = "recalls",
    params(("code" = String, Query, description = "UPC-A, EAN-13, EAN-8 or GTIN-14"),
           ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer")),
    responses((status = 200, description = "As the path form"),
              (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
              (status = 400, description = "Missing or invalid code")))]
pub async fn by_query(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    conditional: IfNoneMatch,
) -> ApiResult<CachedJson> {
    let mut unknown: Vec<String> = params.keys().filter(|k| k.as_str() != "code").cloned().collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ApiError::UnknownFields(unknown));
    }
    let code = params.get("code").cloned().ok_or_else(|| ApiError::invalid("code", "is required"))?;
    Ok(conditional.answer(lookup(&state, code).await?))
}

/// Keyed by the code as sent: the answer echoes it, so padded spellings of
/// one GTIN are separate entries.
async fn lookup(state: &AppState, code: String) -> ApiResult<crate::cache::Entry> {
    if code.len() > 64 {
        return Err(ApiError::invalid("code", "is too long to be a barcode"));
    }
    let gtin = Gtin::parse(&code).map_err(|e| ApiError::invalid("code", e))?;
    let catalogue = state.catalogue();
    catalogue.cache().get_or_load(CacheClass::Barcode, &code, build(state, &code, gtin)).await
}

async fn build(state: &AppState, code: &str, gtin: Gtin) -> ApiResult<BarcodeResult> {
    let recalls = state.catalogue().recalls_for_barcode(&gtin).await?;
    let count = recalls.len();
    let message = match count {
        0 => "No recall is known for this product.".to_string(),
        1 => "This product has been recalled.".to_string(),
        n => format!("This product appears in {n} recalls."),
    };
    Ok(BarcodeResult {
        barcode: code.to_string(),
        gtin: gtin.as_str().to_string(),
        recalled: count > 0,
        count,
        message,
        items: recalls.iter().map(RecallItem::from).collect(),
    })
}
