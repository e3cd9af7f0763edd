//! Issue: ingestion, scheduled pulls. The pulls page through a fake agency
//! on a real socket (`ingest_feed`) that also times out, answers 500,
//! sends malformed JSON and drops connections mid-body: runs retry or fail
//! cleanly, the breaker opens, nothing is duplicated or half-written, an
//! interrupted run resumes from its cursor, a source's lease keeps two
//! instances from pulling it at once, and freshness is reported without
//! touching readiness. On SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use babyshield_ingest::Source;
use babyshield_server::{config::Config, ingest::StartError};
use babyshield_storage::ingest::IngestRun;
use serde_json::{Value, json};

use crate::{
    family::{count, exec},
    harness::{Db, TestApp, json},
    ingest_feed::{Fault, Feed, days_ago, today, ymd},
};

crate::on_both_databases!(
    every_source_pages_through_its_feed_and_a_second_pull_changes_nothing,
    timeouts_server_errors_and_dropped_connections_are_retried,
    a_source_that_keeps_failing_opens_its_breaker_and_the_run_fails_cleanly,
    a_bad_page_keeps_the_pages_before_it_and_the_next_pull_resumes_there,
    a_crashed_pull_is_taken_over_after_its_lease_expires_and_resumes,
    two_instances_never_pull_the_same_source_at_once,
    the_admin_trigger_starts_a_pull_and_refuses_what_it_cannot_start,
    schedules_pull_on_their_own_and_freshness_never_touches_readiness,
    a_pull_parses_and_writes_its_pages_at_the_configured_niceness,
    a_page_the_database_refuses_leaves_nothing_and_the_next_pull_writes_it,
    a_pull_pauses_between_pages_only_while_requests_are_being_served,
);

/// Every source fed from `feed`: 3 records a page, 30-day windows from
/// `since`, short timeouts, fast retries, a 5 s lease.
fn use_feed(config: &mut Config, feed: &Feed, since: time::Date) {
    for source in Source::ALL {
        let s = config.ingest.source_mut(*source);
        s.base_url = Some(feed.url_for(*source));
        s.page_size = 3;
        s.window_days = 30;
        s.since = ymd(since);
        s.connect_timeout_ms = 1_000;
        s.read_timeout_ms = 400;
        s.request_timeout_ms = 3_000;
        s.politeness_ms = 0;
    }
    config.ingest.retries = 3;
    config.ingest.retry_base_ms = 5;
    config.ingest.retry_cap_ms = 20;
    config.ingest.lease_secs = 5;
}

/// Eight openFDA reports over two 30-day windows (4 + 4, so 2 pages each)
/// and one dated today.
fn fda_data(feed: &Feed) {
    feed.add_fda(1..=4, days_ago(50));
    feed.add_fda(5..=7, days_ago(10));
    feed.add_fda([8], today());
}

async fn spawn(db: Db, feed: &Feed) -> TestApp {
    spawn_tweaked(db, feed, |_| {}).await
}

/// [`spawn`], then `tweak` on the configuration.
async fn spawn_tweaked(db: Db, feed: &Feed, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let feed = feed.clone();
    TestApp::spawn_with(db, move |c| {
        use_feed(c, &feed, days_ago(59));
        tweak(c);
    })
    .await
}

async fn pull(app: &TestApp, source: Source) -> IngestRun {
    app.state.ingest().pull(source, "test").await.expect("the pull starts")
}

