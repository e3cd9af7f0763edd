//! Test images for barcode scanning, shared by the scanner's tests and the
//! server's: render real barcodes with rxing's writers, degrade them like a
//! photo would, and encode them in memory. No fixture files. Test-only: no
//! crate depends on this outside `[dev-dependencies]`.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, ImageFormat, Luma};
pub use rxing::BarcodeFormat;
use rxing::{MultiFormatWriter, Writer};

/// Renders `contents` as `format`, `scale` pixels per module, with a `margin` of white pixels
/// around it. 1D codes get `bar_height` pixels of bar height.
pub fn render(contents: &str, format: BarcodeFormat, scale: u32, bar_height: u32, margin: u32) -> GrayImage {
    let matrix =
        MultiFormatWriter.encode(contents, &format, 0, 0).expect("rxing can encode the test payload");
    let (mw, mh) = (matrix.width(), matrix.height());
    // 1D writers return a one-row matrix: stretch it to the requested bar height.
    let (row_height, rows) = if mh == 1 { (bar_height, 1) } else { (scale, mh) };
    let width = mw * scale + 2 * margin;
    let height = rows * row_height + 2 * margin;
    let mut img = GrayImage::from_pixel(width, height, Luma([255]));
    for my in 0..rows {
        for mx in 0..mw {
            if matrix.get(mx, my) {
                for dy in 0..row_height {
                    for dx in 0..scale {
                        img.put_pixel(margin + mx * scale + dx, margin + my * row_height + dy, Luma([0]));
                    }
                }
            }
        }
    }
    img
}

/// A larger, "photo-like" gray canvas with a soft gradient, with `items` pasted at their offsets.
pub fn canvas(width: u32, height: u32, items: &[(&GrayImage, u32, u32)]) -> GrayImage {
    let mut img =
        GrayImage::from_fn(width, height, |x, y| Luma([(120 + (x * 40 / width) + (y * 30 / height)) as u8]));
    for (item, x, y) in items {
        image::imageops::replace(&mut img, *item, i64::from(*x), i64::from(*y));
    }
    img
}

/// Deterministic 64-bit LCG (Knuth MMIX constants).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed)
    }
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }
}

/// Adds mild gaussian-ish noise (sum of three uniforms, about +-`amplitude`) to every pixel and
/// flips `salt_pepper_per_mille` pixels per thousand to pure black or white. One LCG step per
/// pixel keeps this quick in debug builds.
pub fn add_noise(img: &mut GrayImage, seed: u64, amplitude: i32, salt_pepper_per_mille: u32) {
    let mut rng = Lcg::new(seed);
    for p in img.pixels_mut() {
        let r = rng.next_u32();
        if (r >> 22) % 1000 < salt_pepper_per_mille {
            p[0] = if r & 1 == 0 { 0 } else { 255 };
            continue;
        }
        // Three 7-bit uniforms summed: 0..=381, bell-shaped around 190.
        let sum = (r & 0x7F) + ((r >> 7) & 0x7F) + ((r >> 14) & 0x7F);
        let n = (sum as i32 - 190) * amplitude / 190;
        p[0] = (i32::from(p[0]) + n).clamp(0, 255) as u8;
    }
}

pub fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).expect("png encode");
    out.into_inner()
}

pub fn jpeg(img: &GrayImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(img).expect("jpeg encode");
    out
}

/// JPEG of an RGB version of the image (phone photos are colour JPEGs).
pub fn jpeg_rgb(img: &GrayImage, quality: u8) -> Vec<u8> {
    let rgb = image::DynamicImage::ImageLuma8(img.clone()).into_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(&rgb).expect("jpeg encode");
    out
}

pub fn webp_lossless(img: &GrayImage) -> Vec<u8> {
    let rgb = image::DynamicImage::ImageLuma8(img.clone()).into_rgb8();
    let mut out = Cursor::new(Vec::new());
    rgb.write_to(&mut out, ImageFormat::WebP).expect("webp encode");
    out.into_inner()
}

/// CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), bitwise: tiny and enough for a few chunks.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc_input);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

/// A structurally valid PNG header declaring `width x height` 8-bit RGB, with a few bytes of
/// (valid zlib, far too short) IDAT: a decompression bomb's shape without the payload.
pub fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // bit depth 8, RGB, deflate, adaptive filter, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream: header 78 9C, one stored empty final block, adler32 of "" = 1.
    chunk(&mut out, b"IDAT", &[0x78, 0x9C, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Rewrites the frame size in the first SOF0/SOF2 segment of a JPEG.
pub fn patch_jpeg_dimensions(mut jpeg: Vec<u8>, width: u16, height: u16) -> Vec<u8> {
    let pos = jpeg
        .windows(2)
        .position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2))
        .expect("the encoder writes a SOF segment");
    // FF C0, length (2), precision (1), height (2), width (2)
    jpeg[pos + 5..pos + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[pos + 7..pos + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

/// A `multipart/form-data` body from `(name, filename, bytes)` parts, as a
/// phone app uploads a photo; returns (content type, body).
pub fn multipart_form(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "babyshield-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(file) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
