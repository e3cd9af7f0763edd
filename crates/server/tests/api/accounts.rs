//! Issue: accounts and authentication. One test per rule, on SQLite and
//! PostgreSQL.

use std::{net::IpAddr, time::Duration};

use babyshield_security::{KeyRing, TokenSettings};
use serde_json::{Value, json};

use crate::harness::{Db, TestApp, json};

crate::on_both_databases!(
    quick_start_register_then_token_opens_me,
    registration_validates_email_and_password_rules,
    unknown_email_and_wrong_password_get_identical_answers,
    refresh_rotates_and_reuse_revokes_the_whole_session,
    logout_refuses_the_access_token_at_once,
    password_change_revokes_other_sessions,
    password_reset_is_single_use_and_answers_the_same_for_unknown_emails,
    forged_expired_and_misdirected_tokens_are_rejected,
    admin_routes_are_forbidden_to_users_and_open_to_admins,
    deleted_account_is_refused_at_once_and_restorable_by_an_admin,
    failed_logins_are_throttled_without_locking_out_the_owner,
    no_email_is_stored_in_clear,
    audit_trail_records_events_and_detects_tampering,
    hashing_overflow_answers_503_while_other_endpoints_keep_serving,
    key_rotation_reseals_personal_data,
    deleted_accounts_are_purged_after_the_retention_period,
    a_registration_that_fails_half_way_leaves_nothing_behind,
    a_password_change_that_fails_half_way_changes_nothing,
);

const EMAIL: &str = "Parent.One@Example.com";
const PASSWORD: &str = "Test123!";

async fn register(app: &TestApp, email: &str, password: &str) -> Value {
    let (status, body) = json(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": email, "password": password, "confirm_password": password}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn token(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username={}&password={}", urlencode(email), urlencode(password)))
        .send()
        .await
        .unwrap();
    json(response).await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn me(app: &TestApp, access: &str) -> (u16, Value) {
    json(app.client.get(app.url("/api/v1/auth/me")).bearer_auth(access).send().await.unwrap()).await
}

async fn post_auth(app: &TestApp, path: &str, access: &str, body: &Value) -> (u16, Value) {
    json(app.client.post(app.url(path)).bearer_auth(access).json(body).send().await.unwrap()).await
}

async fn quick_start_register_then_token_opens_me(db: Db) {
    let app = TestApp::spawn(db).await;
    let registered = register(&app, "test@example.com", "Test123!").await;
    assert!(registered["data"]["user_id"].is_string());
    assert!(
        registered["data"]["access_token"].is_string() && registered["data"]["refresh_token"].is_string()
    );

    let (status, tokens) = token(&app, "test@example.com", "Test123!").await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 900);
    let (status, profile) = me(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["data"]["email"], "test@example.com");
    assert_eq!(profile["data"]["id"], registered["data"]["user_id"]);
    assert_eq!(profile["data"]["role"], "user");

    let (status, _) = json(
        app.post_json("/api/v1/auth/login", &json!({"email": "TEST@example.com", "password": "Test123!"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "emails are case-insensitive");
    let legacy = app.client.post(app.url("/api/v1/user/data/delete")).send().await.unwrap();
    assert_eq!(legacy.status(), 410);
}

async fn registration_validates_email_and_password_rules(db: Db) {
    let app = TestApp::spawn(db).await;
    let cases = [
        (json!({"email": "not-an-email", "password": PASSWORD, "confirm_password": PASSWORD}), "email"),
        (json!({"email": EMAIL, "password": "Ab1!", "confirm_password": "Ab1!"}), "password"),
        (
            json!({"email": EMAIL, "password": "x".repeat(129), "confirm_password": "x".repeat(129)}),
            "password",
        ),
        (json!({"email": EMAIL, "password": "iloveyou", "confirm_password": "iloveyou"}), "password"),
        (json!({"email": EMAIL, "password": "qwerty123", "confirm_password": "qwerty123"}), "password"),
        (json!({"email": EMAIL, "password": PASSWORD, "confirm_password": "Other123!"}), "confirm_password"),
    ];
    for (body, field) in cases {
        let (status, answer) = json(app.post_json("/api/v1/auth/register", &body).await).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().starts_with(field), "{answer}");
    }
    let (status, answer) = json(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": EMAIL, "password": PASSWORD, "confirm_password": PASSWORD, "admin": true}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["unknown"], json!(["admin"]));
    register(&app, EMAIL, PASSWORD).await;
    let (status, _) = json(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": "parent.one@example.com", "password": PASSWORD, "confirm_password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "the same email in another case is the same account");
}

async fn unknown_email_and_wrong_password_get_identical_answers(db: Db) {
    let app = TestApp::spawn(db).await;
    register(&app, EMAIL, PASSWORD).await;
    let (s1, mut wrong) = token(&app, EMAIL, "Wrong123!").await;
    let (s2, mut unknown) = token(&app, "nobody@example.com", "Wrong123!").await;
    let (s3, mut garbage) = token(&app, "not an email", "Wrong123!").await;
    for body in [&mut wrong, &mut unknown, &mut garbage] {
        body.as_object_mut().unwrap().remove("traceId");
    }
    assert_eq!((s1, s2, s3), (401, 401, 401));
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, garbage);
    assert_eq!(wrong["error"]["message"], "incorrect email or password");
    let form = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"username": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415, "the token endpoint is form-urlencoded");
}

