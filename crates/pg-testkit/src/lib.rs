//! One empty database per test on the PostgreSQL server that `scripts/test`
//! starts (its admin URL is `BABYSHIELD_TEST_PG_URL`).
//!
//! The database is dropped when the [`TestDatabase`] is dropped, also when the
//! test panics, so a full run leaves nothing behind on disk (about 300 tests
//! each create one). `scripts/test` drops any `bs_test_*` database a killed
//! run left before it starts. Set `BABYSHIELD_TEST_KEEP_DBS=1` to keep them
//! for a post-mortem.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

/// The prefix `scripts/test` uses to find leftovers.
pub const PREFIX: &str = "bs_test_";

/// The admin URL of the test PostgreSQL.
pub fn admin_url() -> String {
    std::env::var("BABYSHIELD_TEST_PG_URL").expect(
        "BABYSHIELD_TEST_PG_URL is not set: run the suite with ./scripts/test, which starts PostgreSQL \
         (or `eval \"$(scripts/services env)\"` first)",
    )
}

/// A new, empty database, dropped with this value.
#[derive(Debug)]
pub struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates `bs_test_<pid>_<nanos>_<n>` on the test server.
    pub async fn create() -> TestDatabase {
        static N: AtomicU64 = AtomicU64::new(0);
        let admin = admin_url();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!(
            "{PREFIX}{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the test PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let (base, _) = admin.rsplit_once('/').expect("admin URL has a database path");
        let url = format!("{base}/{name}");
        TestDatabase { admin, name, url }
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::env::var_os("BABYSHIELD_TEST_KEEP_DBS").is_some() {
            eprintln!("keeping test database {} (BABYSHIELD_TEST_KEEP_DBS is set)", self.name);
            return;
        }
        // Drop runs inside the test's runtime, which cannot be blocked on from
        // within; a short-lived thread with its own runtime can. FORCE ends the
        // connections the application's pool still holds.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.map_err(|e| e.to_string())?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok(())
            })
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!(
                "could not drop test database {}: {e} (scripts/test drops it on its next run)",
                self.name
            ),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}
