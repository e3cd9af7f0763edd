//! The v2 envelope: lists as `{"data": [...], "page": {...}}`, errors as
//! `{"error": {...}}`, and `X-API-Version: v2`.

use axum::{
    Json,
    body::{Body, to_bytes},
    extract::Request,
    http::{
        HeaderName, HeaderValue, StatusCode,
        header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE},
    },
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use crate::{
    cache::Entry,
    error::{ApiError, ApiResult},
    family::Page,
};

static X_API_VERSION: HeaderName = HeaderName::from_static("x-api-version");

/// A page of a v2 list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    /// The page's items, in the list's order.
    pub data: Vec<T>,
    pub page: PageInfo,
}

/// Where a v2 list page is: cursor-only, so no `total` and no `offset`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// Send as `cursor` (`nextCursor` in a search body) for the next page;
    /// `null` on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
    /// The page size used (the request's `limit`, or the default).
    pub limit: u32,
}

impl<T: Serialize> IntoResponse for List<T> {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

impl<T> From<Page<T>> for List<T> {
    fn from(page: Page<T>) -> List<T> {
        List {
            data: page.items,
            page: PageInfo {
                next_cursor: page.next_cursor,
                has_more: page.has_more,
                limit: u32::try_from(page.limit).unwrap_or(u32::MAX),
            },
        }
    }
}

/// The parts of a cached catalogue page (`catalogue::ResultPage`, as v1
/// serialized it) that v2 keeps; the items are passed through untouched.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedPage {
    items: Vec<serde_json::Value>,
    next_cursor: Option<String>,
    has_more: bool,
    limit: u32,
}

/// A v2 list answer from a cached catalogue page. `v1` is the v1 answer
/// for the same entry (`CachedJson`), so the 304 decision, `ETag` and
/// `Cache-Control` are v1's; only a 200's body is replaced.
pub(super) fn cached_list(v1: impl IntoResponse, entry: &Entry) -> ApiResult<Response> {
    let mut response = v1.into_response();
    if response.status() == StatusCode::OK {
        let page: CachedPage = serde_json::from_slice(&entry.data)
            .map_err(|e| ApiError::internal(format!("cached page is not a result page: {e}")))?;
        let list = List {
            data: page.items,
            page: PageInfo { next_cursor: page.next_cursor, has_more: page.has_more, limit: page.limit },
        };
        let body = serde_json::to_vec(&list).map_err(ApiError::internal)?;
        response.headers_mut().remove(CONTENT_LENGTH);
        *response.body_mut() = Body::from(body);
    }
    Ok(response)
}

/// A recall in a list or search page (the contract's `RecallItem`).
/// Documentation only: the items are `babyshield_domain::RecallItem`
/// serialized; absent optional fields are omitted, not `null`.
#[derive(utoipa::ToSchema)]
#[schema(as = RecallItem, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct RecallItemSchema {
    /// Prefixed by the agency: `CPSC-<RecallID>`, `FDA-<recall_number>`...
    id: String,
    agency_code: String,
    title: String,
    /// `YYYY-MM-DD`.
    recall_date: String,
    product_name: Option<String>,
    brand: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    model_number: Option<String>,
    upc: Option<String>,
    hazard: Option<String>,
    /// `drug|device|food|cosmetic|supplement|toy|baby_product|other`.
    risk_category: Option<String>,
    /// `low|medium|high|critical`.
    severity: Option<String>,
    /// `open|closed`.
    status: Option<String>,
    image_url: Option<String>,
    affected_countries: Option<Vec<String>>,
    country: Option<String>,
    /// RFC 3339.
    last_updated: Option<String>,
    source_url: Option<String>,
    description: Option<String>,
    url: Option<String>,
    /// `0..=1`; search results only.
    relevance_score: Option<f64>,
}

/// Is `path` under `/api/v2`?
fn is_v2(path: &str) -> bool {
    path.strip_prefix("/api/v2").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Middleware for every `/api/v2` response, wherever it was produced (a
/// handler, an extractor, the rate limiter, the timeout, the 404
/// fallback): `X-API-Version: v2`, and a v1 error envelope
/// `{"ok": false, "error": {...}, "traceId"}` becomes `{"error": {...}}`.
/// The error object itself is `ApiError`'s, untouched: same code, status,
/// message (opaque for 5xx) and `unknown`. Error bodies are never
/// compressed (see `middleware::apply`), so they can be read here.
pub(crate) async fn shape(req: Request, next: Next) -> Response {
    if !is_v2(req.uri().path()) {
        return next.run(req).await;
    }
    let mut response = next.run(req).await;
    response.headers_mut().insert(X_API_VERSION.clone(), HeaderValue::from_static(super::API_VERSION));
    let status = response.status();
    let json =
        response.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error())
        || !json
        || response.headers().contains_key(CONTENT_ENCODING)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            // Error bodies are built in memory; reading one cannot fail.
            let (_, body) =
                ApiError::internal(format!("cannot read an error body: {e}")).into_response().into_parts();
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
            to_bytes(body, usize::MAX).await.unwrap_or_default()
        }
    };
    let body = match without_v1_wrapping(&bytes) {
        Some(v2) => Body::from(v2),
        None => Body::from(bytes),
    };
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

/// `{"error": E}` from a v1 error envelope `{"ok": false, "error": E, ...}`;
/// `None` for anything else.
fn without_v1_wrapping(body: &[u8]) -> Option<Vec<u8>> {
    let serde_json::Value::Object(mut v1) = serde_json::from_slice(body).ok()? else { return None };
    if v1.get("ok") != Some(&serde_json::Value::Bool(false)) {
        return None;
    }
    let error = v1.remove("error")?;
    serde_json::to_vec(&serde_json::json!({ "error": error })).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_api_v2_paths_are_v2() {
        for path in ["/api/v2", "/api/v2/", "/api/v2/search", "/api/v2/nope/deeper"] {
            assert!(is_v2(path), "{path}");
        }
        for path in ["/api/v1/search/advanced", "/api/v20/search", "/api/v2x", "/health", "/"] {
            assert!(!is_v2(path), "{path}");
        }
    }

    #[test]
    fn v1_error_envelopes_lose_ok_and_trace_id_and_keep_the_error() {
        let v1 = br#"{"error":{"code":"BAD_REQUEST","message":"unknown fields: offset","unknown":["offset"]},"ok":false,"traceId":"t-1"}"#;
        let v2: serde_json::Value = serde_json::from_slice(&without_v1_wrapping(v1).unwrap()).unwrap();
        assert_eq!(
            v2,
            serde_json::json!({"error": {"code": "BAD_REQUEST", "message": "unknown fields: offset", "unknown": ["offset"]}})
        );
        assert!(without_v1_wrapping(br#"{"ok":true,"data":1}"#).is_none());
        assert!(without_v1_wrapping(br#"{"error":"x"}"#).is_none());
        assert!(without_v1_wrapping(b"not json").is_none());
    }

    #[test]
    fn family_pages_become_v2_lists() {
        let page = Page { items: vec![1, 2], next_cursor: Some("c".into()), has_more: true, limit: 2 };
        let list = serde_json::to_value(List::from(page)).unwrap();
        assert_eq!(
            list,
            serde_json::json!({"data": [1, 2], "page": {"nextCursor": "c", "hasMore": true, "limit": 2}})
        );
        let last = Page::<u8> { items: vec![], next_cursor: None, has_more: false, limit: 20 };
        let list = serde_json::to_value(List::from(last)).unwrap();
        assert_eq!(list["page"], serde_json::json!({"nextCursor": null, "hasMore": false, "limit": 20}));
    }
}
