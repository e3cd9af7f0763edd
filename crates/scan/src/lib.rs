//! Finds product barcodes in a photo.
//!
//! Pure and synchronous: [`scan`] takes the bytes of an uploaded image and returns the distinct
//! codes found in it. It is CPU-bound: in a release build on one core, about 0.1 s for a 1500 px
//! image without a code, 0.25-0.4 s when a code is found, and up to ~0.8 s for a 12-40 MP photo
//! without one (both passes run). An async caller should run it on a blocking thread with its own
//! concurrency limit and timeout. Debug builds are 10-20x slower.
//!
//! # Pipeline
//!
//! 1. **Byte limit** ([`ScanLimits::max_bytes`]) before anything else.
//! 2. **Format** from the magic bytes only (never from a name or a content type). JPEG, PNG and
//!    WebP are decoded; anything else is [`ScanError::UnsupportedFormat`].
//! 3. **Header check**: the dimensions are read from the image header alone and checked against
//!    [`ScanLimits::max_dimension`] and [`ScanLimits::max_pixels`] *before* any pixel buffer is
//!    allocated, so a decompression bomb (a tiny PNG declaring 60000 x 60000) is refused at once.
//!    The decoder then also gets `image::Limits` (width, height, allocation) as a second guard.
//! 4. **Decode** to 8-bit grayscale (transparent pixels are composited on white, so a black
//!    barcode on a transparent background stays visible).
//! 5. **Detect** with rxing's single-code reader (about ten times cheaper), falling back to its
//!    multi-barcode reader when that finds nothing or a code naming no product (a plain URL QR),
//!    in "try harder" mode, restricted to the
//!    symbologies found on retail products: EAN-13, EAN-8, UPC-A, UPC-E, Code 128, GS1 DataBar
//!    (+ Expanded), QR and DataMatrix. In try-harder mode the 1D readers also scan the image
//!    rotated by 90 degrees and read rows in both directions (so 90/180/270 degrees are covered);
//!    QR and DataMatrix are rotation-invariant. No extra rotated copies are made.
//!
//!    Images whose longest side exceeds 2000 px (phone photos) are first scanned as a
//!    1500 px copy, which is faster and usually more robust; only when that finds nothing is the
//!    image scanned at full resolution, itself capped at a 4096 px longest side. At most two
//!    passes are made, so the work per call is bounded whatever the upload.
//!
//! Distinct `(symbology, text)` pairs are returned in the order found. [`Decoded::product_code`]
//! turns a code into GTIN digits (EAN/UPC directly, UPC-E expanded, GS1 element strings and GS1
//! Digital Link URIs in QR/DataMatrix/Code 128) for the caller to validate.
//!
//! # Robustness
//!
//! Decoding and detection run under [`std::panic::catch_unwind`]: a panic inside `image` or
//! `rxing` on hostile input becomes [`ScanError::Corrupt`] (this needs the default
//! `panic = "unwind"`; the default panic hook still prints the panic to stderr). Every error's
//! `Display` is short and safe to show to an end user.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod code;

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{DynamicImage, GrayImage, ImageError, ImageReader, Pixel};
use rxing::{BarcodeFormat, DecodeHints};

pub use code::{Decoded, Symbology};

/// Images whose longest side is above this get a downscaled first pass.
const DOWNSCALE_ABOVE: u32 = 2000;
/// Longest side of the downscaled first pass.
const FAST_PASS_SIDE: u32 = 1500;
/// Longest side of the second ("full resolution") pass; larger images are reduced to this.
const MAX_PASS_SIDE: u32 = 4096;
/// Longest length of a decoder message carried in [`ScanError::Corrupt`].
const MAX_DETAIL_CHARS: usize = 160;

/// Resource limits for one [`scan`] call. Every check happens before the expensive step it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLimits {
    /// Maximum size of the encoded upload, in bytes. Default 10 MiB.
    pub max_bytes: usize,
    /// Maximum `width * height` declared by the image header. Default 40 000 000 (a 12 MP phone
    /// photo is 12 000 000; 48 MP "full resolution" photos are refused).
    pub max_pixels: u64,
    /// Maximum width or height declared by the image header, in pixels. Default 12 000.
    pub max_dimension: u32,
    /// Maximum bytes the decoder may allocate for the decoded image (`image::Limits::max_alloc`).
    /// Default 256 MiB (a 40 MP RGB image needs 120 MB; the grayscale copy is extra, at most
    /// `max_pixels` bytes).
    pub max_alloc_bytes: u64,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            max_bytes: 10 * 1024 * 1024,
            max_pixels: 40_000_000,
            max_dimension: 12_000,
            max_alloc_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The result of a successful [`scan`]: at least one code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanOutcome {
    /// Distinct codes, in the order found.
    pub codes: Vec<Decoded>,
    /// Width of the decoded image, in pixels (as stored, before any EXIF orientation).
    pub width: u32,
    /// Height of the decoded image, in pixels.
    pub height: u32,
}

