//! Issue: feature flags. "Boolean and percentage flags defined in config,
//! overridable at runtime by admins, persisted, visible on all instances
//! within seconds; used to gate new capabilities."

use std::time::{Duration, Instant};

use babyshield_server::flags::{FlagValue, bucket};
use serde_json::{Value, json};

use crate::{
    harness::{Db, TestApp, json},
    idempotency::two_apps,
};

crate::on_both_databases!(
    flags_toggled_on_one_instance_are_seen_by_the_other,
    only_admins_see_or_change_flags,
    flag_changes_are_validated_and_percentages_bucket_stably,
);

const FLAGS: &str = "/api/v1/admin/flags";
const OPEN: &str = "/api/v1/admin/flags/auth.registration_open";

async fn put(app: &TestApp, token: &str, path: &str, change: &Value) -> (u16, Value) {
    json(app.client.put(app.url(path)).bearer_auth(token).json(change).send().await.unwrap()).await
}

async fn list(app: &TestApp, token: &str) -> (u16, Value) {
    json(app.client.get(app.url(FLAGS)).bearer_auth(token).send().await.unwrap()).await
}

async fn flag(app: &TestApp, token: &str, name: &str) -> Value {
    let (status, body) = list(app, token).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["items"].as_array().unwrap().iter().find(|f| f["name"] == name).cloned().unwrap()
}

async fn register(app: &TestApp, email: &str) -> (u16, Value) {
    let body = json!({"email": email, "password": "Test123!", "confirm_password": "Test123!"});
    json(app.post_json("/api/v1/auth/register", &body).await).await
}

/// Polls `app` until the flag's effective value is `expected` (at most 5 s).
async fn wait_for(app: &TestApp, token: &str, name: &str, expected: Value) {
    let started = Instant::now();
    loop {
        let current = flag(app, token, name).await["effective"].clone();
        if current == expected {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{name} is still {current}, not {expected}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn flags_toggled_on_one_instance_are_seen_by_the_other(db: Db) {
    let (a, b) = two_apps(db, |c, _| {
        c.rate_limit.enabled = false;
        c.flags.refresh_ms = 500;
    })
    .await;
    let admin = a.admin_token("admin@example.com").await;
    assert_eq!(register(&b, "before@example.com").await.0, 201, "open by default");

    let (status, changed) = put(&a, &admin, OPEN, &json!({"enabled": false})).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["data"]["effective"], json!({"enabled": false}));
    assert_eq!(changed["data"]["default"], json!({"enabled": true}));
    assert!(changed["data"]["override"]["updatedBy"].is_string());
    let (status, refused) = register(&a, "on-a@example.com").await;
    assert_eq!(status, 403, "the instance that changed it applies it at once: {refused}");

    wait_for(&b, &admin, "auth.registration_open", json!({"enabled": false})).await;
    let (status, refused) = register(&b, "on-b@example.com").await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "FORBIDDEN");
    assert_eq!(refused["error"]["message"], "registration is closed");

    let (status, reset) = put(&b, &admin, OPEN, &json!({"reset": true})).await;
    assert_eq!(status, 200, "{reset}");
    assert!(reset["data"]["override"].is_null());
    wait_for(&a, &admin, "auth.registration_open", json!({"enabled": true})).await;
    assert_eq!(register(&a, "after@example.com").await.0, 201);

    let audit = json(
        a.client
            .get(a.url("/api/v1/admin/audit?action=flag_change"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await
    .1;
    let items = audit["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{audit}");
    assert_eq!(items[0]["target"], "auth.registration_open");
}

async fn only_admins_see_or_change_flags(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, user) = register(&app, "user@example.com").await;
    let user = user["data"]["access_token"].as_str().unwrap();
    assert_eq!(list(&app, user).await.0, 403);
    assert_eq!(put(&app, user, OPEN, &json!({"enabled": false})).await.0, 403);
    assert_eq!(app.get(FLAGS).await.status(), 401);
    assert_eq!(register(&app, "still-open@example.com").await.0, 201, "nothing changed");
}

async fn flag_changes_are_validated_and_percentages_bucket_stably(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.rate_limit.enabled = false;
        c.flags.flags.insert("search.new_ranking".into(), FlagValue::Percent(25));
    })
    .await;
    let admin = app.admin_token("admin@example.com").await;
    let ranking = "/api/v1/admin/flags/search.new_ranking";
    for (change, status) in [
        (json!({"enabled": true, "percent": 5}), 400),
        (json!({"percent": 101}), 400),
        (json!({"percent": -1}), 400),
        (json!({"reset": false}), 400),
        (json!({}), 400),
        (json!({"colour": "red"}), 400),
    ] {
        let (got, body) = put(&app, &admin, ranking, &change).await;
        assert_eq!(got, status, "{change}: {body}");
    }
    let (status, body) =
        put(&app, &admin, "/api/v1/admin/flags/no.such_flag", &json!({"enabled": true})).await;
    assert_eq!(status, 404, "{body}");

    let listed = flag(&app, &admin, "search.new_ranking").await;
    assert_eq!(listed["default"], json!({"percent": 25}));
    assert!(listed["override"].is_null());
    let (status, body) = put(&app, &admin, ranking, &json!({"percent": 60})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["effective"], json!({"percent": 60}));

    let flags = app.state.flags();
    let subjects: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    let on = subjects.iter().filter(|s| flags.is_enabled("search.new_ranking", s)).count();
    assert!((520..=680).contains(&on), "about 60 % of subjects: {on}");
    for s in &subjects {
        assert_eq!(flags.is_enabled("search.new_ranking", s), bucket("search.new_ranking", s) < 60);
    }
    assert!(!flags.is_enabled("no.such_flag", "user-1"), "an unknown flag is off");
}
