//! Versioned schema migrations, embedded in the binary: one list per backend,
//! applied in order and recorded in `_sqlx_migrations`. On PostgreSQL sqlx
//! takes an advisory lock, so instances starting together migrate once.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::{Backend, StorageError, Store};

macro_rules! migration_list {
    ($dir:literal: $($version:literal => $name:literal),+ $(,)?) => {
        &[$(($version, $name, include_str!(concat!("../migrations/", $dir, "/", $name)))),+]
    };
}

type MigrationFile = (i64, &'static str, &'static str);

const SQLITE: &[MigrationFile] = migration_list!("sqlite":
    1 => "0001_agencies.sql",
    2 => "0002_recalls.sql",
    3 => "0003_accounts.sql",
    4 => "0004_idempotency_flags.sql",
    5 => "0005_ingest.sql",
    6 => "0006_family.sql",
    7 => "0007_ingest_schedule.sql",
    8 => "0008_search_order.sql",
    9 => "0009_write_cost.sql",
    10 => "0010_change_generation.sql",
    11 => "0011_bulk_load.sql",
    13 => "0013_fts_delete_merge.sql",
);
const POSTGRES: &[MigrationFile] = migration_list!("postgres":
    1 => "0001_agencies.sql",
    2 => "0002_recalls.sql",
    3 => "0003_accounts.sql",
    4 => "0004_idempotency_flags.sql",
    5 => "0005_ingest.sql",
    6 => "0006_family.sql",
    7 => "0007_ingest_schedule.sql",
    8 => "0008_search_order.sql",
    9 => "0009_write_cost.sql",
    10 => "0010_change_generation.sql",
    12 => "0012_write_cost_vectors.sql",
);

/// Where the schema stands relative to this binary.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationStatus {
    /// Highest applied version (0 when none).
    pub applied: i64,
    /// Highest version this binary knows.
    pub latest: i64,
    /// Migrations this binary knows above `applied` (versions are not
    /// contiguous: each backend has only the migrations it needs).
    pub pending: usize,
}

fn migrator(backend: Backend) -> Migrator {
    let files = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let migrations = files
        .iter()
        .map(|(version, name, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(name.trim_end_matches(".sql")),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(*sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

impl Store {
    /// Applies every pending migration, and finishes a bulk load that an
    /// import left unfinished (`recalls/bulk.rs`). Safe to run repeatedly.
    pub async fn migrate(&self) -> Result<MigrationStatus, StorageError> {
        let migrator = migrator(self.backend());
        crate::on_pool!(self, p => migrator.run(p).await)
            .map_err(|e| StorageError::Migration(e.to_string()))?;
        if self.finish_bulk_load().await? {
            tracing::warn!(
                "finished a bulk load that an interrupted import left pending: its deferred indexes rebuilt"
            );
        }
        self.migration_status().await
    }

    pub async fn migration_status(&self) -> Result<MigrationStatus, StorageError> {
        let migrator = migrator(self.backend());
        let latest = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> = crate::on_pool!(self, p => {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(p)
                .await
        })
        .or_else(|e| match &e {
            // No migration table yet: nothing applied.
            sqlx::Error::Database(db) if db.message().contains("_sqlx_migrations") => Ok(None),
            _ => Err(e),
        })?;
        let applied = applied.unwrap_or(0);
        let pending = migrator.iter().filter(|m| m.version > applied).count();
        Ok(MigrationStatus { applied, latest, pending })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_full_text_index_waits_for_half_dead_entries_before_merging_them_away() {
        let dir = std::env::temp_dir().join(format!("bs-migrate-fts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::connect(&crate::pool::test_sqlite_settings(&dir)).await.unwrap();
        let status = store.migrate().await.unwrap();
        assert_eq!((status.applied, status.pending), (13, 0));
        let crate::Pool::Sqlite(pool) = store.pool() else { unreachable!("a SQLite store") };
        // FTS5 keeps its options in the table's config shadow table and
        // reads them from there when it opens the index.
        let delete_merge: i64 =
            sqlx::query_scalar("SELECT v FROM recalls_fts_config WHERE k = 'deletemerge'")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(delete_merge, 50);
        // Migrating again changes nothing.
        assert_eq!(store.migrate().await.unwrap().pending, 0);
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
