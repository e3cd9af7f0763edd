//! Issue: idempotency keys. "POSTs that create things accept
//! `Idempotency-Key`: the first response is stored for 24 h and replayed; the
//! same key with a different body is refused; concurrent duplicates do not
//! both execute."

use std::net::IpAddr;

use babyshield_server::config::Config;
use serde_json::{Value, json};

use crate::harness::{Db, TestApp, database_for, json, test_config};

crate::on_both_databases!(
    a_retry_with_the_same_key_replays_the_first_answer,
    the_same_key_with_another_body_is_refused_with_422,
    concurrent_duplicates_execute_once,
    an_invalid_key_is_refused_with_400,
    keys_are_scoped_to_the_client,
    server_errors_are_not_stored_so_a_retry_runs_again,
    expired_keys_are_ignored_and_purged,
);

const REGISTER: &str = "/api/v1/auth/register";
const PASSWORD: &str = "Test123!";

fn body(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD, "confirm_password": PASSWORD})
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn register(app: &TestApp, client: &reqwest::Client, key: &str, email: &str) -> reqwest::Response {
    client.post(app.url(REGISTER)).header("idempotency-key", key).json(&body(email)).send().await.unwrap()
}

fn replayed(response: &reqwest::Response) -> bool {
    response.headers().get("idempotent-replayed").is_some_and(|v| v == "true")
}

/// Two instances on one database, sharing secrets (one data dir).
pub async fn two_apps(db: Db, tweak: impl Fn(&mut Config, usize)) -> (TestApp, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let (database, url) = database_for(db, dir.path()).await;
    let config = test_config(dir.path(), &url);
    let (mut first, mut second) = (config.clone(), config);
    tweak(&mut first, 0);
    tweak(&mut second, 1);
    // The first instance owns the directory; the second starts once the
    // first has written the development secrets.
    let a = TestApp::start(first, dir).await.holding(database);
    let b = TestApp::start(second, tempfile::tempdir().unwrap()).await;
    (a, b)
}

async fn a_retry_with_the_same_key_replays_the_first_answer(db: Db) {
    let app = TestApp::spawn(db).await;
    let first = register(&app, &app.client, "signup-1", "parent@example.com").await;
    assert!(!replayed(&first));
    let first_id = first.headers()["x-request-id"].clone();
    let (status, original) = json(first).await;
    assert_eq!(status, 201, "{original}");

    let retry = register(&app, &app.client, "signup-1", "parent@example.com").await;
    assert_eq!(retry.status(), 201);
    assert!(replayed(&retry), "the retry is marked as a replay");
    assert_eq!(retry.headers()["cache-control"], "no-store", "tokens stay uncacheable on replay");
    assert_ne!(retry.headers()["x-request-id"], first_id, "the retry is its own request");
    let (_, again) = json(retry).await;
    assert_eq!(again["data"]["user_id"], original["data"]["user_id"]);
    assert_eq!(again, original, "the very same body");
    assert_eq!(app.state.store().count_users().await.unwrap(), 1, "one account");

    // Without the key the request runs again (and finds the account).
    let (status, _) = json(app.post_json(REGISTER, &body("parent@example.com")).await).await;
    assert_eq!(status, 409);
}

async fn the_same_key_with_another_body_is_refused_with_422(db: Db) {
    let app = TestApp::spawn(db).await;
    assert_eq!(register(&app, &app.client, "k-1", "one@example.com").await.status(), 201);
    let (status, refused) = json(register(&app, &app.client, "k-1", "two@example.com").await).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "INVALID_PARAMETERS");
    assert!(refused["error"]["message"].as_str().unwrap().contains("Idempotency-Key"), "{refused}");
    assert_eq!(app.state.store().count_users().await.unwrap(), 1);
}

