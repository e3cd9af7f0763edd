//! Accounts end to end through the binary: the operator's quick start, what
//! the logs must never hold, and the operator verbs (`user create-admin`,
//! `keys rotate`, `audit verify`, `outbox`) against a database the server
//! really wrote.

use std::{process::Command, time::Duration};

use serde_json::{Value, json};

use crate::harness::{Outcome, Sandbox, Server};

/// Keeps startup fast: these tests need accounts, not recalls.
const NO_SAMPLE: (&str, &str) = ("BABYSHIELD__DATABASE__LOAD_SAMPLE_DATA", "false");

fn client() -> reqwest::Client {
    crate::harness::http_client(Duration::from_secs(60))
}

/// `serve` with JSON logs, no sample data, and the given extra configuration.
fn start(sandbox: &Sandbox, env: &[(&str, &str)]) -> Server {
    let mut all = vec![NO_SAMPLE];
    all.extend_from_slice(env);
    tokio::task::block_in_place(|| Server::start_json(sandbox, &all))
}

/// SIGTERM, then a bounded wait for a clean exit.
fn stop(server: &mut Server) {
    server.sigterm();
    let exit = tokio::task::block_in_place(|| server.wait_for_exit());
    assert_eq!(exit.code(), Some(0), "{exit}\n{}\n{}", server.stderr(), server.stdout().join("\n"));
}

/// Runs the binary to completion from async code.
fn run(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    tokio::task::block_in_place(|| sandbox.run(args, env))
}

/// `application/x-www-form-urlencoded` encoding of one value (everything but
/// unreserved characters percent-encoded).
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Base64url without padding, as the key rings expect.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The `data_keys` ring in the generated `data/secrets.toml`.
fn data_keys(sandbox: &Sandbox) -> String {
    let secrets = std::fs::read_to_string(sandbox.join("data/secrets.toml")).expect("read data/secrets.toml");
    let line = secrets
        .lines()
        .find_map(|l| l.strip_prefix("data_keys = \""))
        .unwrap_or_else(|| panic!("no data_keys in secrets.toml:\n{secrets}"));
    line.strip_suffix('"').expect("a one-line string").to_string()
}

/// Replaces the `data_keys` ring in `data/secrets.toml`, keeping the rest.
fn set_data_keys(sandbox: &Sandbox, ring: &str) {
    let path = sandbox.join("data/secrets.toml");
    let secrets = std::fs::read_to_string(&path).expect("read data/secrets.toml");
    let edited: Vec<String> = secrets
        .lines()
        .map(
            |l| if l.starts_with("data_keys = ") { format!("data_keys = \"{ring}\"") } else { l.to_string() },
        )
        .collect();
    std::fs::write(&path, edited.join("\n") + "\n").expect("write data/secrets.toml");
    assert_eq!(data_keys(sandbox), ring);
}

/// 32 random bytes in base64url, the shape of a data key.
fn random_key() -> String {
    let mut key = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut key).unwrap();
    base64url(&key)
}

async fn response_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// Registers an account; asserts 201 and returns the envelope's `data`.
async fn register(server: &Server, email: &str, password: &str) -> Value {
    let response = client()
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({"email": email, "password": password, "confirm_password": password}))
        .send()
        .await
        .expect("register request sent");
    let (status, body) = response_json(response).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["ok"], json!(true), "{body}");
    body["data"].clone()
}

