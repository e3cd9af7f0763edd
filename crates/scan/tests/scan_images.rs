//! Real barcodes rendered with rxing's writers, encoded as PNG/JPEG/WebP in memory, then scanned.

use babyshield_scan::{Decoded, ScanLimits, ScanOutcome, Symbology, scan};
use babyshield_scan_testkit::*;
use image::imageops;

fn scan_ok(bytes: &[u8]) -> ScanOutcome {
    match scan(bytes, &ScanLimits::default()) {
        Ok(outcome) => outcome,
        Err(e) => panic!("expected a barcode, got {e:?}"),
    }
}

fn only_code(outcome: &ScanOutcome) -> &Decoded {
    assert_eq!(outcome.codes.len(), 1, "expected exactly one code, got {:?}", outcome.codes);
    &outcome.codes[0]
}

#[test]
fn ean13_in_png() {
    let img = render("5012345678900", BarcodeFormat::EAN_13, 3, 120, 40);
    let outcome = scan_ok(&png(&img));
    let code = only_code(&outcome);
    assert_eq!(code.format, Symbology::Ean13);
    assert_eq!(code.text, "5012345678900");
    assert_eq!(code.product_code().as_deref(), Some("5012345678900"));
    assert_eq!((outcome.width, outcome.height), img.dimensions());
}

#[test]
fn upca_from_sample_data_in_noisy_jpeg() {
    let mut img = render("642105759904", BarcodeFormat::UPC_A, 3, 150, 50);
    add_noise(&mut img, 7, 40, 5);
    let outcome = scan_ok(&jpeg(&img, 70));
    let code = only_code(&outcome);
    assert_eq!(code.format, Symbology::UpcA);
    assert_eq!(code.text, "642105759904");
    assert_eq!(code.product_code().as_deref(), Some("642105759904"));
}

#[test]
fn ean8_in_png() {
    let img = render("96385074", BarcodeFormat::EAN_8, 3, 100, 40);
    let code = only_code(&scan_ok(&png(&img))).clone();
    assert_eq!(code.format, Symbology::Ean8);
    assert_eq!(code.text, "96385074");
    assert_eq!(code.product_code().as_deref(), Some("96385074"));
}

#[test]
fn upce_is_expanded_to_upca() {
    let img = render("01234565", BarcodeFormat::UPC_E, 3, 100, 40);
    let code = only_code(&scan_ok(&png(&img))).clone();
    assert_eq!(code.format, Symbology::UpcE);
    assert_eq!(code.text, "01234565");
    assert_eq!(code.product_code().as_deref(), Some("012345000065"));
}

#[test]
fn qr_with_gs1_digital_link_in_jpeg() {
    let url = "https://id.gs1.org/01/09506000134352/10/ABC123?17=271231";
    let img = render(url, BarcodeFormat::QR_CODE, 6, 0, 40);
    let code = only_code(&scan_ok(&jpeg_rgb(&img, 75))).clone();
    assert_eq!(code.format, Symbology::Qr);
    assert_eq!(code.text, url);
    assert_eq!(code.product_code().as_deref(), Some("09506000134352"));
}

#[test]
fn gs1_128_with_fnc1_yields_the_ai01_gtin() {
    // U+00F1 is rxing's FNC1 escape: a real GS1-128 symbol carrying (01)09506000134352(10)ABC.
    let img = render("\u{f1}0109506000134352\u{f1}10ABC", BarcodeFormat::CODE_128, 3, 120, 40);
    let code = only_code(&scan_ok(&png(&img))).clone();
    assert_eq!(code.format, Symbology::Code128);
    assert!(code.text.starts_with("0109506000134352"), "{:?}", code.text);
    assert!(code.text.ends_with("10ABC"), "{:?}", code.text);
    assert_eq!(code.product_code().as_deref(), Some("09506000134352"));
}

#[test]
fn datamatrix_with_gs1_element_string() {
    let img = render("0109506000134352", BarcodeFormat::DATA_MATRIX, 8, 0, 40);
    let code = only_code(&scan_ok(&png(&img))).clone();
    assert_eq!(code.format, Symbology::DataMatrix);
    assert_eq!(code.text, "0109506000134352");
    assert_eq!(code.product_code().as_deref(), Some("09506000134352"));
}

