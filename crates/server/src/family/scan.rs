//! `POST /api/v1/scan/image`: find the barcode in a photo, then answer like
//! the safety check. Decoding is CPU- and memory-heavy, so it runs on the
//! blocking pool behind a bulkhead (`family.scan_concurrency` at once, at
//! most `family.scan_queue` waiting, more refused with 503) and a time
//! limit; byte and pixel limits are checked before the full decode (in
//! `babyshield-scan`), so a decompression bomb costs nothing.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use babyshield_scan::{ScanError, ScanLimits, ScanOutcome};
use serde::Serialize;

use super::{Family, FamilyConfig, SafetyCheckRequest, SafetyReport};
use crate::{
    accounts::AuthUser,
    error::ApiError,
    resilience::{Bulkhead, Entered},
};

pub(super) struct Scanner {
    /// Requests decoding or waiting to.
    bulkhead: Bulkhead,
    timeout: Duration,
    limits: ScanLimits,
}

/// A barcode found in the photo.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageScan {
    /// ean_13, upc_a, qr_code, ...
    pub format: String,
    pub text: String,
    /// The GTIN it carries, if it is a product code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
}

/// The answer of an image scan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    pub barcodes: Vec<ImageScan>,
    pub width: u32,
    pub height: u32,
    /// The safety check of the first product code found.
    pub safety: SafetyReport,
}

impl Scanner {
    pub(super) fn new(config: &FamilyConfig) -> Scanner {
        Scanner {
            bulkhead: Bulkhead::new(config.scan_concurrency, config.scan_queue),
            timeout: Duration::from_millis(config.scan_timeout_ms),
            limits: ScanLimits {
                max_bytes: config.scan_max_bytes,
                max_pixels: config.scan_max_pixels,
                ..ScanLimits::default()
            },
        }
    }

    pub(super) fn max_bytes(&self) -> usize {
        self.limits.max_bytes
    }

    /// Decodes `photo` off the async threads, within the bulkhead and the
    /// time limit.
    async fn decode(&self, photo: Bytes) -> Result<ScanOutcome, ApiError> {
        let busy = || ApiError::Unavailable {
            public: "too many photos are being decoded, retry shortly".into(),
            cause: "scan bulkhead full".into(),
        };
        let Some(Entered { admission, permit }) = self.bulkhead.enter().await else {
            metrics::counter!("scan_images_total", "outcome" => "shed").increment(1);
            return Err(busy());
        };
        let limits = self.limits.clone();
        let started = Instant::now();
        // The permit moves into the blocking task: a decode that outlives
        // the time limit still holds its slot until it really ends.
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            babyshield_scan::scan(&photo, &limits)
        });
        let result = match tokio::time::timeout(self.timeout, task).await {
            Err(_) => {
                metrics::counter!("scan_images_total", "outcome" => "timeout").increment(1);
                return Err(ApiError::Unprocessable(
                    "photo: took too long to decode; send a smaller or sharper photo of the barcode".into(),
                ));
            }
            Ok(Err(join)) => return Err(ApiError::internal(format!("image decoder task failed: {join}"))),
            Ok(Ok(result)) => result,
        };
        drop(admission);
        metrics::histogram!("scan_image_decode_seconds").record(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(_) => "decoded",
            Err(ScanError::NoBarcode) => "no_barcode",
            Err(_) => "rejected",
        };
        metrics::counter!("scan_images_total", "outcome" => outcome).increment(1);
        result.map_err(|e| match e {
            ScanError::TooLarge { .. } => ApiError::PayloadTooLarge(format!("photo: {e}")),
            other => ApiError::Unprocessable(format!("photo: {other}")),
        })
    }
}

impl Family {
    pub fn scan_max_bytes(&self) -> usize {
        self.scanner.max_bytes()
    }

