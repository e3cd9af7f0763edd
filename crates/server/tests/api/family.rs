//! Issue: family safety. Members, safety checks, bulk search, watched
//! products and alerts, webhooks, scan history, export, deletion; on
//! SQLite and PostgreSQL.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use babyshield_storage::Pool;
use serde_json::{Value, json};

use crate::harness::{Db, TestApp, json};

crate::on_both_databases!(
    members_are_private_validated_and_restorable,
    no_child_data_in_a_database_dump,
    safety_check_gives_verdicts_and_member_warnings,
    bulk_search_answers_each_barcode_in_its_slot,
    watched_products_alert_once_per_recall_with_two_workers,
    alert_job_failing_half_way_writes_nothing,
    webhooks_are_signed_retried_and_guarded_by_a_breaker,
    scan_history_is_opt_in_and_the_export_holds_everything,
    account_deletion_removes_family_data,
    lists_page_stably_and_load_in_one_statement,
    key_rotation_reseals_family_data,
);

const PASSWORD: &str = "Test123!";

/// Registers `email` and returns its access token.
pub async fn signup(app: &TestApp, email: &str) -> String {
    let (status, body) = json(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": PASSWORD, "confirm_password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["access_token"].as_str().unwrap().to_string()
}

/// Sends a request with a bearer token (and a JSON body when given).
pub async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .header("authorization", format!("Bearer {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// Recalls the tests check against, as JSON Lines.
pub fn fixture_recalls() -> String {
    [
        json!({"id": "FSANZ-T-1", "agencyCode": "FSANZ", "title": "Sunny Oats Baby Rusks (undeclared milk)",
               "recallDate": "2024-03-01", "productName": "Baby Rusks", "brand": "Sunny Oats",
               "upcs": ["9340431297480"], "hazard": "Allergen: milk", "hazardCategory": "allergen",
               "recallReason": "Undeclared milk", "riskCategory": "food"}),
        json!({"id": "CPSC-T-2", "agencyCode": "CPSC", "title": "Toyco Stacking Rings Recalled Due to Choking Hazard",
               "recallDate": "2024-02-01", "productName": "Stacking Rings", "brand": "Toyco",
               "modelNumber": "ZX-100", "hazard": "Small parts can detach, posing a choking hazard to young children",
               "riskCategory": "toy"}),
        json!({"id": "CPSC-T-3", "agencyCode": "CPSC", "title": "Dreamy Inclined Sleeper Recalled",
               "recallDate": "2023-05-01", "productName": "Inclined Sleeper", "brand": "Dreamy",
               "upcs": ["012345678905"], "hazard": "Infants can roll over and suffocate in the inclined sleeper",
               "riskCategory": "baby_product"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n")
}

fn quiet_jobs(config: &mut babyshield_server::config::Config) {
    // Tests run the queue themselves, with the workers they choose.
    config.jobs.workers = 0;
    config.family.webhook_allow_private = true;
}

async fn add_member(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, created) = call(app, "POST", "/api/v1/family/members", token, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["data"].clone()
}

async fn members_are_private_validated_and_restorable(db: Db) {
    let app = TestApp::spawn(db).await;
    let alice = signup(&app, "alice@example.com").await;
    let bob = signup(&app, "bob@example.com").await;

    let mia = add_member(
        &app,
        &alice,
        json!({"name": "Mia", "ageMonths": 18, "relationship": "daughter", "allergies": ["Dairy", "kiwi"],
               "dietaryRestrictions": ["vegetarian"]}),
    )
    .await;
    let id = mia["id"].as_str().unwrap().to_string();
    assert_eq!(mia["name"], "Mia");
    assert_eq!(mia["ageMonths"], 18);
    assert_eq!(mia["allergies"], json!(["Dairy", "kiwi"]));
    assert_eq!(mia["recognizedAllergens"], json!(["milk"]));

    let (status, got) = call(&app, "GET", &format!("/api/v1/family/members/{id}"), &alice, None).await;
    assert_eq!((status, got["data"]["name"].as_str()), (200, Some("Mia")));

    // Validation names the field.
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "Leo", "birthDate": "2999-01-01"}), "birthDate"),
        (json!({"name": "Leo", "birthDate": "2024-01-01", "ageMonths": 3}), "ageMonths"),
        (json!({"name": "Leo", "allergies": vec!["x"; 31]}), "allergies"),
    ] {
        let (status, err) = call(&app, "POST", "/api/v1/family/members", &alice, Some(body)).await;
        assert_eq!(status, 400, "{err}");
        assert!(err["error"]["message"].as_str().unwrap().starts_with(field), "{err}");
    }
    let (status, err) =
        call(&app, "POST", "/api/v1/family/members", &alice, Some(json!({"name": "Leo", "shoe": 3}))).await;
    assert_eq!((status, err["error"]["unknown"].clone()), (400, json!(["shoe"])));

    // Another user's id is a 404 on every route, and changes nothing.
    let member = format!("/api/v1/family/members/{id}");
    for (method, path, body) in [
        ("GET", member.clone(), None),
        ("PUT", member.clone(), Some(json!({"name": "Hacked"}))),
        ("DELETE", member.clone(), None),
        ("POST", format!("{member}/restore"), None),
    ] {
        let (status, body) = call(&app, method, &path, &bob, body).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(!body.to_string().contains("Mia"));
    }
    let (_, bobs) = call(&app, "GET", "/api/v1/family/members", &bob, None).await;
    assert_eq!(bobs["data"]["items"], json!([]));
    let (status, _) = call(&app, "GET", "/api/v1/family/members/not-an-id", &alice, None).await;
    assert_eq!(status, 404);
    let (status, _) = json(app.get("/api/v1/family/members").await).await;
    assert_eq!(status, 401);

    // Update replaces the profile; an unchanged age keeps counting from its original date.
    let (status, updated) = call(
        &app,
        "PUT",
        &member,
        &alice,
        Some(json!({"name": "Mia Rose", "ageMonths": 18, "allergies": ["peanuts"]})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["name"], "Mia Rose");
    assert_eq!(updated["data"]["recognizedAllergens"], json!(["peanut"]));

    // Soft delete, listed as deleted, restored.
    let (status, _) = call(&app, "DELETE", &member, &alice, None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&app, "GET", &member, &alice, None).await;
    assert_eq!(status, 404);
    let (_, live) = call(&app, "GET", "/api/v1/family/members", &alice, None).await;
    assert_eq!(live["data"]["items"], json!([]));
    let (_, deleted) = call(&app, "GET", "/api/v1/family/members?deleted=true", &alice, None).await;
    assert_eq!(deleted["data"]["items"][0]["id"], id.as_str());
    assert!(deleted["data"]["items"][0]["restorableUntil"].is_string());
    let (status, restored) = call(&app, "POST", &format!("{member}/restore"), &alice, None).await;
    assert_eq!((status, restored["data"]["name"].as_str()), (200, Some("Mia Rose")));

    // Past the window, the purge removes it for good and restore is a 404.
    call(&app, "DELETE", &member, &alice, None).await;
    backdate(&app, "family_members", "deleted_at", "2000-01-01T00:00:00Z").await;
    assert_eq!(app.state.family().purge_deleted_members().await.unwrap(), 1);
    let (status, _) = call(&app, "POST", &format!("{member}/restore"), &alice, None).await;
    assert_eq!(status, 404);
}

/// Sets `column` of every row of `table` (test-only time travel).
pub async fn backdate(app: &TestApp, table: &str, column: &str, value: &str) {
    let sql = format!("UPDATE {table} SET {column} = $1 WHERE {column} IS NOT NULL");
    match app.state.store().pool() {
        Pool::Sqlite(p) => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).execute(p).await.unwrap();
        }
        Pool::Postgres(p) => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).execute(p).await.unwrap();
        }
    }
}