#[test]
fn ean13_rotated_90_degrees() {
    let img = imageops::rotate90(&render("5012345678900", BarcodeFormat::EAN_13, 3, 120, 40));
    assert!(img.height() > img.width());
    let code = only_code(&scan_ok(&png(&img))).clone();
    assert_eq!((code.format, code.text.as_str()), (Symbology::Ean13, "5012345678900"));
}

#[test]
fn upca_rotated_180_degrees_with_noise() {
    let mut img = imageops::rotate180(&render("642105759904", BarcodeFormat::UPC_A, 3, 120, 40));
    add_noise(&mut img, 99, 30, 3);
    let code = only_code(&scan_ok(&jpeg(&img, 80))).clone();
    assert_eq!((code.format, code.text.as_str()), (Symbology::UpcA, "642105759904"));
}

#[test]
fn ean8_rotated_270_degrees() {
    let img = imageops::rotate270(&render("96385074", BarcodeFormat::EAN_8, 3, 100, 40));
    let code = only_code(&scan_ok(&png(&img))).clone();
    assert_eq!((code.format, code.text.as_str()), (Symbology::Ean8, "96385074"));
}

#[test]
fn photo_sized_noisy_jpeg_uses_the_downscaled_pass() {
    // 3000x2000 like a (small) phone photo; the code covers a fraction of it, at 8 px per module,
    // i.e. 4 px per module on the 1500 px pass.
    let code_img = render("5012345678900", BarcodeFormat::EAN_13, 8, 400, 60);
    let mut photo = canvas(3000, 2000, &[(&code_img, 1100, 700)]);
    add_noise(&mut photo, 2024, 24, 2);
    let outcome = scan_ok(&jpeg_rgb(&photo, 60));
    assert_eq!((outcome.width, outcome.height), (3000, 2000));
    let code = only_code(&outcome);
    assert_eq!((code.format.clone(), code.text.as_str()), (Symbology::Ean13, "5012345678900"));
}

#[test]
fn with_two_product_codes_one_of_them_is_returned() {
    // The single-code reader answers first; one product code is enough.
    let ean = render("642105759904", BarcodeFormat::UPC_A, 3, 150, 30);
    let qr = render("https://example.com/p/01/09506000134352", BarcodeFormat::QR_CODE, 6, 0, 30);
    let img = canvas(1400, 700, &[(&ean, 60, 200), (&qr, 900, 150)]);
    let outcome = scan_ok(&png(&img));
    assert_eq!(outcome.codes.len(), 1, "{:?}", outcome.codes);
    let product = outcome.codes[0].product_code();
    assert!(matches!(product.as_deref(), Some("642105759904" | "09506000134352")), "{:?}", outcome.codes);
}

#[test]
fn a_qr_without_a_product_does_not_hide_the_ean_beside_it() {
    // Whatever the single reader sees first, the product code is found.
    let ean = render("642105759904", BarcodeFormat::UPC_A, 3, 150, 30);
    let qr = render("https://example.com/help/contact-us", BarcodeFormat::QR_CODE, 8, 0, 30);
    let img = canvas(1400, 700, &[(&qr, 60, 100), (&ean, 800, 200)]);
    let outcome = scan_ok(&png(&img));
    assert!(
        outcome.codes.iter().any(|c| c.product_code().as_deref() == Some("642105759904")),
        "{:?}",
        outcome.codes
    );
}

#[test]
fn black_code_on_transparent_png_is_read_against_white() {
    // Black bars on a fully transparent background: a plain luma conversion would give black on
    // black. The scanner composites on white first.
    let gray = render("5012345678900", BarcodeFormat::EAN_13, 3, 120, 40);
    let rgba = image::RgbaImage::from_fn(gray.width(), gray.height(), |x, y| {
        if gray.get_pixel(x, y)[0] == 0 { image::Rgba([0, 0, 0, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    rgba.write_to(&mut bytes, image::ImageFormat::Png).expect("png encode");
    let code = only_code(&scan_ok(bytes.get_ref())).clone();
    assert_eq!((code.format, code.text.as_str()), (Symbology::Ean13, "5012345678900"));
}

#[test]
fn webp_is_supported() {
    let img = render("96385074", BarcodeFormat::EAN_8, 3, 100, 40);
    let code = only_code(&scan_ok(&webp_lossless(&img))).clone();
    assert_eq!((code.format, code.text.as_str()), (Symbology::Ean8, "96385074"));
}