/// Recall ids stored for an agency, sorted.
async fn stored_ids(app: &TestApp, agency: &str) -> Vec<String> {
    let (status, body) = json(app.get(&format!("/api/v1/recalls?agency={agency}&limit=50")).await).await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<String> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn match_jobs(app: &TestApp) -> i64 {
    let counts = app.state.store().job_counts().await.unwrap();
    counts.iter().filter(|c| c.kind == "match_recalls").map(|c| c.count).sum()
}

async fn every_source_pages_through_its_feed_and_a_second_pull_changes_nothing(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    feed.add_cpsc(1..=3, days_ago(45));
    feed.add_cpsc(4..=5, days_ago(2));
    feed.add_cpsc([6], days_ago(400));
    // Health Canada lists newest first; RA-9 is older than the range, RA-3
    // has no detail page (its list entry is stored instead).
    feed.add_hc(1..=4, days_ago(3));
    feed.add_hc(9..=14, days_ago(200));
    feed.without_detail(3);
    let app = spawn_tweaked(db, &feed, |c| {
        c.ingest.health_canada.politeness_ms = 40;
    })
    .await;
    let store = app.state.store();

    let run = pull(&app, Source::FdaFood).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert_eq!((run.pages, run.fetched, run.inserted, run.quarantined), (4, 8, 8, 0), "{run:?}");
    let listed = feed.requests_matching("/fda/food/");
    assert_eq!(listed.len(), 4, "{listed:#?}");
    assert!(listed[0].contains(&format!("[{}+TO+", ymd(days_ago(59)).replace('-', ""))), "{listed:#?}");
    assert!(listed[1].ends_with("limit=3&skip=3") && listed[3].ends_with("limit=3&skip=3"), "{listed:#?}");
    let state = store.ingest_source_state("fda-food").await.unwrap().unwrap();
    assert_eq!((state.cursor, state.next_since.clone()), (None, Some(ymd(today()))));
    assert_eq!((state.lease_owner, state.last_inserted), (None, 8));
    let ids = stored_ids(&app, "FDA").await;
    assert_eq!(ids.len(), 8);
    let jobs = match_jobs(&app).await;

    // The next pull starts where the last range ended (today): the report
    // dated today comes again and is left as it is.
    let again = pull(&app, Source::FdaFood).await;
    assert_eq!(again.status, "succeeded", "{again:?}");
    assert_eq!((again.fetched, again.inserted, again.updated, again.unchanged), (1, 0, 0, 1), "{again:?}");
    assert!(feed.requests_matching("/fda/food/").last().unwrap().contains(&ymd(today()).replace('-', "")));
    assert_eq!(stored_ids(&app, "FDA").await, ids, "nothing duplicated");
    assert_eq!(match_jobs(&app).await, jobs, "no alert matching for unchanged recalls");

    // CPSC: one response per 30-day window; the old recall is outside the range.
    let cpsc = pull(&app, Source::Cpsc).await;
    assert_eq!((cpsc.status.as_str(), cpsc.pages, cpsc.inserted), ("succeeded", 2, 5), "{cpsc:?}");
    assert!(feed.requests_matching("/cpsc/").iter().all(|r| r.contains("format=json&RecallDateStart=")));
    assert_eq!(stored_ids(&app, "CPSC").await.len(), 5);

    // Health Canada: list pages with the detail of each recall, politely
    // spaced, stopping at the first page older than the range (page 3 of 4).
    let started = Instant::now();
    let hc = pull(&app, Source::HealthCanada).await;
    assert_eq!(hc.status, "succeeded", "{hc:?}");
    assert_eq!((hc.fetched, hc.inserted, hc.quarantined), (4, 4, 0), "{hc:?}");
    assert_eq!(feed.requests_matching("/hc/search").len(), 3, "the third page is all older: stop");
    assert_eq!(feed.requests_matching("/hc/RA-").len(), 4, "four details: {:#?}", feed.requests());
    assert!(feed.requests_matching("RA-9/").is_empty(), "no detail outside the range");
    assert!(started.elapsed() >= Duration::from_millis(6 * 40), "7 requests, 40 ms apart");
    let (_, detail) = json(app.get("/api/v1/recall/HEALTH_CANADA-RA-1").await).await;
    assert!(detail["data"]["upcs"].to_string().contains("012345678905"), "the detail's panels: {detail}");
    let (status, _) = json(app.get("/api/v1/recall/HEALTH_CANADA-RA-3").await).await;
    assert_eq!(status, 200, "a recall without a detail page keeps its list entry");
}

async fn timeouts_server_errors_and_dropped_connections_are_retried(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let app = spawn_tweaked(db, &feed, |c| {
        // Enough room for three failures in a row.
        c.ingest.breaker.failures = 10;
    })
    .await;
    feed.fail("skip=0", Fault::Status(500), Some(1));
    feed.fail("skip=3", Fault::Slow(Duration::from_secs(2)), Some(1));
    feed.fail("skip=0", Fault::Cut, Some(1));
    feed.fail("skip=0", Fault::Status(503), Some(1));
    let run = pull(&app, Source::FdaFood).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert_eq!((run.fetched, run.inserted), (8, 8), "{run:?}");
    let requests = feed.requests_matching("/fda/food/");
    assert_eq!(requests.len(), 4 + 4, "every failure was retried once: {requests:#?}");
    assert_eq!(stored_ids(&app, "FDA").await.len(), 8, "retries duplicate nothing");
    let runs = app.state.store().ingest_runs(Some("fda-food"), 10).await.unwrap();
    assert_eq!(runs.len(), 1, "one run, however many attempts");
}

async fn a_source_that_keeps_failing_opens_its_breaker_and_the_run_fails_cleanly(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let app = spawn(db, &feed).await;
    feed.fail("/fda/", Fault::Status(500), None);
    let run = pull(&app, Source::FdaFood).await;
    assert_eq!(run.status, "failed");
    let error = run.error.clone().unwrap();
    assert!(error.contains("circuit breaker"), "3 failures within 120 s open the breaker: {error}");
    assert_eq!(feed.requests().len(), 3, "the fourth attempt is refused by the breaker");
    assert_eq!((run.pages, run.fetched, run.inserted), (0, 0, 0));
    assert_eq!(app.state.store().count_recalls().await.unwrap(), 0);

    // While it is open, pulls fail at once without calling the source.
    let again = pull(&app, Source::FdaFood).await;
    assert_eq!(again.status, "failed");
    assert_eq!(feed.requests().len(), 3);
    // Other sources have breakers of their own.
    feed.heal();
    let drug = pull(&app, Source::FdaDrug).await;
    assert_eq!(drug.status, "succeeded", "{drug:?}");

    let token = app.state.secrets().operator_token.expose().to_string();
    let response = app.client.get(app.url("/health/detailed")).bearer_auth(&token).send().await.unwrap();
    let (_, health) = json(response).await;
    let sources = health["data"]["ingestion"]["sources"].as_array().unwrap();
    let food = sources.iter().find(|s| s["source"] == "fda-food").unwrap();
    assert_eq!(food["breaker"], "open", "{food}");
    assert!(food["lastError"].as_str().unwrap().contains("circuit breaker"));
    let state = app.state.store().ingest_source_state("fda-food").await.unwrap().unwrap();
    assert_eq!(state.lease_owner, None, "a failed run releases its lease");
}

async fn a_bad_page_keeps_the_pages_before_it_and_the_next_pull_resumes_there(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let app = spawn_tweaked(db, &feed, |c| {
        c.ingest.breaker.failures = 20;
    })
    .await;
    let store = app.state.store();
    // Page 2 of the first window is malformed JSON (not retried: the page is unusable).
    feed.fail("skip=3", Fault::Malformed, Some(1));
    let first = pull(&app, Source::FdaFood).await;
    assert_eq!(first.status, "failed", "{first:?}");
    assert!(first.error.as_deref().unwrap().contains("malformed JSON"), "{first:?}");
    assert_eq!((first.pages, first.inserted), (1, 3), "only the whole first page is stored");
    assert_eq!(store.count_recalls().await.unwrap(), 3, "nothing half-written");
    let saved = store.ingest_source_state("fda-food").await.unwrap().unwrap();
    assert!(saved.cursor.as_deref().unwrap().contains("\"offset\":3"), "{saved:?}");

    // The next pull resumes at the failed page; there the connection keeps
    // dropping mid-body, so it fails after its retries and keeps the cursor.
    feed.fail("skip=3", Fault::Cut, None);
    let before = feed.requests().len();
    let second = pull(&app, Source::FdaFood).await;
    assert_eq!(second.status, "failed");
    assert!(second.error.as_deref().unwrap().contains("broke off"), "{second:?}");
    let tried = &feed.requests()[before..];
    assert!(tried.iter().all(|r| r.ends_with("skip=3")), "it resumed at the saved page: {tried:#?}");
    assert_eq!(store.count_recalls().await.unwrap(), 3);

    // Healed: the third pull starts at the saved page and finishes the range.
    feed.heal();
    let before = feed.requests().len();
    let third = pull(&app, Source::FdaFood).await;
    assert_eq!(third.status, "succeeded", "{third:?}");
    assert_eq!((third.inserted, third.unchanged), (5, 0), "{third:?}");
    assert!(feed.requests()[before].ends_with("skip=3"), "{:#?}", feed.requests());
    assert_eq!(stored_ids(&app, "FDA").await.len(), 8, "every recall once");
    let quarantined = store.ingest_quarantine(first.id, 100).await.unwrap();
    assert!(quarantined.is_empty(), "a failed page quarantines nothing");
}

async fn a_crashed_pull_is_taken_over_after_its_lease_expires_and_resumes(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let app = spawn(db, &feed).await;
    let store = app.state.store().clone();
    // Another instance (its own owner) pulls; page 2 hangs; the instance dies.
    let mut config = app.state.config().ingest.clone();
    config.fda_food.read_timeout_ms = 30_000;
    config.fda_food.request_timeout_ms = 30_000;
    let crashed = std::sync::Arc::new(
        babyshield_server::ingest::Ingest::new(&config, store.clone(), None, Default::default()).unwrap(),
    );
    feed.fail("skip=3", Fault::Hold, Some(1));
    let started = crashed.start(Source::FdaFood, "schedule").await.unwrap();
    let dead_run = started.run_id;
    let task = tokio::spawn({
        let crashed = std::sync::Arc::clone(&crashed);
        async move { crashed.run(started).await }
    });
    // It dies once its first page is stored and page 2 is on its way.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = store.ingest_source_state("fda-food").await.unwrap().unwrap();
        let stored = state.cursor.is_some_and(|c| c.contains("\"offset\":3"));
        if stored && !feed.requests_matching("skip=3").is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the crashing pull never reached page 2");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    let _ = task.await;
    feed.release();
    assert_eq!(store.count_recalls().await.unwrap(), 3, "its first page was stored");

    // Its lease is still valid: this instance may not pull the source yet.
    match app.state.ingest().pull(Source::FdaFood, "schedule").await {
        Err(StartError::Running(Source::FdaFood)) => {}
        other => panic!("expected the lease to be held, got {other:?}"),
    }
    // After the expiry (5 s) the source is taken over from the saved cursor.
    let deadline = Instant::now() + Duration::from_secs(15);
    let before = feed.requests().len();
    let run = loop {
        match app.state.ingest().pull(Source::FdaFood, "schedule").await {
            Ok(run) => break run,
            Err(StartError::Running(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("the lease never expired: {e}"),
        }
    };
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert_eq!((run.inserted, run.unchanged), (5, 0), "it resumed after the stored page: {run:?}");
    assert!(feed.requests()[before].ends_with("skip=3"), "{:#?}", feed.requests());
    let dead = store.ingest_run(dead_run).await.unwrap().unwrap();
    assert_eq!(dead.status, "failed");
    assert!(dead.error.as_deref().unwrap().starts_with("interrupted"), "{dead:?}");
    assert_eq!(stored_ids(&app, "FDA").await.len(), 8);
}

/// The feed with timeouts long enough for a held request.
fn patient(config: &mut Config, feed: &Feed) {
    use_feed(config, feed, days_ago(59));
    config.ingest.fda_food.read_timeout_ms = 30_000;
    config.ingest.fda_food.request_timeout_ms = 30_000;
}

async fn two_instances_never_pull_the_same_source_at_once(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let first = TestApp::spawn_with(db, {
        let feed = feed.clone();
        move |c| patient(c, &feed)
    })
    .await;
    let database_url = first.state.config().database_url();
    let second = TestApp::spawn_with(db, {
        let feed = feed.clone();
        move |c| {
            patient(c, &feed);
            c.database.url = Some(database_url);
        }
    })
    .await;
    let token = first.state.secrets().operator_token.expose().to_string();
    let other_token = second.state.secrets().operator_token.expose().to_string();
    let trigger = |app: &TestApp, token: &str| {
        app.client.post(app.url("/api/v1/admin/ingest/fda-food")).bearer_auth(token.to_string()).send()
    };

    feed.fail("skip=0", Fault::Hold, Some(1));
    let (status, started) = json(trigger(&first, &token).await.unwrap()).await;
    assert_eq!(status, 202, "{started}");
    let (status, refused) = json(trigger(&second, &other_token).await.unwrap()).await;
    assert_eq!(status, 409, "the other instance sees the lease: {refused}");
    assert_eq!(refused["error"]["code"], "CONFLICT", "{refused}");
    let (status, _) = json(trigger(&first, &token).await.unwrap()).await;
    assert_eq!(status, 409, "and so does the instance running it");
    feed.release();
    let run = wait_for_run(&first, started["data"]["runId"].as_i64().unwrap()).await;
    assert_eq!((run["status"].as_str(), run["inserted"].as_i64()), (Some("succeeded"), Some(8)), "{run}");
    let (status, _) = json(trigger(&second, &other_token).await.unwrap()).await;
    assert_eq!(status, 202, "released: the other instance may pull now");

    // Many owners racing for one lease: exactly one gets it.
    let store = first.state.store().clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let racers = (0..8).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .acquire_ingest_lease("fda-device", "test", &format!("racer-{n}"), now, now + 60)
                .await
                .unwrap()
        })
    });
    let won =
        futures::future::join_all(racers).await.into_iter().filter(|r| r.as_ref().unwrap().is_some()).count();
    assert_eq!(won, 1);
}