/// Runs a statement on the test database.
pub async fn exec(app: &TestApp, sql: &str) {
    match app.state.store().pool() {
        Pool::Sqlite(p) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(p).await.unwrap();
        }
        Pool::Postgres(p) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(p).await.unwrap();
        }
    }
}

/// A count query on the test database.
pub async fn count(app: &TestApp, sql: &str) -> i64 {
    match app.state.store().pool() {
        Pool::Sqlite(p) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(p).await.unwrap()
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(p).await.unwrap()
        }
    }
}

async fn no_child_data_in_a_database_dump(db: Db) {
    let app = TestApp::spawn(db).await;
    app.import(&fixture_recalls()).await;
    let token = signup(&app, "parent@example.com").await;
    add_member(
        &app,
        &token,
        json!({"name": "Zephyrine", "birthDate": "2024-02-29", "relationship": "granddaughter",
               "allergies": ["sesame"], "dietaryRestrictions": ["halal"]}),
    )
    .await;
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/monitoring/products",
        &token,
        Some(json!({"brand": "Quixotica", "productName": "Velvetine stroller", "label": "Zephyrine's stroller"})),
    )
    .await;
    assert_eq!(status, 201);
    call(&app, "PUT", "/api/v1/user/preferences", &token, Some(json!({"scanHistory": true}))).await;
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/safety-check",
        &token,
        Some(json!({"productName": "Velvetine stroller"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM scan_history").await, 1);

    let dump: String = match app.state.store().pool() {
        Pool::Sqlite(p) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(p).await.unwrap();
            let file = p.connect_options().get_filename().to_path_buf();
            String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned()
        }
        Pool::Postgres(p) => {
            let mut text = String::new();
            for table in ["family_members", "watched_products", "scan_history", "user_preferences", "jobs"] {
                let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT row_to_json(t)::text FROM {table} t"
                )))
                .fetch_all(p)
                .await
                .unwrap();
                text.push_str(&format!("{rows:?}"));
            }
            text
        }
    };
    assert!(dump.contains("v1:"), "sealed values are present");
    for secret in
        ["Zephyrine", "zephyrine", "2024-02-29", "granddaughter", "sesame", "halal", "Quixotica", "Velvetine"]
    {
        assert!(!dump.contains(secret), "{secret} is stored in clear");
    }
}