async fn refresh_rotates_and_reuse_revokes_the_whole_session(db: Db) {
    let app = TestApp::spawn(db).await;
    let first = register(&app, EMAIL, PASSWORD).await["data"].clone();
    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, second) =
        json(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": r1})).await).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(me(&app, second["access_token"].as_str().unwrap()).await.0, 200);

    // The spent token comes back (stolen): the whole family dies.
    let (status, _) = json(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": r1})).await).await;
    assert_eq!(status, 401);
    let (status, _) = json(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": r2})).await).await;
    assert_eq!(status, 401, "the legitimate newer token is revoked too");
    assert_eq!(me(&app, second["access_token"].as_str().unwrap()).await.0, 401);
    let rows = app.state.store().audit_page(&Default::default(), 100).await.unwrap();
    assert!(rows.iter().any(|r| r.action == "refresh_token_reuse" && r.outcome == "revoked"));
}

async fn logout_refuses_the_access_token_at_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let tokens = register(&app, EMAIL, PASSWORD).await["data"].clone();
    let access = tokens["access_token"].as_str().unwrap();
    let (status, _) = post_auth(&app, "/api/v1/auth/logout", access, &json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = me(&app, access).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    let (status, _) =
        json(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": tokens["refresh_token"]})).await)
            .await;
    assert_eq!(status, 401);
}

async fn password_change_revokes_other_sessions(db: Db) {
    let app = TestApp::spawn(db).await;
    let phone = register(&app, EMAIL, PASSWORD).await["data"]["access_token"].as_str().unwrap().to_string();
    let tablet = token(&app, EMAIL, PASSWORD).await.1["access_token"].as_str().unwrap().to_string();
    let change = |current: &str| json!({"current_password": current, "new_password": "Safer-Pass-42", "confirm_password": "Safer-Pass-42"});
    let (status, body) = post_auth(&app, "/api/v1/auth/password/change", &phone, &change("Wrong123!")).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("current_password"));
    let (status, fresh) = post_auth(&app, "/api/v1/auth/password/change", &phone, &change(PASSWORD)).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(me(&app, &tablet).await.0, 401);
    assert_eq!(me(&app, &phone).await.0, 401);
    assert_eq!(me(&app, fresh["access_token"].as_str().unwrap()).await.0, 200);
    assert_eq!(token(&app, EMAIL, PASSWORD).await.0, 401);
    assert_eq!(token(&app, EMAIL, "Safer-Pass-42").await.0, 200);
}

async fn reset_token_from_outbox(app: &TestApp, after: usize) -> String {
    for _ in 0..100 {
        let mails = app.state.accounts().outbox(10).await.unwrap();
        if mails.len() > after {
            let body = &mails[0].3;
            assert_eq!(mails[0].1, "parent.one@example.com");
            let token = body.lines().find(|l| l.starts_with("    ")).unwrap().trim().to_string();
            assert!(token.len() >= 43, "at least 256 bits");
            return token;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reset mail arrived in the outbox");
}

async fn password_reset_is_single_use_and_answers_the_same_for_unknown_emails(db: Db) {
    let app = TestApp::spawn(db).await;
    let old = register(&app, EMAIL, PASSWORD).await["data"]["access_token"].as_str().unwrap().to_string();
    let request = |email: &str| json!({"email": email});
    let (s1, mut known) =
        json(app.post_json("/api/v1/auth/password-reset/request", &request(EMAIL)).await).await;
    let (s2, mut unknown) =
        json(app.post_json("/api/v1/auth/password-reset/request", &request("stranger@example.com")).await)
            .await;
    known.as_object_mut().unwrap().remove("traceId");
    unknown.as_object_mut().unwrap().remove("traceId");
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(known, unknown);

    let reset = reset_token_from_outbox(&app, 0).await;
    assert_eq!(app.state.accounts().outbox(10).await.unwrap().len(), 1, "no mail for the unknown address");
    let confirm =
        |t: &str| json!({"token": t, "new_password": "Brand-New-77", "confirm_password": "Brand-New-77"});
    let (status, body) =
        json(app.post_json("/api/v1/auth/password-reset/confirm", &confirm(&reset)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(me(&app, &old).await.0, 401, "a reset ends every session");
    assert_eq!(token(&app, EMAIL, "Brand-New-77").await.0, 200);
    let (status, body) =
        json(app.post_json("/api/v1/auth/password-reset/confirm", &confirm(&reset)).await).await;
    assert_eq!(status, 400, "single use");
    assert!(body["error"]["message"].as_str().unwrap().contains("invalid or expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_reset_token_is_refused() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.accounts.reset_token_ttl_secs = 1).await;
    register(&app, EMAIL, PASSWORD).await;
    app.post_json("/api/v1/auth/password-reset/request", &json!({"email": EMAIL})).await;
    let reset = reset_token_from_outbox(&app, 0).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _) = json(
        app.post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({"token": reset, "new_password": "Brand-New-77", "confirm_password": "Brand-New-77"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(token(&app, EMAIL, PASSWORD).await.0, 200, "the password is unchanged");
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn forged_expired_and_misdirected_tokens_are_rejected(db: Db) {
    let app = TestApp::spawn(db).await;
    let registered = register(&app, EMAIL, PASSWORD).await["data"].clone();
    let good = registered["access_token"].as_str().unwrap().to_string();
    assert_eq!(me(&app, &good).await.0, 200);
    let parts: Vec<&str> = good.split('.').collect();
    let ring = KeyRing::parse(app.state.secrets().token_keys.expose()).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1]).unwrap(),
    )
    .unwrap();
    let (sub, sid) = (claims["sub"].as_str().unwrap(), claims["sid"].as_str().unwrap());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let settings = TokenSettings::default();
    let expired = ring.issue(&settings, sub, sid, "user", now - 3600).unwrap().0;
    let wrong_audience = ring
        .issue(
            &TokenSettings { audience: "someone-else".into(), ..TokenSettings::default() },
            sub,
            sid,
            "user",
            now,
        )
        .unwrap()
        .0;
    let admin_claim = {
        let mut c = claims.clone();
        c["role"] = json!("admin");
        format!("{}.{}.{}", parts[0], b64(c.to_string().as_bytes()), parts[2])
    };
    let alg_none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT","kid":"x"}"#), parts[1]);
    let hs512 = format!("{}.{}.{}", b64(br#"{"alg":"HS512","typ":"JWT"}"#), parts[1], parts[2]);
    let other_key = KeyRing::parse("evil:ZXZpbC1rZXktdGhhdC1pcy1sb25nLWVub3VnaC0xMjM0NTY3OA").unwrap();
    let foreign = other_key.issue(&settings, sub, sid, "admin", now).unwrap().0;
    for (name, token) in [
        ("expired", expired),
        ("wrong audience", wrong_audience),
        ("tampered payload", admin_claim),
        ("alg none", alg_none),
        ("algorithm confusion", hs512),
        ("foreign key", foreign),
        ("garbage", "not.a.jwt".to_string()),
    ] {
        let (status, body) = me(&app, &token).await;
        assert_eq!(status, 401, "{name}: {body}");
    }
}

async fn admin_routes_are_forbidden_to_users_and_open_to_admins(db: Db) {
    let app = TestApp::spawn(db).await;
    let user = register(&app, EMAIL, PASSWORD).await["data"]["access_token"].as_str().unwrap().to_string();
    let get = |t: &str, path: &str| app.client.get(app.url(path)).bearer_auth(t.to_string()).send();
    assert_eq!(get(&user, "/api/v1/admin/audit").await.unwrap().status(), 403);
    assert_eq!(get(&user, "/health/detailed").await.unwrap().status(), 403);

    app.state.accounts().create_admin("admin@example.com", "Admin-Pass-99".into()).await.unwrap();
    let admin = token(&app, "admin@example.com", "Admin-Pass-99").await.1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, page) = json(get(&admin, "/api/v1/admin/audit?limit=2").await.unwrap()).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"]["items"].as_array().unwrap().len(), 2);
    let cursor = page["data"]["nextCursor"].as_str().unwrap();
    let (_, next) =
        json(get(&admin, &format!("/api/v1/admin/audit?limit=2&cursor={cursor}")).await.unwrap()).await;
    let first_seq = page["data"]["items"][1]["seq"].as_i64().unwrap();
    assert!(next["data"]["items"][0]["seq"].as_i64().unwrap() < first_seq, "pages go back in time");
    let (status, _) = json(get(&admin, "/api/v1/admin/audit?action=register").await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(get(&admin, "/health/detailed").await.unwrap().status(), 200);
}

async fn deleted_account_is_refused_at_once_and_restorable_by_an_admin(db: Db) {
    let app = TestApp::spawn(db).await;
    let registered = register(&app, EMAIL, PASSWORD).await["data"].clone();
    let access = registered["access_token"].as_str().unwrap();
    let response = app.client.delete(app.url("/api/v1/account")).bearer_auth(access).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(me(&app, access).await.0, 401);
    assert_eq!(token(&app, EMAIL, PASSWORD).await.0, 401);

    app.state.accounts().create_admin("admin@example.com", "Admin-Pass-99".into()).await.unwrap();
    let admin = token(&app, "admin@example.com", "Admin-Pass-99").await.1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = registered["user_id"].as_str().unwrap();
    let (status, body) =
        post_auth(&app, &format!("/api/v1/admin/users/{id}/restore"), &admin, &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(token(&app, EMAIL, PASSWORD).await.0, 200);
    let (status, _) = post_auth(&app, &format!("/api/v1/admin/users/{id}/restore"), &admin, &json!({})).await;
    assert_eq!(status, 404, "nothing left to restore");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_deletion_needs_a_recent_login() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.accounts.recent_login_secs = 1).await;
    let access = register(&app, EMAIL, PASSWORD).await["data"]["access_token"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = app.client.delete(app.url("/api/v1/account")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(me(&app, &access).await.0, 200, "nothing was deleted");
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).build().unwrap()
}

async fn failed_logins_are_throttled_without_locking_out_the_owner(db: Db) {
    let app = TestApp::spawn(db).await;
    register(&app, EMAIL, PASSWORD).await;
    let attacker = client_from("127.0.0.2");
    let owner = client_from("127.0.0.3");
    let attempt = |client: &reqwest::Client, password: &str| {
        client
            .post(app.url("/api/v1/auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username={}&password={password}", urlencode(EMAIL)))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(attempt(&attacker, "Guess1234").await.unwrap().status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    let throttled = attempt(&attacker, PASSWORD).await.unwrap();
    assert_eq!(throttled.status(), 429, "even the right password waits once blocked");
    assert!(throttled.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let (_, body) = json(throttled).await;
    assert_eq!(body["error"]["code"], "RATE_LIMITED");

    let (status, _) = json(attempt(&owner, PASSWORD).await.unwrap()).await;
    assert_eq!(status, 200, "the owner, from another client, can still sign in");
}

async fn no_email_is_stored_in_clear(db: Db) {
    let app = TestApp::spawn(db).await;
    let email = "very.unique.parent@example.org";
    register(&app, email, PASSWORD).await;
    app.post_json("/api/v1/auth/password-reset/request", &json!({"email": email})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dump: String = match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => {
            // The file itself, after moving the write-ahead log into it.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(p).await.unwrap();
            let file = p.connect_options().get_filename().to_path_buf();
            String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned()
        }
        babyshield_storage::Pool::Postgres(p) => {
            let mut text = String::new();
            for table in ["users", "audit_log", "mail_outbox", "sessions", "login_throttle"] {
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
    assert!(dump.contains("v1:"), "sealed values are present: {}", &dump[..dump.len().min(300)]);
    assert!(!dump.to_lowercase().contains("very.unique.parent"), "email in clear in the database");
    assert!(!dump.contains(PASSWORD));
}

async fn audit_trail_records_events_and_detects_tampering(db: Db) {
    let app = TestApp::spawn(db).await;
    let tokens = register(&app, EMAIL, PASSWORD).await["data"].clone();
    token(&app, EMAIL, "Wrong123!").await;
    json(app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": tokens["refresh_token"]})).await)
        .await;
    post_auth(&app, "/api/v1/auth/logout", tokens["access_token"].as_str().unwrap(), &json!({})).await;
    let rows = app.state.store().audit_all().await.unwrap();
    let actions: Vec<(&str, &str)> = rows.iter().map(|r| (r.action.as_str(), r.outcome.as_str())).collect();
    for expected in
        [("register", "success"), ("login", "success"), ("login", "failure"), ("token_refresh", "success")]
    {
        assert!(actions.contains(&expected), "{expected:?} missing from {actions:?}");
    }
    assert!(
        rows.iter()
            .all(|r| !r.details.contains(PASSWORD) && !r.details.to_lowercase().contains("example.com"))
    );
    assert!(rows.iter().all(|r| r.request_id.len() == 32 && !r.ip_hash.contains("127.0.0.1")));
    assert_eq!(app.state.accounts().verify_audit().await.unwrap(), Ok(rows.len() as u64));

    // Someone edits a row directly in the database.
    let victim = rows[2].seq;
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => {
            sqlx::query("UPDATE audit_log SET outcome = 'success' WHERE seq = $1")
                .bind(victim)
                .execute(p)
                .await
                .unwrap();
        }
        babyshield_storage::Pool::Postgres(p) => {
            sqlx::query("UPDATE audit_log SET outcome = 'success' WHERE seq = $1")
                .bind(victim)
                .execute(p)
                .await
                .unwrap();
        }
    }
    let broken = app.state.accounts().verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, victim);
}

async fn hashing_overflow_answers_503_while_other_endpoints_keep_serving(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.accounts.hashing_concurrency = 1;
        c.accounts.hashing_queue = 1;
    })
    .await;
    register(&app, EMAIL, PASSWORD).await;
    let logins: Vec<_> = (0..12)
        .map(|i| {
            let client = client_from(&format!("127.0.1.{}", i + 1));
            let url = app.url("/api/v1/auth/token");
            tokio::spawn(async move {
                client
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("username={}&password={PASSWORD}", urlencode(EMAIL)))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    // While logins queue up, health and search answer.
    assert_eq!(app.get("/health/live").await.status(), 200);
    assert_eq!(app.post_json("/api/v1/search/advanced", &json!({"query": "crib"})).await.status(), 200);
    let mut statuses = Vec::new();
    for login in logins {
        let response = login.await.unwrap();
        if response.status() == 503 {
            assert_eq!(response.headers()["retry-after"], "1");
        }
        statuses.push(response.status().as_u16());
    }
    assert!(statuses.contains(&503), "the bounded queue overflowed: {statuses:?}");
    assert!(statuses.contains(&200), "admitted logins succeed: {statuses:?}");
}

async fn key_rotation_reseals_personal_data(db: Db) {
    let app = TestApp::spawn(db).await;
    let access = register(&app, EMAIL, PASSWORD).await["data"]["access_token"].as_str().unwrap().to_string();
    let (_, before) = me(&app, &access).await;
    // Prepend a new current key, keep the old one to open existing data.
    let old = app.state.secrets().data_keys.expose().to_string();
    let mut secrets = app.state.secrets().clone();
    let new_key = format!("knew:{}", b64(b"a-brand-new-data-key-32-bytes!!!"));
    secrets.data_keys = babyshield_server::config::Secret::from(format!("{new_key},{old}"));
    let rotated =
        babyshield_server::accounts::Accounts::new(app.state.config(), &secrets, app.state.store().clone())
            .unwrap();
    let report = rotated.rotate_keys(|_| {}).await.unwrap();
    assert_eq!(report.resealed, 1);
    let user = app.state.store().users_sealed_with_other_key("knew", 10).await.unwrap();
    assert!(user.is_empty(), "every account sealed with the new key");
    assert_eq!(rotated.rotate_keys(|_| {}).await.unwrap().resealed, 0, "idempotent");
    let rows = app.state.store().audit_all().await.unwrap();
    assert!(rows.iter().any(|r| r.action == "key_rotation"));
    assert_eq!(before["data"]["email"], "parent.one@example.com");
}

/// Raising the hashing cost upgrades each stored hash at its next login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_are_upgraded_transparently_when_the_cost_rises() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("rehash.db").display());
    let config = crate::harness::test_config(dir.path(), &db_url);
    let first = TestApp::start(config.clone(), tempfile::tempdir().unwrap()).await;
    let user_id = register(&first, EMAIL, PASSWORD).await["data"]["user_id"].as_str().unwrap().to_string();
    let before = first.state.store().user_by_id(&user_id).await.unwrap().unwrap().password_hash;
    assert!(before.contains("m=19456"), "{before}");
    first.stop().await.unwrap();

    let mut stronger = config;
    stronger.accounts.argon2_memory_kib = 24_576;
    let second = TestApp::start(stronger, tempfile::tempdir().unwrap()).await;
    assert_eq!(token(&second, EMAIL, PASSWORD).await.0, 200, "the old hash still verifies");
    let after = second.state.store().user_by_id(&user_id).await.unwrap().unwrap().password_hash;
    assert!(after.contains("m=24576"), "rehashed with the new cost: {after}");
    assert_eq!(token(&second, EMAIL, PASSWORD).await.0, 200);
}

async fn deleted_accounts_are_purged_after_the_retention_period(db: Db) {
    let app = TestApp::spawn(db).await;
    let recent = register(&app, "recent@example.com", PASSWORD).await["data"].clone();
    let old = register(&app, EMAIL, PASSWORD).await["data"].clone();
    for account in [&recent, &old] {
        let access = account["access_token"].as_str().unwrap();
        assert_eq!(
            app.client.delete(app.url("/api/v1/account")).bearer_auth(access).send().await.unwrap().status(),
            204
        );
    }
    // Nothing is past the 30-day retention yet.
    assert_eq!(app.state.accounts().purge_deleted().await.unwrap(), 0);
    let old_id = old["user_id"].as_str().unwrap();
    let backdate = "UPDATE users SET deleted_at = '2000-01-01T00:00:00Z' WHERE id = $1";
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => {
            sqlx::query(backdate).bind(old_id).execute(p).await.unwrap();
        }
        babyshield_storage::Pool::Postgres(p) => {
            sqlx::query(backdate).bind(old_id).execute(p).await.unwrap();
        }
    }
    assert_eq!(app.state.accounts().purge_deleted().await.unwrap(), 1);
    assert!(app.state.store().user_by_id(old_id).await.unwrap().is_none(), "purged with its rows");
    let recent_id = recent["user_id"].as_str().unwrap();
    assert!(app.state.store().user_by_id(recent_id).await.unwrap().is_some(), "still restorable");
    let rows = app.state.store().audit_all().await.unwrap();
    assert!(rows.iter().any(|r| r.action == "account_purge" && r.target == old_id));
    assert!(app.state.accounts().verify_audit().await.unwrap().is_ok());
}

async fn a_registration_that_fails_half_way_leaves_nothing_behind(db: Db) {
    let app = TestApp::spawn(db).await;
    // Make the session insert (after the user insert) fail inside the database.
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => {
            sqlx::query("CREATE TRIGGER fail_sessions BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'injected'); END")
                .execute(p)
                .await
                .unwrap();
        }
        babyshield_storage::Pool::Postgres(p) => {
            sqlx::query("CREATE FUNCTION fail_sessions() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ LANGUAGE plpgsql")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("CREATE TRIGGER fail_sessions BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION fail_sessions()")
                .execute(p)
                .await
                .unwrap();
        }
    }
    let (status, body) = json(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": EMAIL, "password": PASSWORD, "confirm_password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert!(!body.to_string().contains("injected"), "5xx bodies stay opaque");
    assert_eq!(app.state.store().count_users().await.unwrap(), 0, "no account without its session");
    let audit = app.state.store().audit_all().await.unwrap();
    assert!(audit.iter().all(|r| r.action != "register"), "no audit row for what did not happen");
    assert!(app.state.accounts().verify_audit().await.unwrap().is_ok());
}

async fn a_password_change_that_fails_half_way_changes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let phone = register(&app, EMAIL, PASSWORD).await["data"]["access_token"].as_str().unwrap().to_string();
    // The new session's insert (the last write of the change) fails.
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => {
            sqlx::query("CREATE TRIGGER fail_sessions BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'injected'); END")
                .execute(p)
                .await
                .unwrap();
        }
        babyshield_storage::Pool::Postgres(p) => {
            sqlx::raw_sql(
                "CREATE FUNCTION fail_sessions() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ \
                 LANGUAGE plpgsql; \
                 CREATE TRIGGER fail_sessions BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION fail_sessions()",
            )
            .execute(p)
            .await
            .unwrap();
        }
    }
    let change = json!({"current_password": PASSWORD, "new_password": "Safer-Pass-42", "confirm_password": "Safer-Pass-42"});
    let (status, _) = post_auth(&app, "/api/v1/auth/password/change", &phone, &change).await;
    assert_eq!(status, 500);
    assert_eq!(me(&app, &phone).await.0, 200, "the session was not revoked");
    let rows = app.state.store().audit_all().await.unwrap();
    assert!(rows.iter().all(|r| !(r.action == "password_change" && r.outcome == "success")));
    assert!(app.state.accounts().verify_audit().await.unwrap().is_ok());
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => {
            sqlx::query("DROP TRIGGER fail_sessions").execute(p).await.unwrap();
        }
        babyshield_storage::Pool::Postgres(p) => {
            sqlx::query("DROP TRIGGER fail_sessions ON sessions").execute(p).await.unwrap();
        }
    }
    assert_eq!(token(&app, EMAIL, "Safer-Pass-42").await.0, 401, "the new password was not stored");
    assert_eq!(token(&app, EMAIL, PASSWORD).await.0, 200);
}