async fn concurrent_duplicates_execute_once(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.rate_limit.enabled = false).await;
    let attempts = (0..5).map(|_| register(&app, &app.client, "same-tap", "fast@example.com"));
    let responses = futures::future::join_all(attempts).await;
    let mut executed = 0;
    let mut user_ids = Vec::new();
    for response in responses {
        let was_replayed = replayed(&response);
        let (status, body) = json(response).await;
        match status {
            201 if !was_replayed => {
                executed += 1;
                user_ids.push(body["data"]["user_id"].clone());
            }
            201 => user_ids.push(body["data"]["user_id"].clone()),
            409 => {
                assert_eq!(body["error"]["code"], "CONFLICT");
                assert!(body["error"]["message"].as_str().unwrap().contains("in progress"), "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(executed, 1, "exactly one of the duplicates ran");
    assert!(user_ids.windows(2).all(|w| w[0] == w[1]), "{user_ids:?}");
    assert_eq!(app.state.store().count_users().await.unwrap(), 1);
    // Once it finished, the key replays.
    assert!(replayed(&register(&app, &app.client, "same-tap", "fast@example.com").await));
}

async fn an_invalid_key_is_refused_with_400(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.rate_limit.enabled = false).await;
    for key in ["has space".to_string(), "k".repeat(256)] {
        let (status, refused) = json(register(&app, &app.client, &key, "bad@example.com").await).await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"]["code"], "BAD_REQUEST");
        assert!(refused["error"]["message"].as_str().unwrap().contains("Idempotency-Key"), "{refused}");
    }
    let empty = app
        .client
        .post(app.url(REGISTER))
        .header("idempotency-key", "")
        .json(&body("bad@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    assert_eq!(app.state.store().count_users().await.unwrap(), 0, "nothing ran");
}

async fn keys_are_scoped_to_the_client(db: Db) {
    let app = TestApp::spawn(db).await;
    let (one, two) = (client_from("127.0.50.1"), client_from("127.0.50.2"));
    let first = register(&app, &one, "shared-key", "one@example.com").await;
    assert_eq!(first.status(), 201);
    let second = register(&app, &two, "shared-key", "two@example.com").await;
    assert_eq!(second.status(), 201, "another client's key is its own");
    assert!(!replayed(&second));
    assert!(replayed(&register(&app, &one, "shared-key", "one@example.com").await), "the first client's own");
    assert_eq!(app.state.store().count_users().await.unwrap(), 2);

    // A signed-in user's key is scoped to the user, not to the address.
    let (_, signed_in) = json(first).await;
    let access = signed_in["data"]["access_token"].as_str().unwrap();
    let as_user = one
        .post(app.url(REGISTER))
        .bearer_auth(access)
        .header("idempotency-key", "shared-key")
        .json(&body("one@example.com"))
        .send()
        .await
        .unwrap();
    assert!(!replayed(&as_user), "the user's scope is not the address's");
    assert_eq!(as_user.status(), 409, "ran again and found the account");
}

async fn server_errors_are_not_stored_so_a_retry_runs_again(db: Db) {
    // The first instance times every handler out (504); the second is normal.
    let (slow, normal) = two_apps(db, |c, i| {
        if i == 0 {
            c.server.request_timeout_ms = 1;
        }
    })
    .await;
    let client = client_from("127.0.51.1");
    let failed = register(&slow, &client, "retry-me", "retry@example.com").await;
    assert_eq!(failed.status(), 504);
    let retried = register(&normal, &client, "retry-me", "retry@example.com").await;
    assert!(!replayed(&retried), "the 504 was not stored");
    assert_eq!(retried.status(), 201);
    assert!(replayed(&register(&slow, &client, "retry-me", "retry@example.com").await), "the 201 was");
    assert_eq!(normal.state.store().count_users().await.unwrap(), 1);
}

async fn expired_keys_are_ignored_and_purged(db: Db) {
    let app = TestApp::spawn(db).await;
    assert_eq!(register(&app, &app.client, "old-key", "old@example.com").await.status(), 201);
    let expire = "UPDATE idempotency_keys SET expires_at = 1";
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => sqlx::query(expire).execute(p).await.map(|_| ()),
        babyshield_storage::Pool::Postgres(p) => sqlx::query(expire).execute(p).await.map(|_| ()),
    }
    .unwrap();
    let again = register(&app, &app.client, "old-key", "old@example.com").await;
    assert!(!replayed(&again), "an expired key is as good as new");
    assert_eq!(again.status(), 409, "the request ran again and found the account");

    // The 409 was stored under a fresh expiry; only expired rows are purged.
    let store = app.state.store();
    assert_eq!(store.purge_idempotency_keys(2).await.unwrap(), 0);
    assert_eq!(store.purge_idempotency_keys(i64::MAX).await.unwrap(), 1);
    assert!(!replayed(&register(&app, &app.client, "old-key", "old@example.com").await));
}
