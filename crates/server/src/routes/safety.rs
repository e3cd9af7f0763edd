//! The guardian's questions: `POST /api/v1/safety-check` (barcode or
//! product text, optionally for a family member), `POST /api/v1/scan/image`
//! (a photo of the barcode) and `POST /api/v1/search/bulk` (up to 50
//! barcodes). Anonymous callers may check products; a member, and the
//! opt-in scan history, need a bearer token.

use axum::{
    Router,
    extract::{DefaultBodyLimit, Multipart, State, multipart::MultipartError},
    routing::post,
};
use serde::Deserialize;

use crate::{
    accounts::AuthUser,
    envelope::Envelope,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    family::{BulkItem, SafetyCheckRequest, SafetyReport, ScanReport},
    state::AppState,
};

pub fn router(state: &AppState) -> Router<AppState> {
    // Photos are larger than other bodies: this route's own limit, a little
    // over the photo limit for the multipart framing.
    let photo_limit = state.config().family.scan_max_bytes + 64 * 1024;
    Router::new()
        .route("/api/v1/safety-check", post(safety_check))
        .route("/api/v1/scan/image", post(scan_image).layer(DefaultBodyLimit::max(photo_limit)))
        .route("/api/v1/search/bulk", post(bulk))
}

/// Is this product recalled, and is it a risk for this child? Verdict
/// `recalled`, `caution` or `no_known_recall`, the matched recalls (exact
/// GTIN, model number or fuzzy name, with confidence), and the member's
/// allergen and age warnings.
#[utoipa::path(post, path = "/api/v1/safety-check", tag = "family", request_body = SafetyCheckRequest,
    responses((status = 200, description = "The verdict", body = SafetyReport),
              (status = 400, description = "No barcode, productName or model; or a field is invalid"),
              (status = 401, description = "memberId given without a valid bearer token"),
              (status = 404, description = "No such family member of yours")))]
pub async fn safety_check(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    ApiJson(request): ApiJson<SafetyCheckRequest>,
) -> ApiResult<Envelope<SafetyReport>> {
    Ok(Envelope(state.family().safety_check(user.as_ref(), &request, "safety_check").await?))
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("photo is larger than the limit".into())
    } else {
        ApiError::BadRequest(format!("cannot read the multipart body: {}", e.body_text()))
    }
}

/// Finds the UPC/EAN/QR (GS1) barcode in a photo and answers like the
/// safety check. multipart/form-data with a `photo` part (JPEG, PNG or
/// WebP, at most `family.scan_max_bytes`, 8 MiB by default) and an optional
/// `memberId` part.
#[utoipa::path(post, path = "/api/v1/scan/image", tag = "family",
    request_body(content_type = "multipart/form-data", description = "parts: photo (image), memberId (optional)"),
    responses((status = 200, description = "The barcodes found and the verdict", body = ScanReport),
              (status = 400, description = "No photo part, or an unknown part"),
              (status = 413, description = "Photo over the byte limit"),
              (status = 422, description = "Not an image we read, too many pixels, truncated, or no product barcode found"),
              (status = 503, description = "Too many photos being decoded; retry")))]
pub async fn scan_image(
    State(state): State<AppState>,
    user: Option<AuthUser>,
    headers: axum::http::HeaderMap,
    mut multipart: Multipart,
) -> ApiResult<Envelope<ScanReport>> {
    let max = state.family().scan_max_bytes();
    // The photo is most of the body: reserve that once instead of growing
    // (and copying) the buffer chunk by chunk.
    let expected = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(0, |n| n.min(max));
    let mut photo: Option<Vec<u8>> = None;
    let mut member_id: Option<String> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "photo" | "image" | "file" => {
                if photo.is_some() {
                    return Err(ApiError::BadRequest("send one photo per request".into()));
                }
                let mut bytes = Vec::with_capacity(expected);
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if bytes.len() + chunk.len() > max {
                        return Err(ApiError::PayloadTooLarge(format!("photo is larger than {max} bytes")));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                photo = Some(bytes);
            }
            "memberId" => {
                let text = field.text().await.map_err(multipart_error)?;
                if text.len() > 64 {
                    return Err(ApiError::invalid("memberId", "is too long"));
                }
                member_id = Some(text.trim().to_string()).filter(|t| !t.is_empty());
            }
            _ => return Err(ApiError::UnknownFields(vec![name.chars().take(64).collect()])),
        }
    }
    let photo =
        photo.ok_or_else(|| ApiError::invalid("photo", "a multipart part named photo is required"))?;
    if photo.is_empty() {
        return Err(ApiError::invalid("photo", "is empty"));
    }
    Ok(Envelope(state.family().scan_image(user.as_ref(), photo.into(), member_id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// 1..50 barcodes (UPC/EAN/GTIN).
    pub barcodes: Vec<String>,
}

/// Looks up to 50 barcodes in one call, one result per barcode in the order
/// sent; an invalid barcode is reported in its own slot.
#[utoipa::path(post, path = "/api/v1/search/bulk", tag = "recalls", request_body = BulkRequest,
    responses((status = 200, description = "One result per barcode", body = Vec<BulkItem>),
              (status = 400, description = "Empty list or more than 50 barcodes")))]
pub async fn bulk(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<BulkRequest>,
) -> ApiResult<Envelope<Vec<BulkItem>>> {
    Ok(Envelope(state.family().bulk(&request.barcodes).await?))
}
