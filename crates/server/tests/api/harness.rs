//! Spawns the real application on port 0 against a fresh database (a temp
//! SQLite file, or a new PostgreSQL database on the test server that
//! `scripts/test` starts) and talks HTTP to it.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use babyshield_server::{AppState, Application, config::Config};
use serde_json::Value;
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates `mod sqlite { ... }` and `mod postgres { ... }` with one test
/// per listed `async fn name(db: Db)`, so every behaviour is checked on both.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::harness::Db::Sqlite).await })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::harness::Db::Postgres).await })+
        }
    };
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    _data_dir: TempDir,
    /// Dropped after the fields above, so the app's pool goes first.
    database: Option<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

pub use babyshield_pg_testkit::TestDatabase;

/// A new, empty PostgreSQL database, dropped with the returned value.
pub async fn fresh_pg_database() -> TestDatabase {
    TestDatabase::create().await
}

/// A database of the given kind and its URL: a SQLite file in `dir`, or a
/// fresh PostgreSQL database (dropped with the returned value).
pub async fn database_for(db: Db, dir: &std::path::Path) -> (Option<TestDatabase>, String) {
    match db {
        Db::Sqlite => (None, format!("sqlite://{}", dir.join("test.db").display())),
        Db::Postgres => {
            let database = fresh_pg_database().await;
            let url = database.url().to_string();
            (Some(database), url)
        }
    }
}

/// The configuration tests start from: dev, port 0, quiet, no sample data.
pub fn test_config(data_dir: &std::path::Path, db_url: &str) -> Config {
    let mut config = Config { data_dir: data_dir.to_path_buf(), ..Config::default() };
    config.server.port = 0;
    config.server.drain_timeout_ms = 5_000;
    config.database.url = Some(db_url.to_string());
    config.database.load_sample_data = false;
    config.database.max_connections = 5;
    config.database.acquire_timeout_ms = 1_000;
    config.server.readiness_timeout_ms = 500;
    config
}

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        TestApp::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (database, db_url) = database_for(db, data_dir.path()).await;
        let mut config = test_config(data_dir.path(), &db_url);
        tweak(&mut config);
        TestApp::start(config, data_dir).await.holding(database)
    }

    /// Makes this app own a test database (dropped when the app is).
    pub fn holding(mut self, database: impl Into<Option<TestDatabase>>) -> TestApp {
        self.database = database.into();
        self
    }

    pub async fn start(config: Config, data_dir: TempDir) -> TestApp {
        let app = Application::build(config).await.expect("application builds");
        let addr = app.local_addr();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        TestApp {
            addr,
            client,
            state,
            _data_dir: data_dir,
            database: None,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    /// Imports JSON Lines through the same code as `babyshield import`
    /// (into an empty SQLite catalogue with the indexes built at the end).
    pub async fn import(&self, jsonl: &str) -> babyshield_server::import::ImportReport {
        let report = babyshield_server::import::import_jsonl(
            self.state.store(),
            std::io::Cursor::new(jsonl.to_string()),
            Some(100),
            babyshield_server::import::IndexUpkeep::DeferredWhenEmpty,
            |_| {},
        )
        .await
        .expect("import succeeds");
        self.state.catalogue().refresh_vocabulary().await.expect("vocabulary refresh");
        report
    }

    /// Creates an admin account with `email` and signs it in through the
    /// contract's token endpoint; returns the access token.
    pub async fn admin_token(&self, email: &str) -> String {
        const PASSWORD: &str = "Admin-Pass-99";
        self.state.accounts().create_admin(email, PASSWORD.into()).await.unwrap();
        let response = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username={}&password={PASSWORD}", email.replace('@', "%40")))
            .send()
            .await
            .unwrap();
        let (status, body) = json(response).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take().expect("running").await.expect("server task")
    }
}

/// Status and JSON body of a response.
pub async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

/// A TCP proxy between the app and a real server, so tests can make the
/// network path fail (`block`) and recover (`unblock`) without stopping a
/// server other tests share.
pub struct Proxy {
    pub addr: SocketAddr,
    blocked: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, _) = tokio::sync::watch::channel(false);
        let blocked = Arc::new(tx);
        let watch = Arc::clone(&blocked);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *watch.borrow() {
                    drop(inbound);
                    continue;
                }
                let mut blocked = watch.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = blocked.wait_for(|b| *b) => {}
                    }
                });
            }
        });
        Proxy { addr, blocked }
    }

    /// Cuts every open connection and refuses new ones.
    pub fn block(&self) {
        self.blocked.send_replace(true);
    }

    pub fn unblock(&self) {
        self.blocked.send_replace(false);
    }
}