async fn safety_check_gives_verdicts_and_member_warnings(db: Db) {
    let app = TestApp::spawn(db).await;
    app.import(&fixture_recalls()).await;
    let token = signup(&app, "parent@example.com").await;
    let mia = add_member(&app, &token, json!({"name": "Mia", "ageMonths": 24, "allergies": ["dairy"]})).await;
    let mia = mia["id"].as_str().unwrap();
    let check = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move { call(app, "POST", "/api/v1/safety-check", &token, Some(body)).await }
    };

    // Exact barcode, milk allergy: recalled, with the allergen warning.
    let (status, report) = check(json!({"barcode": "9340431297480", "memberId": mia})).await;
    assert_eq!(status, 200, "{report}");
    let report = &report["data"];
    assert_eq!(report["verdict"], "recalled");
    assert_eq!(report["matches"][0]["recall"]["id"], "FSANZ-T-1");
    assert_eq!(report["matches"][0]["matchType"], "exact_gtin");
    assert_eq!(report["matches"][0]["confidence"], 1.0);
    assert_eq!(report["allergenWarnings"][0]["allergen"], "milk");
    assert!(report["summary"].as_str().unwrap().contains("Mia is allergic to milk"), "{report}");

    // Model number with punctuation differences, 24-month-old: small parts.
    let (_, report) = check(json!({"model": "zx 100", "brand": "Toyco", "memberId": mia})).await;
    let report = &report["data"];
    assert_eq!(report["verdict"], "recalled", "{report}");
    assert_eq!(report["matches"][0]["matchType"], "model_number");
    assert_eq!(report["ageWarnings"][0]["rule"], "small_parts", "{report}");
    assert_eq!(report["allergenWarnings"], json!([]));

    // The same toy for an older child: recalled, no age warning.
    let leo = add_member(&app, &token, json!({"name": "Leo", "ageMonths": 60})).await;
    let (_, report) = check(json!({"model": "ZX-100", "memberId": leo["id"]})).await;
    assert_eq!(report["data"]["ageWarnings"], json!([]), "{report}");

    // A name that resembles a recall: caution, never "recalled".
    let (_, report) = check(json!({"productName": "Inclined Sleeper", "brand": "Dreamy"})).await;
    assert_eq!(report["data"]["verdict"], "caution", "{report}");
    assert_eq!(report["data"]["matches"][0]["matchType"], "fuzzy_name");

    // Nothing known.
    let (_, report) = check(json!({"barcode": "5012345678900"})).await;
    assert_eq!(report["data"]["verdict"], "no_known_recall");
    assert_eq!(report["data"]["summary"], "No known recall for this product");

    // Anonymous checks work; a member needs a token; another user's member is a 404.
    let (status, _) =
        json(app.post_json("/api/v1/safety-check", &json!({"barcode": "9340431297480"})).await).await;
    assert_eq!(status, 200);
    let (status, _) = json(
        app.post_json("/api/v1/safety-check", &json!({"barcode": "9340431297480", "memberId": mia})).await,
    )
    .await;
    assert_eq!(status, 401);
    let other = signup(&app, "other@example.com").await;
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/safety-check",
        &other,
        Some(json!({"barcode": "9340431297480", "memberId": mia})),
    )
    .await;
    assert_eq!(status, 404, "{body}");

    // Bad input says what was wrong.
    for (body, field) in [
        (json!({}), "barcode"),
        (json!({"barcode": "9340431297481"}), "barcode"),
        (json!({"productName": "x"}), "productName"),
        (json!({"model": "m".repeat(101)}), "model"),
    ] {
        let (status, err) = check(body).await;
        assert_eq!(status, 400, "{err}");
        assert!(err["error"]["message"].as_str().unwrap().starts_with(field), "{err}");
    }
}