/// `POST /auth/token` with exactly these form bytes, as `curl -d` sends them.
async fn token_raw(server: &Server, form: &str) -> (u16, Value) {
    let response = client()
        .post(server.url("/api/v1/auth/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .expect("token request sent");
    response_json(response).await
}

async fn token(server: &Server, email: &str, password: &str) -> (u16, Value) {
    token_raw(server, &format!("username={}&password={}", form_encode(email), form_encode(password))).await
}

/// Signs in and returns the access token (asserting success).
async fn sign_in(server: &Server, email: &str, password: &str) -> String {
    let (status, body) = token(server, email, password).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("access_token").to_string()
}

async fn get_bearer(server: &Server, path: &str, access_token: &str) -> (u16, Value) {
    let response =
        client().get(server.url(path)).bearer_auth(access_token).send().await.expect("request sent");
    response_json(response).await
}

/// Runs a Python `sqlite3` script against the sandbox's database (passed as
/// `sys.argv[1]`, opened as `db`); returns what the script prints.
fn sqlite(sandbox: &Sandbox, script: &str) -> String {
    let db = sandbox.join("data/babyshield.db");
    assert!(db.exists(), "no database at {}", db.display());
    let program = format!(
        "import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1])\n{script}\ndb.commit()\ndb.close()\n"
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&program)
        .arg(&db)
        .output()
        .expect("run python3 (needed to edit the SQLite file directly)");
    assert!(
        output.status.success(),
        "python sqlite3 script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 from python")
}

/// The reset token in the newest mail of `babyshield outbox`.
fn reset_token_from_outbox(outbox: &str) -> String {
    let (_, rest) = outbox
        .split_once("reset-password?token=")
        .unwrap_or_else(|| panic!("no reset link in the outbox:\n{outbox}"));
    let token: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    assert!(token.len() >= 16, "implausible reset token {token:?}");
    token
}

fn assert_verify(sandbox: &Sandbox, code: i32, expected: &str) -> String {
    let outcome = sandbox.run(&["audit", "verify"], &[]);
    assert_eq!(outcome.code, Some(code), "{outcome:?}");
    assert!(outcome.stdout.contains(expected), "expected {expected:?} in:\n{outcome:?}");
    outcome.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_quick_start_works_verbatim() {
    let sandbox = Sandbox::new();
    let mut server = tokio::task::block_in_place(|| Server::start_on_free_port(&sandbox, &[NO_SAMPLE]));

    // curl -X POST .../api/v1/auth/register -H 'Content-Type: application/json' -d '{...}'
    let response = client()
        .post(server.url("/api/v1/auth/register"))
        .header("Content-Type", "application/json")
        .body(r#"{"email":"test@example.com","password":"Test123!","confirm_password":"Test123!"}"#)
        .send()
        .await
        .expect("register request sent");
    let (status, registered) = response_json(response).await;
    assert_eq!(status, 201, "{registered}");
    let user_id = registered["data"]["user_id"].as_str().expect("data.user_id").to_string();
    assert!(registered["data"]["access_token"].is_string(), "{registered}");

    // curl -X POST .../api/v1/auth/token -d 'username=test@example.com&password=Test123!'
    let (status, tokens) = token_raw(&server, "username=test@example.com&password=Test123!").await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], json!("bearer"), "{tokens}");
    assert!(tokens["expires_in"].as_i64().is_some_and(|s| s > 0), "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let access = tokens["access_token"].as_str().expect("access_token");

    // curl .../api/v1/auth/me -H "Authorization: Bearer $TOKEN"
    let (status, me) = get_bearer(&server, "/api/v1/auth/me", access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["ok"], json!(true), "{me}");
    assert_eq!(me["data"]["email"], json!("test@example.com"), "{me}");
    assert_eq!(me["data"]["id"], json!(user_id), "{me}");
    assert_eq!(me["data"]["role"], json!("user"), "{me}");

    stop(&mut server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_emails_passwords_or_tokens() {
    let sandbox = Sandbox::new();
    let mut server = start(&sandbox, &[("BABYSHIELD__LOG__LEVEL", "debug")]);
    let email = "Canary.Parent.Q7x@Leak-Check.Example.ORG";
    let password = "Zebra!Quartz#7741-canary";
    let wrong = "Wrong!Quartz#9902-canary";

    let registered = register(&server, email, password).await;
    let mut secrets: Vec<String> = vec![
        registered["access_token"].as_str().expect("access_token").into(),
        registered["refresh_token"].as_str().expect("refresh_token").into(),
    ];

    let (status, body) = token(&server, email, wrong).await;
    assert_eq!(status, 401, "{body}");

    let (status, tokens) = token(&server, email, password).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token").to_string();
    secrets.push(tokens["access_token"].as_str().unwrap().into());
    secrets.push(refresh.clone());

    let response = client()
        .post(server.url("/api/v1/auth/refresh"))
        .json(&json!({ "refresh_token": refresh }))
        .send()
        .await
        .expect("refresh request sent");
    let (status, refreshed) = response_json(response).await;
    assert_eq!(status, 200, "{refreshed}");
    let access = refreshed["access_token"].as_str().expect("access_token").to_string();
    secrets.push(access.clone());
    secrets.push(refreshed["refresh_token"].as_str().expect("refresh_token").into());

    let response = client()
        .post(server.url("/api/v1/auth/password-reset/request"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("reset request sent");
    let (status, body) = response_json(response).await;
    assert_eq!(status, 202, "{body}");

    let (status, me) = get_bearer(&server, "/api/v1/auth/me", &access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["email"].as_str().map(str::to_lowercase), Some(email.to_lowercase()), "{me}");

    stop(&mut server);
    let log = format!("{}\n{}", server.stdout().join("\n"), server.stderr());
    // The capture really is the debug-level JSON log of those requests.
    assert!(log.contains(r#""level":"DEBUG""#), "no debug lines captured:\n{log}");
    assert!(log.contains(r#""http.route":"/api/v1/auth/token""#), "{log}");
    // sqlx logs every statement at debug: its lines are in the capture too.
    assert!(log.contains(r#""target":"sqlx::query""#), "no sqlx statement lines captured:\n{log}");

    let outbox = run(&sandbox, &["outbox"], &[]);
    assert_eq!(outbox.code, Some(0), "{outbox:?}");
    secrets.push(reset_token_from_outbox(&outbox.stdout));

    let lowered = log.to_lowercase();
    let lower_email = email.to_lowercase();
    for needle in
        [lower_email.clone(), form_encode(&lower_email).to_lowercase(), lower_email.replace('@', "\\u0040")]
    {
        assert!(!lowered.contains(&needle), "the log holds the email ({needle}):\n{log}");
    }
    let local_part = lower_email.split('@').next().unwrap();
    assert!(!lowered.contains(local_part), "the log holds the email's local part:\n{log}");
    for pw in [password, wrong] {
        assert!(!log.contains(pw), "the log holds a password:\n{log}");
        assert!(!log.contains(&form_encode(pw)), "the log holds a form-encoded password:\n{log}");
    }
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "the log holds a token ({secret}):\n{log}");
        // A JWT's signature alone is as bad as the whole token.
        if let Some(signature) = secret.rsplit('.').next().filter(|s| s.len() >= 16 && *s != secret) {
            assert!(!log.contains(signature), "the log holds a token signature:\n{log}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_admin_then_admin_routes_open() {
    let sandbox = Sandbox::new();
    let admin_password = "Boss-Strong-Pass-4417";
    let created = run(
        &sandbox,
        &["user", "create-admin", "--email", "boss@example.com"],
        &[("BABYSHIELD_ADMIN_PASSWORD", admin_password)],
    );
    assert_eq!(created.code, Some(0), "{created:?}");
    let admin_id = created
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin account ").and_then(|r| r.strip_suffix(" ready")))
        .unwrap_or_else(|| panic!("no admin id printed: {created:?}"))
        .to_string();
    assert_eq!(admin_id.len(), 36, "not a UUID: {admin_id}");

    let mut server = start(&sandbox, &[]);
    let admin = sign_in(&server, "boss@example.com", admin_password).await;
    let (status, me) = get_bearer(&server, "/api/v1/auth/me", &admin).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["id"], json!(admin_id), "{me}");
    assert_eq!(me["data"]["role"], json!("admin"), "{me}");

    let (status, page) = get_bearer(&server, "/api/v1/admin/audit", &admin).await;
    assert_eq!(status, 200, "{page}");
    let items = page["data"]["items"].as_array().unwrap_or_else(|| panic!("no items: {page}"));
    assert!(
        items.iter().any(|i| i["action"] == json!("register") && i["target"] == json!(admin_id)),
        "no register item for the admin: {page}"
    );

    let user = register(&server, "parent@example.com", "Parent-Pass-8812").await;
    let user_token = user["access_token"].as_str().expect("access_token");
    let (status, body) = get_bearer(&server, "/api/v1/admin/audit", user_token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["ok"], json!(false), "{body}");

    stop(&mut server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_detects_an_edited_row() {
    let sandbox = Sandbox::new();
    let mut server = start(&sandbox, &[]);
    register(&server, "audited@example.com", "Audited-Pass-5521").await;
    sign_in(&server, "audited@example.com", "Audited-Pass-5521").await;
    stop(&mut server);

    tokio::task::block_in_place(|| {
        let intact = assert_verify(&sandbox, 0, "audit trail intact:");
        let rows: u64 = intact
            .split("intact: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no row count in {intact:?}"));
        // register, the session it opens, and the sign-in.
        assert!(rows >= 3, "{intact}");

        let original =
            sqlite(&sandbox, "print(db.execute('SELECT outcome FROM audit_log WHERE seq=2').fetchone()[0])");
        let original = original.trim().to_string();
        assert_ne!(original, "x");
        sqlite(&sandbox, "db.execute(\"UPDATE audit_log SET outcome='x' WHERE seq=2\")");
        assert_verify(&sandbox, 1, "audit trail BROKEN at seq 2: Edited");

        // Putting the value back makes the chain whole again.
        sqlite(&sandbox, &format!("db.execute(\"UPDATE audit_log SET outcome='{original}' WHERE seq=2\")"));
        assert_verify(&sandbox, 0, &format!("audit trail intact: {rows} rows verified"));

        // A deleted middle row is reported at the row that now follows a gap.
        sqlite(&sandbox, "db.execute('DELETE FROM audit_log WHERE seq=2')");
        assert_verify(&sandbox, 1, "audit trail BROKEN at seq 3: Deleted");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_reseals_with_the_new_key_and_data_stays_readable() {
    let sandbox = Sandbox::new();
    let email = "rotated@example.com";
    let password = "Rotated-Pass-3390";
    let mut server = start(&sandbox, &[]);
    let user_id = register(&server, email, password).await["user_id"].as_str().unwrap().to_string();
    stop(&mut server);

    let old_kid = data_keys(&sandbox).split(':').next().unwrap().to_string();
    let before = sqlite(&sandbox, "print(db.execute('SELECT email_sealed FROM users').fetchone()[0])");
    assert!(before.starts_with(&format!("v1:{old_kid}:")), "{before}");

    set_data_keys(&sandbox, &format!("{}:{},{}", "knew01", random_key(), data_keys(&sandbox)));

    let rotated = run(&sandbox, &["keys", "rotate"], &[]);
    assert_eq!(rotated.code, Some(0), "{rotated:?}");
    assert!(rotated.stdout.contains("re-sealed 1 accounts"), "{rotated:?}");
    let sealed = sqlite(&sandbox, "for (s,) in db.execute('SELECT email_sealed FROM users'): print(s)");
    let sealed: Vec<&str> = sealed.lines().collect();
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    assert!(sealed[0].starts_with("v1:knew01:"), "{sealed:?}");
    assert_ne!(sealed[0], before.trim(), "the value was not re-sealed");

    // Nothing left to do on a second run.
    let again = run(&sandbox, &["keys", "rotate"], &[]);
    assert_eq!(again.code, Some(0), "{again:?}");
    assert!(again.stdout.contains("re-sealed 0 accounts"), "{again:?}");

    let mut server = start(&sandbox, &[]);
    let access = sign_in(&server, email, password).await;
    let (status, me) = get_bearer(&server, "/api/v1/auth/me", &access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["email"], json!(email), "{me}");
    assert_eq!(me["data"]["id"], json!(user_id), "{me}");
    stop(&mut server);

    let verify = run(&sandbox, &["audit", "verify"], &[]);
    assert_eq!(verify.code, Some(0), "the rotation is audited on the same chain: {verify:?}");
}

/// README "Rotating keys": put the new key first, run `keys rotate`, "once it
/// reports 0 left, the old key can go". Everything sealed must then still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_keys_rotate_reports_zero_left_the_old_data_key_can_go() {
    let sandbox = Sandbox::new();
    let email = "rotated.mail@example.com";
    let password = "Rotated-Mail-Pass-2290";
    let mut server = start(&sandbox, &[]);
    register(&server, email, password).await;
    let response = client()
        .post(server.url("/api/v1/auth/password-reset/request"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("reset request sent");
    assert_eq!(response.status(), 202);
    stop(&mut server);

    let old_ring = data_keys(&sandbox);
    let new_entry = format!("knew02:{}", random_key());
    set_data_keys(&sandbox, &format!("{new_entry},{old_ring}"));
    let rotated = run(&sandbox, &["keys", "rotate"], &[]);
    assert_eq!(rotated.code, Some(0), "{rotated:?}");
    let again = run(&sandbox, &["keys", "rotate"], &[]);
    assert!(again.stdout.contains("re-sealed 0 accounts"), "{again:?}");

    // Nothing may still be sealed with the old key...
    let kids = sqlite(
        &sandbox,
        "for (t, s) in db.execute(\"SELECT 'users', email_sealed FROM users UNION ALL \
         SELECT 'mail_outbox', recipient_sealed FROM mail_outbox UNION ALL \
         SELECT 'mail_outbox', body_sealed FROM mail_outbox\"): print(t, s.split(':')[1])",
    );
    for line in kids.lines() {
        assert!(line.ends_with(" knew02"), "still sealed with an old key after rotation: {line}\n{kids}");
    }

    // ...so dropping it breaks nothing.
    set_data_keys(&sandbox, &new_entry);
    let outbox = run(&sandbox, &["outbox"], &[]);
    assert_eq!(outbox.code, Some(0), "{outbox:?}");
    assert!(outbox.stdout.lines().any(|l| l == format!("To: {email}")), "{outbox:?}");
    let mut server = start(&sandbox, &[]);
    let access = sign_in(&server, email, password).await;
    let (status, me) = get_bearer(&server, "/api/v1/auth/me", &access).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["email"], json!(email), "{me}");
    stop(&mut server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_shows_the_reset_mail_to_the_operator() {
    let sandbox = Sandbox::new();
    let email = "forgetful@example.com";
    let mut server = start(&sandbox, &[]);
    register(&server, email, "Forgetful-Pass-6604").await;
    let response = client()
        .post(server.url("/api/v1/auth/password-reset/request"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("reset request sent");
    let (status, body) = response_json(response).await;
    assert_eq!(status, 202, "{body}");
    // Shutdown waits for the mail task, so the mail is stored once `serve` exits.
    stop(&mut server);

    let outbox = run(&sandbox, &["outbox"], &[]);
    assert_eq!(outbox.code, Some(0), "{outbox:?}");
    assert!(outbox.stdout.lines().any(|l| l == format!("To: {email}")), "{outbox:?}");
    let subject = outbox
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_else(|| panic!("no Subject line: {outbox:?}"));
    assert!(subject.to_lowercase().contains("reset"), "{subject}");
    reset_token_from_outbox(&outbox.stdout);

    let limited = run(&sandbox, &["outbox", "--limit", "1"], &[]);
    assert_eq!(limited.code, Some(0), "{limited:?}");
    assert_eq!(limited.stdout.matches("\nTo: ").count(), 1, "{limited:?}");
}

#[test]
fn the_test_key_encoder_matches_known_base64url_vectors() {
    assert_eq!(base64url(b""), "");
    assert_eq!(base64url(b"f"), "Zg");
    assert_eq!(base64url(b"fo"), "Zm8");
    assert_eq!(base64url(b"foo"), "Zm9v");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    assert_eq!(base64url(&[0u8; 32]).len(), 43);
}