/// Why a scan produced no codes. `Display` messages are meant for end users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The upload is larger than [`ScanLimits::max_bytes`].
    #[error("the image is too large ({bytes} bytes; the limit is {max} bytes)")]
    TooLarge {
        /// Size of the upload.
        bytes: usize,
        /// The limit it exceeded.
        max: usize,
    },
    /// The declared dimensions exceed [`ScanLimits::max_pixels`] or [`ScanLimits::max_dimension`]
    /// (or decoding would exceed [`ScanLimits::max_alloc_bytes`]).
    #[error("the image dimensions {width}x{height} are too large (the limit is {max_pixels} pixels)")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The configured [`ScanLimits::max_pixels`].
        max_pixels: u64,
    },
    /// Not a JPEG, PNG or WebP file.
    #[error("unsupported image format; please upload a JPEG, PNG or WebP photo")]
    UnsupportedFormat,
    /// A recognised format whose data is truncated or invalid.
    #[error("the image file is damaged or incomplete: {0}")]
    Corrupt(String),
    /// The image decoded fine but no supported barcode was found.
    #[error("no barcode was found in the image")]
    NoBarcode,
}

impl ScanError {
    /// A stable machine-readable name for the error (for API error codes and metrics labels).
    pub fn kind(&self) -> &'static str {
        match self {
            ScanError::TooLarge { .. } => "too_large",
            ScanError::TooManyPixels { .. } => "too_many_pixels",
            ScanError::UnsupportedFormat => "unsupported_format",
            ScanError::Corrupt(_) => "corrupt",
            ScanError::NoBarcode => "no_barcode",
        }
    }
}

/// Finds the barcodes in an encoded image (JPEG, PNG or WebP). See the crate docs for the
/// pipeline and the order of the limit checks.
pub fn scan(bytes: &[u8], limits: &ScanLimits) -> Result<ScanOutcome, ScanError> {
    if bytes.len() > limits.max_bytes {
        return Err(ScanError::TooLarge { bytes: bytes.len(), max: limits.max_bytes });
    }

    let format = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ScanError::Corrupt(detail(&e)))?
        .format();
    match format {
        Some(f) if f.reading_enabled() => {}
        _ => return Err(ScanError::UnsupportedFormat),
    }

    let (width, height) = header_dimensions(bytes, limits)?;
    check_dimensions(width, height, limits)?;

    let decoded = catch_unwind(AssertUnwindSafe(|| decode_and_detect(bytes, limits, width, height)));
    match decoded {
        Ok(result) => result,
        Err(_panic) => Err(ScanError::Corrupt("the decoder failed on malformed data".to_owned())),
    }
}

fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, ScanError> {
    ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| ScanError::Corrupt(detail(&e)))
}

/// Reads the dimensions from the header only. Allocation stays bounded (PNG text/ICC chunks
/// before the first IDAT are capped by `max_alloc_bytes`), but no width/height limit is set here
/// so that an oversized image reports its declared size rather than a generic limit error.
fn header_dimensions(bytes: &[u8], limits: &ScanLimits) -> Result<(u32, u32), ScanError> {
    let mut header = reader(bytes)?;
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(limits.max_alloc_bytes);
    header.limits(header_limits);
    catch_unwind(AssertUnwindSafe(|| header.into_dimensions()))
        .map_err(|_| ScanError::Corrupt("the image header could not be read".to_owned()))?
        .map_err(|e| match e {
            // No width/height limit is set here: only oversized metadata chunks can hit a limit.
            ImageError::Limits(_) => ScanError::Corrupt("the image metadata is too large".to_owned()),
            other => map_image_error(other, 0, 0, limits),
        })
}

fn check_dimensions(width: u32, height: u32, limits: &ScanLimits) -> Result<(), ScanError> {
    if width == 0 || height == 0 {
        return Err(ScanError::Corrupt("the image has no pixels".to_owned()));
    }
    if width > limits.max_dimension
        || height > limits.max_dimension
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(ScanError::TooManyPixels { width, height, max_pixels: limits.max_pixels });
    }
    Ok(())
}

fn decode_and_detect(
    bytes: &[u8],
    limits: &ScanLimits,
    width: u32,
    height: u32,
) -> Result<ScanOutcome, ScanError> {
    let mut decoding = reader(bytes)?;
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(limits.max_dimension);
    decode_limits.max_image_height = Some(limits.max_dimension);
    decode_limits.max_alloc = Some(limits.max_alloc_bytes);
    decoding.limits(decode_limits);
    let image = decoding.decode().map_err(|e| map_image_error(e, width, height, limits))?;
    // The header and the decoder agree for every supported format; re-check in case one day not.
    check_dimensions(image.width(), image.height(), limits)?;

    let gray = to_gray(image);
    let (width, height) = gray.dimensions();
    let codes = detect(gray);
    if codes.is_empty() {
        return Err(ScanError::NoBarcode);
    }
    Ok(ScanOutcome { codes, width, height })
}

