//! A parent's whole journey through the real binary with its sample data:
//! register, add a child with a milk allergy, photograph the barcode of a
//! recalled sample product, get the verdict with the allergen warning,
//! watch a product, import a new recall for it with `babyshield import`
//! (another process), and see the alert raised by the server's job worker.

use std::time::{Duration, Instant};

use babyshield_scan_testkit::{BarcodeFormat, add_noise, canvas, jpeg, multipart_form, render};
use serde_json::{Value, json};

use crate::harness::{Sandbox, Server, http_client};

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_add_a_child_scan_a_recalled_photo_watch_import_and_get_the_alert() {
    let sandbox = Sandbox::new();
    // The sample data loads on first start (as with `cargo run --release`).
    let mut server = tokio::task::block_in_place(|| {
        Server::start_json(&sandbox, &[("BABYSHIELD__JOBS__POLL_INTERVAL_MS", "200")])
    });
    let client = http_client(Duration::from_secs(60));
    let bearer = |token: &str| format!("Bearer {token}");

    let (status, body) = send(client.post(server.url("/api/v1/auth/register")).json(
        &json!({"email": "mia.parent@example.com", "password": "Test123!", "confirm_password": "Test123!"}),
    ))
    .await;
    assert_eq!(status, 201, "{body}");
    let token = body["data"]["access_token"].as_str().unwrap().to_string();

    let (status, mia) = send(
        client
            .post(server.url("/api/v1/family/members"))
            .header("authorization", bearer(&token))
            .json(&json!({"name": "Mia", "ageMonths": 14, "allergies": ["milk"]})),
    )
    .await;
    assert_eq!(status, 201, "{mia}");
    let mia_id = mia["data"]["id"].as_str().unwrap().to_string();

    // A phone photo of the sample's Little Aussie Foods Baby Rusks (undeclared milk).
    let code = render("9340431297480", BarcodeFormat::EAN_13, 4, 200, 40);
    let mut photo = canvas(2000, 1500, &[(&code, 500, 500)]);
    add_noise(&mut photo, 3, 10, 1);
    let (content_type, form) = multipart_form(&[
        ("photo", Some("rusks.jpg"), &jpeg(&photo, 85)),
        ("memberId", None, mia_id.as_bytes()),
    ]);
    let (status, scan) = send(
        client
            .post(server.url("/api/v1/scan/image"))
            .header("authorization", bearer(&token))
            .header("content-type", content_type)
            .body(form),
    )
    .await;
    assert_eq!(status, 200, "{scan}");
    let safety = &scan["data"]["safety"];
    assert_eq!(safety["verdict"], "recalled", "{safety}");
    assert_eq!(safety["matches"][0]["recall"]["id"], "FSANZ-2018-055");
    assert_eq!(safety["allergenWarnings"][0]["allergen"], "milk");
    assert!(safety["summary"].as_str().unwrap().contains("Mia is allergic to milk"), "{safety}");

    let (status, watched) = send(
        client
            .post(server.url("/api/v1/monitoring/products"))
            .header("authorization", bearer(&token))
            .json(&json!({"barcode": "5012345678900", "label": "Mia's car seat"})),
    )
    .await;
    assert_eq!(status, 201, "{watched}");
    assert_eq!(watched["data"]["currentCheck"]["verdict"], "no_known_recall");

    let recall = json!({"id": "CPSC-JOURNEY-1", "agencyCode": "CPSC", "title": "Car seat buckle can release",
                        "recallDate": "2026-11-22", "upcs": ["5012345678900"], "riskCategory": "baby_product"});
    let file = sandbox.write("new-recall.jsonl", &format!("{recall}\n"));
    let outcome = tokio::task::block_in_place(|| sandbox.run(&["import", file.to_str().unwrap()], &[]));
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);

    let deadline = Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let (status, alerts) =
            send(client.get(server.url("/api/v1/notifications")).header("authorization", bearer(&token)))
                .await;
        assert_eq!(status, 200, "{alerts}");
        if !alerts["data"]["items"].as_array().unwrap().is_empty() || Instant::now() > deadline {
            break alerts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let items = alerts["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{alerts}\n{}", server.stderr());
    assert_eq!(items[0]["recallId"], "CPSC-JOURNEY-1");
    assert_eq!(items[0]["watchedProductLabel"], "Mia's car seat");
    assert_eq!(items[0]["matchType"], "exact_gtin");

    server.sigterm();
    let exit = tokio::task::block_in_place(|| server.wait_for_exit());
    assert_eq!(exit.code(), Some(0));
}
