//! Issue: family safety, barcode photos. Real images rendered in the test
//! (several symbologies, rotated, noisy, photo-sized), sent as multipart to
//! `POST /api/v1/scan/image`; bad and hostile images get clear 4xx.

use babyshield_scan_testkit::{
    BarcodeFormat, add_noise, canvas, jpeg, multipart_form, png, png_header_only, render,
};
use image::imageops;
use serde_json::{Value, json};

use crate::{
    family::{call, fixture_recalls, signup},
    harness::{Db, TestApp},
};

crate::on_both_databases!(
    photo_of_a_recalled_barcode_gets_the_verdict_for_the_child,
    unreadable_photos_get_clear_errors
);

async fn upload(app: &TestApp, token: Option<&str>, parts: &[(&str, Option<&str>, &[u8])]) -> (u16, Value) {
    let (content_type, body) = multipart_form(parts);
    let mut request =
        app.client.post(app.url("/api/v1/scan/image")).header("content-type", content_type).body(body);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn photo_of_a_recalled_barcode_gets_the_verdict_for_the_child(db: Db) {
    let app = TestApp::spawn(db).await;
    app.import(&fixture_recalls()).await;
    let token = signup(&app, "parent@example.com").await;
    let (_, mia) = call(
        &app,
        "POST",
        "/api/v1/family/members",
        &token,
        Some(json!({"name": "Mia", "ageMonths": 14, "allergies": ["cow's milk"]})),
    )
    .await;
    let mia = mia["data"]["id"].as_str().unwrap().to_string();

    // A photo-sized, noisy JPEG with the EAN-13 of the recalled rusks.
    let code = render("9340431297480", BarcodeFormat::EAN_13, 4, 200, 40);
    let mut photo = canvas(2400, 1800, &[(&code, 700, 600)]);
    add_noise(&mut photo, 7, 12, 2);
    let (status, body) = upload(
        &app,
        Some(&token),
        &[("photo", Some("p.jpg"), &jpeg(&photo, 80)), ("memberId", None, mia.as_bytes())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["barcodes"][0]["gtin"], "09340431297480");
    assert_eq!((data["width"].as_u64(), data["height"].as_u64()), (Some(2400), Some(1800)));
    assert_eq!(data["safety"]["verdict"], "recalled");
    assert_eq!(data["safety"]["allergenWarnings"][0]["allergen"], "milk");
    assert!(data["safety"]["summary"].as_str().unwrap().contains("Mia is allergic to milk"), "{data}");

    // Other symbologies and orientations: UPC-A rotated, a GS1 QR code, anonymous.
    let upc = imageops::rotate90(&render("012345678905", BarcodeFormat::UPC_A, 3, 150, 30));
    let (status, body) =
        upload(&app, None, &[("photo", Some("u.png"), &png(&canvas(900, 900, &[(&upc, 200, 100)])))]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["safety"]["matches"][0]["recall"]["id"], "CPSC-T-3");
    let qr = render("https://id.gs1.org/01/09340431297480/10/LOT9", BarcodeFormat::QR_CODE, 6, 0, 30);
    let rotated = imageops::rotate180(&qr);
    let (status, body) = upload(&app, None, &[("image", Some("q.png"), &png(&rotated))]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["barcodes"][0]["format"], "qr");
    assert_eq!(body["data"]["safety"]["verdict"], "recalled");
}

async fn unreadable_photos_get_clear_errors(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.family.scan_max_bytes = 256 * 1024).await;
    let expect = |status: u16, body: &Value, code: u16, words: &str| {
        assert_eq!(status, code, "{body}");
        let message = body["error"]["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains(words), "{message} should mention {words}");
    };

    let (s, b) =
        upload(&app, None, &[("photo", Some("x.bin"), b"definitely not an image, just text".as_slice())])
            .await;
    expect(s, &b, 422, "image");
    let full = png(&canvas(400, 300, &[]));
    let (s, b) = upload(&app, None, &[("photo", Some("t.png"), &full[..full.len() / 2])]).await;
    expect(s, &b, 422, "photo");
    // A decompression bomb: a valid header declaring 60000 x 60000 pixels.
    let (s, b) = upload(&app, None, &[("photo", Some("bomb.png"), &png_header_only(60_000, 60_000))]).await;
    expect(s, &b, 422, "pixels");
    let (s, b) = upload(&app, None, &[("photo", Some("blank.png"), &full)]).await;
    expect(s, &b, 422, "barcode");
    let qr = render("https://example.com/manual", BarcodeFormat::QR_CODE, 6, 0, 30);
    let (s, b) = upload(&app, None, &[("photo", Some("qr.png"), &png(&qr))]).await;
    expect(s, &b, 422, "no product barcode");

    let huge = vec![0u8; 300 * 1024];
    let (s, b) = upload(&app, None, &[("photo", Some("big.jpg"), &huge)]).await;
    expect(s, &b, 413, "larger");
    let (s, b) = upload(&app, None, &[("memberId", None, b"x".as_slice())]).await;
    expect(s, &b, 400, "photo");
    let (s, b) =
        upload(&app, None, &[("photo", Some("a.png"), &full), ("colour", None, b"red".as_slice())]).await;
    assert_eq!((s, b["error"]["unknown"].clone()), (400, json!(["colour"])));
    let (s, b) = upload(&app, None, &[("photo", Some("e.png"), b"".as_slice())]).await;
    expect(s, &b, 400, "empty");

    // The server is fine afterwards.
    let (status, _) = crate::harness::json(app.get("/health/ready").await).await;
    assert_eq!(status, 200);
}