    /// Decodes the photo and runs the safety check on its product code.
    pub async fn scan_image(
        &self,
        user: Option<&AuthUser>,
        photo: Bytes,
        member_id: Option<String>,
    ) -> Result<ScanReport, ApiError> {
        if member_id.is_some() && user.is_none() {
            // Refused before the costly decode, not after.
            return Err(ApiError::Unauthorized("checking for a family member needs a bearer token".into()));
        }
        let outcome = self.scanner.decode(photo).await?;
        let barcodes: Vec<ImageScan> = outcome
            .codes
            .iter()
            .map(|code| ImageScan {
                format: code.format.to_string(),
                text: code.text.chars().take(200).collect(),
                gtin: code
                    .product_code()
                    .and_then(|digits| babyshield_domain::Gtin::parse(&digits).ok())
                    .map(|g| g.as_str().to_string()),
            })
            .collect();
        let Some(gtin) = barcodes.iter().find_map(|b| b.gtin.clone()) else {
            let found: Vec<&str> = barcodes.iter().map(|b| b.format.as_str()).collect();
            return Err(ApiError::Unprocessable(format!(
                "photo: no product barcode (UPC, EAN or GS1) found; found {}",
                found.join(", ")
            )));
        };
        let request = SafetyCheckRequest { barcode: Some(gtin), member_id, ..SafetyCheckRequest::default() };
        let safety = self.safety_check(user, &request, "image_scan").await?;
        Ok(ScanReport { barcodes, width: outcome.width, height: outcome.height, safety })
    }
}

#[cfg(test)]
mod tests {
    use babyshield_scan_testkit::{BarcodeFormat, canvas, png, render};

    use super::*;

    fn photo() -> Bytes {
        let code = render("9340431297480", BarcodeFormat::EAN_13, 3, 120, 30);
        png(&canvas(600, 300, &[(&code, 50, 60)])).into()
    }

    fn scanner(tweak: impl FnOnce(&mut FamilyConfig)) -> Scanner {
        let mut config = FamilyConfig::default();
        tweak(&mut config);
        Scanner::new(&config)
    }

    #[tokio::test]
    async fn decodes_off_the_async_threads() {
        let outcome = scanner(|_| {}).decode(photo()).await.unwrap();
        assert_eq!(outcome.codes[0].text, "9340431297480");
        assert_eq!(scanner(|_| {}).bulkhead.admitted(), 0);
    }

    #[tokio::test]
    async fn a_full_bulkhead_sheds_with_503_and_lets_go_after() {
        let scanner = scanner(|c| {
            c.scan_concurrency = 1;
            c.scan_queue = 0;
        });
        // Room for one request. The decoder slot is taken from outside, so
        // the first request waits for it, and the second is shed.
        let Entered { admission, permit: held } = scanner.bulkhead.enter().await.unwrap();
        drop(admission);
        let waiting = scanner.decode(photo());
        tokio::pin!(waiting);
        assert!(futures::poll!(&mut waiting).is_pending(), "queued behind the busy decoder");
        let err = scanner.decode(photo()).await.unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        drop(held);
        assert_eq!(waiting.await.unwrap().codes[0].text, "9340431297480");
        assert_eq!(scanner.bulkhead.admitted(), 0, "every admission is counted out");
    }

    #[tokio::test]
    async fn a_decode_over_the_time_limit_is_a_422_and_keeps_its_slot_until_done() {
        let scanner = scanner(|c| {
            c.scan_timeout_ms = 1;
            c.scan_concurrency = 1;
        });
        let big = {
            let code = render("9340431297480", BarcodeFormat::EAN_13, 6, 300, 30);
            png(&canvas(4000, 3000, &[(&code, 100, 100)]))
        };
        let err = scanner.decode(big.into()).await.unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.to_string().contains("too long"), "{err}");
        // The abandoned decode still holds the only slot until it finishes.
        assert_eq!(scanner.bulkhead.free_slots(), 0);
        assert!(scanner.bulkhead.enter().await.is_some());
    }
}