async fn bulk_search_answers_each_barcode_in_its_slot(db: Db) {
    let app = TestApp::spawn(db).await;
    app.import(&fixture_recalls()).await;
    let (status, body) = json(
        app.post_json(
            "/api/v1/search/bulk",
            &json!({"barcodes": ["9340431297480", "5012345678900", "12345"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let items = body["data"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        (items[0]["verdict"].as_str(), items[0]["recalls"][0]["id"].as_str()),
        (Some("recalled"), Some("FSANZ-T-1"))
    );
    assert_eq!(items[1]["verdict"], "no_known_recall");
    assert_eq!(items[2]["status"], "invalid_barcode");
    assert!(items[2]["error"].is_string());

    let too_many: Vec<String> = (0..51).map(|_| "5012345678900".to_string()).collect();
    let (status, body) =
        json(app.post_json("/api/v1/search/bulk", &json!({"barcodes": too_many})).await).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = json(app.post_json("/api/v1/search/bulk", &json!({"barcodes": []})).await).await;
    assert_eq!(status, 400);
}

/// Runs the queue with `workers` concurrent workers until it is empty.
pub async fn run_jobs(app: &TestApp, workers: usize) -> u64 {
    let mut handles = Vec::new();
    for n in 0..workers {
        let family = Arc::clone(app.state.family());
        handles.push(tokio::spawn(async move {
            babyshield_server::jobs::drain(&family, &babyshield_server::jobs::worker_name(n), 60)
                .await
                .unwrap()
        }));
    }
    let mut ran = 0;
    for handle in handles {
        ran += handle.await.unwrap();
    }
    ran
}

async fn watched_products_alert_once_per_recall_with_two_workers(db: Db) {
    let app = TestApp::spawn_with(db, quiet_jobs).await;
    let alice = signup(&app, "alice@example.com").await;
    let bob = signup(&app, "bob@example.com").await;
    for body in [
        json!({"barcode": "9340431297480", "label": "pantry rusks"}),
        // The same recall again, by brand and name: still one alert.
        json!({"brand": "Sunny Oats", "productName": "Baby Rusks"}),
        json!({"model": "ZX-100"}),
    ] {
        let (status, watched) = call(&app, "POST", "/api/v1/monitoring/products", &alice, Some(body)).await;
        assert_eq!(status, 201, "{watched}");
        assert_eq!(watched["data"]["currentCheck"]["verdict"], "no_known_recall");
    }
    let (status, _) =
        call(&app, "POST", "/api/v1/monitoring/products", &bob, Some(json!({"barcode": "012345678905"})))
            .await;
    assert_eq!(status, 201);
    let (status, err) =
        call(&app, "POST", "/api/v1/monitoring/products", &bob, Some(json!({"productName": "pram"}))).await;
    assert_eq!(status, 400, "{err}");

    // Two imports of the same recalls at once, then two workers at once.
    let recalls = fixture_recalls();
    let (a, b) = tokio::join!(app.import(&recalls), app.import(&recalls));
    assert_eq!(a.inserted + b.inserted, 3);
    let ran = run_jobs(&app, 2).await;
    assert!(ran >= 1);
    // And a stale re-run of every job (a worker that lost its lease).
    exec(&app, "UPDATE jobs SET status = 'queued', run_after = 0").await;
    run_jobs(&app, 2).await;

    let (_, alerts) = call(&app, "GET", "/api/v1/notifications", &alice, None).await;
    let items = alerts["data"]["items"].as_array().unwrap();
    let mut recalls: Vec<&str> = items.iter().map(|n| n["recallId"].as_str().unwrap()).collect();
    recalls.sort();
    assert_eq!(recalls, ["CPSC-T-2", "FSANZ-T-1"], "{alerts}");
    let rusks = items.iter().find(|n| n["recallId"] == "FSANZ-T-1").unwrap();
    assert_eq!(rusks["matchType"], "exact_gtin");
    assert_eq!(rusks["recall"]["title"], "Sunny Oats Baby Rusks (undeclared milk)");
    assert_eq!(rusks["read"], false);
    let (_, bobs) = call(&app, "GET", "/api/v1/notifications", &bob, None).await;
    assert_eq!(bobs["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(bobs["data"]["items"][0]["recallId"], "CPSC-T-3");

    // Read one, read all; other users' ids are 404s.
    let first = items[0]["id"].as_str().unwrap();
    let (status, _) = call(&app, "POST", &format!("/api/v1/notifications/{first}/read"), &bob, None).await;
    assert_eq!(status, 404);
    let (status, read) =
        call(&app, "POST", &format!("/api/v1/notifications/{first}/read"), &alice, None).await;
    assert_eq!((status, read["data"]["read"].as_bool()), (200, Some(true)));
    let (_, unread) = call(&app, "GET", "/api/v1/notifications?unread=true", &alice, None).await;
    assert_eq!(unread["data"]["items"].as_array().unwrap().len(), 1);
    let (_, all) = call(&app, "POST", "/api/v1/notifications/read-all", &alice, None).await;
    assert_eq!(all["data"]["markedRead"], 1);

    // Unwatching: another user's id is a 404; the alert stays.
    let (_, watched) = call(&app, "GET", "/api/v1/monitoring/products", &alice, None).await;
    let watch = watched["data"]["items"][0]["id"].as_str().unwrap();
    let (status, _) = call(&app, "DELETE", &format!("/api/v1/monitoring/products/{watch}"), &bob, None).await;
    assert_eq!(status, 404);
    let (status, _) =
        call(&app, "DELETE", &format!("/api/v1/monitoring/products/{watch}"), &alice, None).await;
    assert_eq!(status, 204);
    let (_, after) = call(&app, "GET", "/api/v1/notifications", &alice, None).await;
    assert_eq!(after["data"]["items"].as_array().unwrap().len(), 2);

    // The queue is visible in metrics.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("jobs{kind=\"match_recalls\",status=\"done\"}"), "{metrics}");
}

async fn alert_job_failing_half_way_writes_nothing(db: Db) {
    let app = TestApp::spawn_with(db, quiet_jobs).await;
    let alice = signup(&app, "alice@example.com").await;
    for body in [json!({"barcode": "9340431297480"}), json!({"barcode": "012345678905"})] {
        call(&app, "POST", "/api/v1/monitoring/products", &alice, Some(body)).await;
    }
    // The second alert's insert fails inside the database.
    match db {
        Db::Sqlite => {
            exec(&app, "CREATE TRIGGER fail_alert BEFORE INSERT ON notifications WHEN NEW.recall_id = 'FSANZ-T-1' \
                        BEGIN SELECT RAISE(ABORT, 'injected'); END").await
        }
        Db::Postgres => {
            exec(&app, "CREATE FUNCTION fail_alert() RETURNS trigger AS $$ BEGIN \
                        IF NEW.recall_id = 'FSANZ-T-1' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$ \
                        LANGUAGE plpgsql; \
                        CREATE TRIGGER fail_alert BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION fail_alert()")
                .await
        }
    }
    app.import(&fixture_recalls()).await;
    run_jobs(&app, 1).await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM notifications").await,
        0,
        "no alert of a failed job survives"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND last_error IS NOT NULL").await,
        1
    );

    match db {
        Db::Sqlite => exec(&app, "DROP TRIGGER fail_alert").await,
        Db::Postgres => exec(&app, "DROP TRIGGER fail_alert ON notifications").await,
    }
    exec(&app, "UPDATE jobs SET run_after = 0").await;
    run_jobs(&app, 1).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM notifications").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM jobs WHERE status = 'done'").await, 1);
}

async fn webhooks_are_signed_retried_and_guarded_by_a_breaker(db: Db) {
    let app = TestApp::spawn_with(db, quiet_jobs).await;
    let receiver = Receiver::start().await;
    let alice = signup(&app, "alice@example.com").await;
    let (status, err) = call(&app, "POST", "/api/v1/webhooks", &alice, Some(json!({"url": "ftp://x"}))).await;
    assert_eq!(status, 400, "{err}");
    let (status, created) =
        call(&app, "POST", "/api/v1/webhooks", &alice, Some(json!({"url": receiver.url()}))).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["data"]["secret"].as_str().unwrap().to_string();
    let (_, listed) = call(&app, "GET", "/api/v1/webhooks", &alice, None).await;
    assert_eq!(listed["data"][0]["url"], receiver.url());
    assert!(listed["data"][0].get("secret").is_none(), "the secret is shown once");
    call(&app, "POST", "/api/v1/monitoring/products", &alice, Some(json!({"barcode": "9340431297480"})))
        .await;

    // The endpoint fails twice, then accepts: retried until delivered.
    receiver.fail_next(2);
    app.import(&fixture_recalls()).await;
    for _ in 0..3 {
        run_jobs(&app, 1).await;
        exec(&app, "UPDATE jobs SET run_after = 0 WHERE status = 'queued'").await;
    }
    let received = receiver.received();
    assert_eq!(received.len(), 3, "two failures and one success");
    let (signature, body) = received.last().unwrap().clone();
    let t: i64 = signature.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
    assert_eq!(signature, babyshield_server::family::webhook_signature(&secret, t, body.as_bytes()));
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["notification"]["recallId"], "FSANZ-T-1");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver_webhook' AND status = 'done'").await,
        1
    );

    // A dead endpoint: three failures open its breaker, then nothing is sent.
    receiver.fail_next(100);
    call(&app, "POST", "/api/v1/monitoring/products", &alice, Some(json!({"model": "ZX-100"}))).await;
    let more =
        fixture_recalls().replace("Toyco Stacking Rings Recalled", "Toyco Stacking Rings Recall Expanded");
    app.import(&more).await;
    for _ in 0..5 {
        run_jobs(&app, 1).await;
        exec(&app, "UPDATE jobs SET run_after = 0 WHERE status = 'queued'").await;
    }
    assert_eq!(receiver.received().len(), 3 + 3, "the breaker stops sending after 3 failures");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver_webhook' AND status = 'queued' AND last_error LIKE '%breaker%'").await,
        1
    );

    // Other users cannot delete it.
    let bob = signup(&app, "bob@example.com").await;
    let id = created["data"]["id"].as_str().unwrap();
    let (status, _) = call(&app, "DELETE", &format!("/api/v1/webhooks/{id}"), &bob, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, "DELETE", &format!("/api/v1/webhooks/{id}"), &alice, None).await;
    assert_eq!(status, 204);
}

/// A local webhook endpoint that records what it receives.
struct Receiver {
    addr: std::net::SocketAddr,
    failures: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let failures = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (f, r) = (Arc::clone(&failures), Arc::clone(&received));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (f, r) = (Arc::clone(&f), Arc::clone(&r));
                async move {
                    let signature = headers
                        .get("x-babyshield-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    r.lock().unwrap().push((signature, body));
                    if f.load(Ordering::SeqCst) > 0 {
                        f.fetch_sub(1, Ordering::SeqCst);
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, failures, received }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    fn received(&self) -> Vec<(String, String)> {
        self.received.lock().unwrap().clone()
    }
}

async fn scan_history_is_opt_in_and_the_export_holds_everything(db: Db) {
    let app = TestApp::spawn_with(db, quiet_jobs).await;
    app.import(&fixture_recalls()).await;
    let token = signup(&app, "export.me@example.com").await;
    let mia = add_member(&app, &token, json!({"name": "Mia", "ageMonths": 20, "allergies": ["milk"]})).await;
    let check = json!({"barcode": "9340431297480", "memberId": mia["id"]});

    // Off by default: nothing is remembered.
    call(&app, "POST", "/api/v1/safety-check", &token, Some(check.clone())).await;
    let (_, prefs) = call(&app, "GET", "/api/v1/user/preferences", &token, None).await;
    assert_eq!(prefs["data"]["scanHistory"], false);
    let (_, history) = call(&app, "GET", "/api/v1/scan/history", &token, None).await;
    assert_eq!(history["data"]["items"], json!([]));

    call(&app, "PUT", "/api/v1/user/preferences", &token, Some(json!({"scanHistory": true}))).await;
    call(&app, "POST", "/api/v1/safety-check", &token, Some(check.clone())).await;
    let (_, history) = call(&app, "GET", "/api/v1/scan/history", &token, None).await;
    let entry = &history["data"]["items"][0];
    assert_eq!(
        (entry["verdict"].as_str(), entry["barcode"].as_str()),
        (Some("recalled"), Some("09340431297480"))
    );
    assert_eq!(entry["recallIds"], json!(["FSANZ-T-1"]));

    call(
        &app,
        "POST",
        "/api/v1/monitoring/products",
        &token,
        Some(json!({"barcode": "012345678905", "label": "crib"})),
    )
    .await;
    call(&app, "POST", "/api/v1/webhooks", &token, Some(json!({"url": "http://127.0.0.1:9/hook"}))).await;
    app.import(
        &fixture_recalls()
            .replace("Dreamy Inclined Sleeper Recalled", "Dreamy Inclined Sleeper Recall Update"),
    )
    .await;
    run_jobs(&app, 1).await;

    let response = app
        .client
        .get(app.url("/api/v1/user/data/export"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let (status, export) = json(response).await;
    assert_eq!(status, 200, "{export}");
    let data = &export["data"];
    assert_eq!(data["account"]["email"], "export.me@example.com");
    assert_eq!(data["familyMembers"][0]["name"], "Mia");
    assert_eq!(data["watchedProducts"][0]["label"], "crib");
    assert_eq!(data["notifications"][0]["recallId"], "CPSC-T-3");
    assert_eq!(data["scanHistory"].as_array().unwrap().len(), 1);
    assert_eq!(data["webhooks"][0]["url"], "http://127.0.0.1:9/hook");
    assert!(data["webhooks"][0].get("secret").is_none());
    assert_eq!(data["scanHistoryEnabled"], true);
    assert!(data["securityEvents"].as_array().unwrap().iter().any(|e| e["action"] == "register"));
    let audit = app.state.store().audit_all().await.unwrap();
    assert!(audit.iter().any(|r| r.action == "data_export"), "the export is audited");

    // Opting out deletes the history.
    call(&app, "PUT", "/api/v1/user/preferences", &token, Some(json!({"scanHistory": false}))).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM scan_history").await, 0);
}

async fn account_deletion_removes_family_data(db: Db) {
    let app = TestApp::spawn_with(db, quiet_jobs).await;
    app.import(&fixture_recalls()).await;
    let token = signup(&app, "leaving@example.com").await;
    let stays = signup(&app, "staying@example.com").await;
    for t in [&token, &stays] {
        add_member(&app, t, json!({"name": "Kid", "ageMonths": 5})).await;
        call(&app, "PUT", "/api/v1/user/preferences", t, Some(json!({"scanHistory": true}))).await;
        call(&app, "POST", "/api/v1/safety-check", t, Some(json!({"barcode": "9340431297480"}))).await;
        call(&app, "POST", "/api/v1/monitoring/products", t, Some(json!({"barcode": "012345678905"}))).await;
        call(&app, "POST", "/api/v1/webhooks", t, Some(json!({"url": "http://127.0.0.1:9/hook"}))).await;
    }
    app.import(
        &fixture_recalls().replace("Dreamy Inclined Sleeper Recalled", "Dreamy Sleeper Recall Update"),
    )
    .await;
    run_jobs(&app, 1).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM notifications").await, 2);

    let (status, _) = call(&app, "DELETE", "/api/v1/account", &token, None).await;
    assert_eq!(status, 204);
    for table in [
        "family_members",
        "watched_products",
        "notifications",
        "scan_history",
        "webhooks",
        "user_preferences",
    ] {
        assert_eq!(
            count(&app, &format!("SELECT COUNT(*) FROM {table}")).await,
            1,
            "{table}: only the other user's row"
        );
    }
}

/// Records the text of every statement sqlx runs (its `sqlx::query` events).
struct StatementLog(Arc<Mutex<Vec<String>>>);

impl StatementLog {
    /// Statements run since `from` (an earlier `len`) that touch `table`.
    fn touching(log: &Mutex<Vec<String>>, from: usize, tables: &[&str]) -> usize {
        log.lock().unwrap()[from..].iter().filter(|sql| tables.iter().any(|t| sql.contains(t))).count()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementLog {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        struct Sql(String);
        impl tracing::field::Visit for Sql {
            fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{value:?} "));
            }
            fn record_str(&mut self, _: &tracing::field::Field, value: &str) {
                self.0.push_str(value);
                self.0.push(' ');
            }
        }
        let mut sql = Sql(String::new());
        event.record(&mut sql);
        if sql.0.contains("SELECT") {
            self.0.lock().unwrap().push(sql.0);
        }
    }
}

async fn lists_page_stably_and_load_in_one_statement(db: Db) {
    use tracing_subscriber::layer::SubscriberExt;
    let log = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry()
        .with(StatementLog(Arc::clone(&log)))
        .with(tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::TRACE));
    // One process per test (nextest): the global default is ours.
    let _ = tracing::subscriber::set_global_default(subscriber);

    let app = TestApp::spawn_with(db, |c| {
        quiet_jobs(c);
        c.family.max_members = 30;
    })
    .await;
    let token = signup(&app, "big.family@example.com").await;
    add_member(&app, &token, json!({"name": "Child 0", "ageMonths": 1})).await;

    let list = |query: &'static str| {
        let (app, token) = (&app, token.clone());
        async move { call(app, "GET", &format!("/api/v1/family/members{query}"), &token, None).await }
    };
    let members = ["FROM family_members"];
    let before = log.lock().unwrap().len();
    let (_, one) = list("?limit=100").await;
    let with_one = StatementLog::touching(&log, before, &members);
    assert_eq!(one["data"]["items"].as_array().unwrap().len(), 1);

    for n in 1..25 {
        add_member(&app, &token, json!({"name": format!("Child {n}"), "ageMonths": n})).await;
    }
    let before = log.lock().unwrap().len();
    let (_, all) = list("?limit=100").await;
    let with_many = StatementLog::touching(&log, before, &members);
    assert_eq!(all["data"]["items"].as_array().unwrap().len(), 25);
    assert_eq!(with_one, 1, "one statement for the page");
    assert_eq!(with_many, with_one, "the statement count does not grow with the rows (no N+1)");

    // Pages of 10: 10 + 10 + 5, in creation order, no duplicates, no gaps.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=10&cursor={c}"),
            None => "?limit=10".to_string(),
        };
        let (status, page) = call(&app, "GET", &format!("/api/v1/family/members{query}"), &token, None).await;
        assert_eq!(status, 200, "{page}");
        for item in page["data"]["items"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_string());
        }
        match page["data"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|n| format!("Child {n}")).collect();
    assert_eq!(seen, expected);
    let (status, err) = list("?cursor=bm9wZQ").await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("INVALID_CURSOR")));

    // Alerts come with their recall and watched product: still one statement
    // for the page, however many alerts it holds.
    let alerts_page = || call(&app, "GET", "/api/v1/notifications?limit=100", &token, None);
    let related = ["notifications", "FROM recalls", "watched_products"];
    call(&app, "POST", "/api/v1/monitoring/products", &token, Some(json!({"barcode": "9340431297480"})))
        .await;
    app.import(&fixture_recalls()).await;
    run_jobs(&app, 1).await;
    let before = log.lock().unwrap().len();
    let (_, one) = alerts_page().await;
    let for_one = StatementLog::touching(&log, before, &related);
    assert_eq!(one["data"]["items"].as_array().unwrap().len(), 1);
    for body in [json!({"barcode": "012345678905"}), json!({"model": "ZX-100"})] {
        call(&app, "POST", "/api/v1/monitoring/products", &token, Some(body)).await;
    }
    app.import(&fixture_recalls().replace("Recalled", "Recall (update)")).await;
    run_jobs(&app, 1).await;
    let before = log.lock().unwrap().len();
    let (_, three) = alerts_page().await;
    let for_three = StatementLog::touching(&log, before, &related);
    assert_eq!(three["data"]["items"].as_array().unwrap().len(), 3, "{three}");
    assert!(three["data"]["items"].as_array().unwrap().iter().all(|n| n["recall"]["title"].is_string()));
    assert_eq!(for_one, 1, "one statement for the page of alerts");
    assert_eq!(for_three, for_one, "recalls and products are joined, not fetched per alert");
}