async fn wait_for_run(app: &TestApp, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let run = app.state.store().ingest_run(id).await.unwrap().expect("the run is recorded");
        if run.status != "running" {
            return serde_json::to_value(run).unwrap();
        }
        assert!(Instant::now() < deadline, "run {id} still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_admin_trigger_starts_a_pull_and_refuses_what_it_cannot_start(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let app = spawn_tweaked(db, &feed, |c| {
        c.ingest.cpsc.base_url = None;
    })
    .await;
    let post = |path: &str, token: Option<&str>| {
        let request = app.client.post(app.url(path));
        match token {
            Some(t) => request.bearer_auth(t.to_string()),
            None => request,
        }
        .send()
    };
    let (status, _) = json(post("/api/v1/admin/ingest/fda-food", None).await.unwrap()).await;
    assert_eq!(status, 401);
    let (_, user) = json(
        app.post_json(
            "/api/v1/auth/register",
            &json!({"email": "parent@example.com", "password": "Test123!", "confirm_password": "Test123!"}),
        )
        .await,
    )
    .await;
    let user_token = user["data"]["access_token"].as_str().unwrap().to_string();
    let (status, _) = json(post("/api/v1/admin/ingest/fda-food", Some(&user_token)).await.unwrap()).await;
    assert_eq!(status, 403, "users may not start pulls");

    let operator = app.state.secrets().operator_token.expose().to_string();
    let (status, body) = json(post("/api/v1/admin/ingest/rapex", Some(&operator)).await.unwrap()).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = json(post("/api/v1/admin/ingest/cpsc", Some(&operator)).await.unwrap()).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("ingest.cpsc.base_url"), "{body}");

    let admin = app.admin_token("ops@example.com").await;
    let (status, body) = json(post("/api/v1/admin/ingest/fda-food", Some(&admin)).await.unwrap()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["status"], "running");
    let id = body["data"]["runId"].as_i64().unwrap();
    let run = wait_for_run(&app, id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let response =
        app.client.get(app.url("/api/v1/admin/ingest/runs?source=fda-food")).bearer_auth(&admin).send();
    let (status, runs) = json(response.await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(runs["data"][0]["id"], id);
    assert_eq!(runs["data"][0]["origin"], "admin");
    assert_eq!(runs["data"][0]["pages"], 4);
    assert!(runs["data"][0]["finishedAt"].is_string());
}

async fn schedules_pull_on_their_own_and_freshness_never_touches_readiness(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = spawn_tweaked(db, &feed, |c| {
        c.ingest.fda_food.enabled = true;
        // A source whose feed is down: it never succeeds, so it is stale.
        c.ingest.fda_device.enabled = true;
        c.ingest.fda_device.base_url = Some(format!("http://{dead}/enforcement.json"));
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let run = loop {
        let runs = app.state.store().ingest_runs(Some("fda-food"), 5).await.unwrap();
        if let Some(run) = runs.into_iter().find(|r| r.status != "running") {
            break run;
        }
        assert!(Instant::now() < deadline, "the schedule never pulled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (run.origin.as_str(), run.status.as_str(), run.inserted),
        ("schedule", "succeeded", 8),
        "{run:?}"
    );
    // Once per interval (6 h): the scheduler does not pull again at once.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(app.state.store().ingest_runs(Some("fda-food"), 5).await.unwrap().len(), 1);

    let (status, ready) = json(app.get("/health/ready").await).await;
    assert_eq!(status, 200, "a stale source does not make the service unready: {ready}");
    let token = app.state.secrets().operator_token.expose().to_string();
    let (_, health) =
        json(app.client.get(app.url("/health/detailed")).bearer_auth(&token).send().await.unwrap()).await;
    let ingestion = &health["data"]["ingestion"];
    assert_eq!(ingestion["stale"], json!(["fda-device"]), "{ingestion}");
    let food = ingestion["sources"].as_array().unwrap().iter().find(|s| s["source"] == "fda-food").unwrap();
    assert_eq!(food["lastRecords"]["inserted"], 8, "{food}");
    assert!(food["ageSeconds"].as_i64().unwrap() < 60);
    assert_eq!(food["stale"], false);

    let expected = [
        "ingest_last_run_records{source=\"fda-food\",result=\"inserted\"} 8",
        "ingest_source_stale{source=\"fda-device\"} 1",
        "ingest_source_stale{source=\"fda-food\"} 0",
    ];
    // The recorder is shared by every app of this test process: another
    // test's render may set the same gauges in between; read again then.
    let mut metrics = String::new();
    for _ in 0..5 {
        metrics = app.get("/metrics").await.text().await.unwrap();
        if expected.iter().all(|line| metrics.lines().any(|l| l == *line)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for line in expected {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in:\n{metrics}");
    }
    assert!(metrics.contains("ingest_last_success_age_seconds{source=\"fda-food\"}"));
    assert!(metrics.contains("ingest_last_success_timestamp_seconds{source=\"fda-food\"}"));
    // The pull's recalls went into the in-memory search index, and how long
    // that kept searches out is exported.
    let holds: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("search_index_write_hold_seconds_count "))
        .unwrap_or_else(|| panic!("no index write hold metric in:\n{metrics}"))
        .parse()
        .unwrap();
    assert!(holds >= 1, "{holds} holds");
}

/// The (scheduling policy, nice value) of this process's threads whose
/// name starts with `prefix` (Linux truncates thread names to 15 bytes).
fn priority_of_threads(prefix: &str) -> Vec<(i32, i32)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = task.path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else { continue };
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else { continue };
        if name.trim_end().starts_with(prefix) {
            // After the name's closing parenthesis come fields 3, 4, ...;
            // the nice value is field 19, the policy field 41.
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            found.push((fields[38].parse().unwrap(), fields[16].parse().unwrap()));
        }
    }
    found
}

async fn a_pull_parses_and_writes_its_pages_at_the_configured_niceness(db: Db) {
    const SCHED_OTHER: i32 = 0;
    const SCHED_IDLE: i32 = 5;
    let feed = Feed::start().await;
    fda_data(&feed);
    let app = spawn_tweaked(db, &feed, |c| {
        c.ingest.nice = 13;
    })
    .await;
    let run = pull(&app, Source::FdaFood).await;
    assert_eq!((run.status.as_str(), run.inserted), ("succeeded", 8), "{run:?}");
    assert_eq!(stored_ids(&app, "FDA").await.len(), 8);
    // Pages are parsed and prepared on the ingest threads, which any
    // request thread preempts...
    let parsers = priority_of_threads("ingest-");
    assert!(
        !parsers.is_empty() && parsers.iter().all(|p| *p == (SCHED_IDLE, 19)),
        "ingest threads: {parsers:?}"
    );
    // ...and on SQLite written through a connection whose thread (sqlx's,
    // which runs the statements and holds the write lock) inherited the
    // configured niceness.
    // (Other tests' apps in the same process, under `cargo test`, have
    // writers of their own at the default niceness.)
    if db == Db::Sqlite {
        let writers = priority_of_threads("sqlite-backgrou");
        assert!(writers.contains(&(SCHED_OTHER, 13)), "the background writer's thread: {writers:?}");
    }
    // Requests are not lowered: sqlx's pool threads.
    assert!(priority_of_threads("sqlx-sqlite").iter().all(|p| *p == (SCHED_OTHER, 0)));
}

async fn a_page_the_database_refuses_leaves_nothing_and_the_next_pull_writes_it(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let app = spawn(db, &feed).await;
    // The third page (F-0005..7) fails inside the database at its second row.
    match db {
        Db::Sqlite => {
            exec(&app, "CREATE TRIGGER refuse_recall BEFORE INSERT ON recalls WHEN NEW.id LIKE '%F-0006-2024' \
                        BEGIN SELECT RAISE(ABORT, 'injected'); END")
            .await
        }
        Db::Postgres => {
            exec(&app, "CREATE FUNCTION refuse_recall() RETURNS trigger AS $$ BEGIN \
                        IF NEW.id LIKE '%F-0006-2024' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$ \
                        LANGUAGE plpgsql; \
                        CREATE TRIGGER refuse_recall BEFORE INSERT ON recalls FOR EACH ROW EXECUTE FUNCTION refuse_recall()")
            .await
        }
    }
    let failed = pull(&app, Source::FdaFood).await;
    assert_eq!(failed.status, "failed", "{failed:?}");
    assert!(failed.error.as_deref().unwrap().contains("storing a page"), "{failed:?}");
    assert_eq!((failed.pages, failed.inserted), (2, 4), "{failed:?}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM recalls WHERE id LIKE '%F-0005-2024'").await,
        0,
        "no half page"
    );
    assert_eq!(stored_ids(&app, "FDA").await.len(), 4);

    match db {
        Db::Sqlite => exec(&app, "DROP TRIGGER refuse_recall").await,
        Db::Postgres => {
            exec(&app, "DROP TRIGGER refuse_recall ON recalls; DROP FUNCTION refuse_recall()").await
        }
    }
    // The next pull resumes at the refused page, on a working connection.
    let resumed = pull(&app, Source::FdaFood).await;
    assert_eq!((resumed.status.as_str(), resumed.inserted), ("succeeded", 4), "{resumed:?}");
    assert_eq!(stored_ids(&app, "FDA").await.len(), 8, "every recall once");
    let (_, found) =
        json(app.post_json("/api/v1/search/advanced", &json!({"query": "crunchy snack"})).await).await;
    assert_eq!(found["data"]["total"], 8, "and searchable: {found}");
}

async fn a_pull_pauses_between_pages_only_while_requests_are_being_served(db: Db) {
    let feed = Feed::start().await;
    fda_data(&feed);
    let app = spawn_tweaked(db, &feed, |c| c.ingest.yield_percent = 100).await;
    let load = app.state.request_load();

    // Requests through the middleware count as load.
    let mark = load.mark();
    assert_eq!(app.get("/api/v1/agencies").await.status(), 200);
    assert!(load.in_flight_since(mark) > 0.0, "a served request is not counted");

    // Nobody else is asking: several pages, no pause.
    let alone = pull(&app, Source::FdaDrug).await;
    assert_eq!((alone.status.as_str(), alone.inserted), ("succeeded", 8), "{alone:?}");
    assert!(alone.pages >= 2, "{alone:?}");
    assert_eq!(app.state.ingest().pauses(), 0, "a pull alone paused");

    // Requests keep the server busy (each recorded as a second in flight,
    // every millisecond): the same feed's pull gives way between its pages
    // and reads every page as before.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let requests = tokio::spawn({
        let (load, stop) = (std::sync::Arc::clone(load), std::sync::Arc::clone(&stop));
        async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                load.record(Duration::from_secs(1));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    let busy = pull(&app, Source::FdaFood).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    requests.await.unwrap();
    assert_eq!((busy.status.as_str(), busy.pages, busy.fetched), ("succeeded", alone.pages, 8), "{busy:?}");
    let paused = app.state.ingest().pauses();
    assert!(paused >= 1 && paused < busy.pages as u64, "{paused} pauses between {} pages", busy.pages);
    // The pauses are exported.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("ingest_page_pause_seconds_count{source=\"fda-food\"}"), "{metrics}");
    assert_eq!(stored_ids(&app, "FDA").await.len(), 8);
}