/// 8-bit grayscale; transparent pixels are composited on white.
fn to_gray(image: DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.into_luma8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut gray = GrayImage::new(w, h);
    for (dst, src) in gray.pixels_mut().zip(rgba.pixels()) {
        let luma = u32::from(src.to_luma()[0]);
        let alpha = u32::from(src[3]);
        // luma*a + 255*(255-a), divided by 255 with rounding; result is always <= 255.
        dst[0] = ((luma * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
    }
    gray
}

/// Runs at most two passes (downscaled, then capped full resolution) and stops at the first pass
/// that finds anything.
fn detect(gray: GrayImage) -> Vec<Decoded> {
    let (w, h) = gray.dimensions();
    let longest = w.max(h);
    if longest <= DOWNSCALE_ABOVE {
        return detect_pass(gray);
    }
    let found = detect_pass(shrink(&gray, FAST_PASS_SIDE));
    if !found.is_empty() {
        return found;
    }
    if longest <= MAX_PASS_SIDE { detect_pass(gray) } else { detect_pass(shrink(&gray, MAX_PASS_SIDE)) }
}

/// Downscales so that the longest side is `side` (box-filter thumbnail: fast, and averaging keeps
/// thin bars rather than aliasing them away).
fn shrink(gray: &GrayImage, side: u32) -> GrayImage {
    let (w, h) = gray.dimensions();
    let longest = w.max(h);
    let scale = |v: u32| ((u64::from(v) * u64::from(side) / u64::from(longest)) as u32).max(1);
    image::imageops::thumbnail(gray, scale(w), scale(h))
}

fn product_formats() -> std::collections::HashSet<BarcodeFormat> {
    [
        BarcodeFormat::EAN_13,
        BarcodeFormat::EAN_8,
        BarcodeFormat::UPC_A,
        BarcodeFormat::UPC_E,
        BarcodeFormat::CODE_128,
        BarcodeFormat::RSS_14,
        BarcodeFormat::RSS_EXPANDED,
        BarcodeFormat::QR_CODE,
        BarcodeFormat::DATA_MATRIX,
    ]
    .into_iter()
    .collect()
}

fn detect_pass(gray: GrayImage) -> Vec<Decoded> {
    let (w, h) = gray.dimensions();
    let mut hints =
        DecodeHints { TryHarder: Some(true), PossibleFormats: Some(product_formats()), ..Default::default() };
    // The common case, one product code on the package, is about ten times
    // cheaper to find with the single-code reader; the multi-code search
    // runs only when that finds nothing or a code that names no product
    // (a QR with a plain URL next to the EAN).
    if let Ok(result) =
        rxing::helpers::detect_in_luma_with_hints(gray.as_raw().clone(), w, h, None, &mut hints)
    {
        let code = Decoded {
            format: Symbology::from_rxing(*result.getBarcodeFormat()),
            text: result.getText().to_owned(),
        };
        if !code.text.is_empty() && code.product_code().is_some() {
            return vec![code];
        }
    }
    let results = match rxing::helpers::detect_multiple_in_luma_with_hints(gray.into_raw(), w, h, &mut hints)
    {
        Ok(results) => results,
        // NotFound, and checksum/format failures of a half-read code, all mean "nothing usable".
        Err(_) => return Vec::new(),
    };
    let mut codes: Vec<Decoded> = Vec::with_capacity(results.len());
    for result in results {
        let code = Decoded {
            format: Symbology::from_rxing(*result.getBarcodeFormat()),
            text: result.getText().to_owned(),
        };
        if !code.text.is_empty() && !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

fn map_image_error(err: ImageError, width: u32, height: u32, limits: &ScanLimits) -> ScanError {
    match err {
        ImageError::Unsupported(_) => ScanError::UnsupportedFormat,
        ImageError::Limits(_) => ScanError::TooManyPixels { width, height, max_pixels: limits.max_pixels },
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ScanError::Corrupt("the file ends before the image data is complete".to_owned())
        }
        other => ScanError::Corrupt(detail(&other)),
    }
}

/// A decoder message, shortened and restricted to one printable line. Messages come from in-memory
/// decoding, so they never contain file paths.
fn detail(err: &dyn std::fmt::Display) -> String {
    let text = err.to_string();
    let mut out: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_DETAIL_CHARS).collect();
    if text.chars().count() > MAX_DETAIL_CHARS {
        out.push_str("...");
    }
    out
}