async fn key_rotation_reseals_family_data(db: Db) {
    use base64::Engine;
    let app = TestApp::spawn_with(db, quiet_jobs).await;
    app.import(&fixture_recalls()).await;
    let token = signup(&app, "rotate@example.com").await;
    let mia = add_member(&app, &token, json!({"name": "Mia", "ageMonths": 3})).await;
    call(&app, "POST", "/api/v1/monitoring/products", &token, Some(json!({"barcode": "012345678905"}))).await;
    call(&app, "PUT", "/api/v1/user/preferences", &token, Some(json!({"scanHistory": true}))).await;
    call(&app, "POST", "/api/v1/safety-check", &token, Some(json!({"barcode": "012345678905"}))).await;
    call(&app, "POST", "/api/v1/webhooks", &token, Some(json!({"url": "http://127.0.0.1:9/hook"}))).await;

    let old = app.state.secrets().data_keys.expose().to_string();
    let key = base64::engine::general_purpose::STANDARD.encode(b"another-brand-new-data-key-32b!!");
    let new_key = format!("knew:{key}");
    let mut secrets = app.state.secrets().clone();
    secrets.data_keys = babyshield_server::config::Secret::from(format!("{new_key},{old}"));
    let rotated =
        babyshield_server::accounts::Accounts::new(app.state.config(), &secrets, app.state.store().clone())
            .unwrap();
    let report = rotated.rotate_keys(|_| {}).await.unwrap();
    assert_eq!(report.resealed_family, 4, "member, watched product, scan entry, webhook");
    assert_eq!(rotated.rotate_keys(|_| {}).await.unwrap().resealed_family, 0, "idempotent");
    for (table, column) in [
        ("family_members", "profile_sealed"),
        ("watched_products", "details_sealed"),
        ("scan_history", "entry_sealed"),
        ("webhooks", "config_sealed"),
    ] {
        let stale =
            count(&app, &format!("SELECT COUNT(*) FROM {table} WHERE {column} NOT LIKE 'v1:knew:%'")).await;
        assert_eq!(stale, 0, "{table} still has values on the old key");
    }
    // The new key alone opens the child's profile.
    let only_new = babyshield_security::DataKeyRing::parse(&new_key).unwrap();
    let id = mia["id"].as_str().unwrap();
    let sealed: String = match app.state.store().pool() {
        Pool::Sqlite(p) => {
            sqlx::query_scalar("SELECT profile_sealed FROM family_members").fetch_one(p).await.unwrap()
        }
        Pool::Postgres(p) => {
            sqlx::query_scalar("SELECT profile_sealed FROM family_members").fetch_one(p).await.unwrap()
        }
    };
    let profile = only_new.open(&sealed, format!("family_members/{id}/profile").as_bytes()).unwrap();
    assert!(profile.contains("\"Mia\""), "{profile}");
}
