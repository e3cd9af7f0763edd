//! Loading a whole catalogue into an empty SQLite database.
//!
//! A recall written the usual way also goes into the full-text index (FTS5,
//! through triggers), into three facet indexes and an index ordered by
//! date, and ids and dates arrive in no index's order, so each batch dirties
//! pages all over them. Importing 1M recalls measured 8,700 recalls/s with
//! them and 21,300/s without the full-text and facet ones; built once from
//! the finished table they take about 30 s. So a load into an empty
//! catalogue defers them:
//! - [`Store::begin_bulk_load`] records their SQL (as `sqlite_schema` holds
//!   it) in `deferred_schema` and drops them, in one transaction;
//! - the import writes its batches as usual, and builds the full-text index
//!   beside them in a scratch file (`bulk/beside.rs`);
//! - [`Store::finish_bulk_load_beside`] runs the recorded SQL again, copies
//!   the full-text index in from beside the load (or fills it from the
//!   table in the index's own order) and clears the record, in one
//!   transaction.
//!
//! A load interrupted in between leaves the record behind, and the next
//! `migrate` (`babyshield migrate`, and every server start and CLI command
//! unless `database.migrate_on_start = false`) finishes it. It cannot tell
//! a crashed load from one still running in another process, so a server
//! started during a load finishes it early and the load goes on with its
//! indexes live: correct, only slower. Every recall written while a load
//! is pending, by any process, is indexed when it finishes (the scratch
//! index reads every generation written, the fill the whole table); until
//! then the SQL search engine (not the in-memory index) does not find
//! those recalls, lists ordered by date sort the table instead of reading
//! an index, and the final transaction holds the write lock for as long as
//! the build takes (about 10 s at 1M recalls, 25 s when filling).
//!
//! PostgreSQL keeps its indexes current (`begin_bulk_load` answers false).

use sqlx::Connection;

use crate::{Pool, StorageError, Store};

/// What a bulk load defers: the full-text index's triggers, the facet
/// indexes and the date order (migrations 0002 and 0009). The date order
/// is not a facet, but like them it takes each recall at a random place:
/// kept current, the 1M import's commits wrote its pages again and again
/// (2 GB of the 10.6 GB the import wrote), and building it at the end
/// takes about a second.
const DEFERRED: [&str; 7] = [
    "recalls_fts_insert",
    "recalls_fts_update",
    "recalls_fts_delete",
    "recalls_by_date",
    "recalls_by_agency_date",
    "recalls_by_severity_date",
    "recalls_by_category_date",
];

/// A recall's full-text rowid (migration 0008), as SQL over the recall row
/// `$r`: newest date first, then its rid.
macro_rules! fts_rowid {
    ($r:literal) => {
        concat!("((99999999 - CAST(replace(", $r, ".recall_date, '-', '') AS INTEGER)) << 32) | ", $r, ".rid")
    };
}

/// A recall's `facets` column in the full-text index (migration 0008), as
/// SQL over the recall row `$r`.
macro_rules! fts_facets {
    ($r:literal) => {
        concat!(
            "'agency' || lower(replace(",
            $r,
            ".agency_code, '_', '')) || ' severity' || coalesce(",
            $r,
            ".severity, 'none') || ' category' || replace(coalesce(",
            $r,
            ".risk_category, 'none'), '_', '')"
        )
    };
}

mod beside;
pub use beside::FullTextBeside;

/// Every recall's full-text row, as the insert trigger of migration 0009
/// writes it, in the index's rowid order (newest date first): FTS5 then
/// builds each segment in memory instead of flushing at every lower rowid.
/// The order is sorted on the keys alone, not on the text.
const FILL_FULL_TEXT: &str = concat!(
    "INSERT INTO recalls_fts (rowid, search_title, search_body, facets) \
     WITH ordered AS MATERIALIZED (SELECT ",
    fts_rowid!("r"),
    " AS fts_rowid, r.rid FROM recalls r ORDER BY fts_rowid) \
     SELECT o.fts_rowid, r.search_title, r.search_body, ",
    fts_facets!("r"),
    " FROM ordered o JOIN recalls r ON r.rid = o.rid"
);

/// How much text FTS5 gathers in memory before it writes a segment, during
/// the fill: 64 MiB instead of FTS5's 1 MiB. A smaller hash writes many
/// small segments that FTS5 then merges again and again: filling 1M recalls
/// took 31.5 s with 1 MiB (including the commit), 22 s with 16 MiB, 20-21 s
/// with 64 MiB, 19 s with 128 MiB and 20 s with 256 MiB, which also peaked
/// 300 MB higher (`docs/PERFORMANCE.md`, "Why import misses 20,000/s").
/// The finished index is the same size either way. Only the fill uses it:
/// an agency pull's transaction gathers about 1 MB and flushes at commit.
const FILL_HASH_BYTES: i64 = 64 << 20;

/// FTS5's default `hashsize` (`FTS5_DEFAULT_HASHSIZE`).
const FTS5_DEFAULT_HASH_BYTES: i64 = 1 << 20;

/// Sets FTS5's `hashsize` option (stored in `recalls_fts_config`; setting
/// it this way also tells other connections to reload the configuration).
const FILL_HASH_SIZE: &str = "INSERT INTO recalls_fts (recalls_fts, rank) VALUES ('hashsize', ?)";

/// Whether the schema has `deferred_schema` (migration 0011).
const DEFERRED_SCHEMA_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'deferred_schema')";

impl Store {
    /// Starts a bulk load when the catalogue is empty (SQLite only): drops
    /// the full-text triggers, the facet indexes and the date index and
    /// records how to make them again. True when a load is pending
    /// afterwards (this one, or one another import began), so the caller
    /// must call [`Store::finish_bulk_load`] (or
    /// [`Store::finish_bulk_load_beside`]) when its writes are done.
    pub async fn begin_bulk_load(&self) -> Result<bool, StorageError> {
        let Some(mut tx) = self.deferral_tx().await? else {
            return Ok(false);
        };
        let pending: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deferred_schema)").fetch_one(&mut *tx).await?;
        if pending {
            return Ok(true);
        }
        let occupied: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM recalls)").fetch_one(&mut *tx).await?;
        if occupied {
            return Ok(false);
        }
        let placeholders = vec!["?"; DEFERRED.len()].join(", ");
        let sql = format!(
            "SELECT type, name, sql FROM sqlite_schema WHERE name IN ({placeholders}) AND sql IS NOT NULL ORDER BY name"
        );
        let objects: Vec<(String, String, String)> = DEFERRED
            .iter()
            .fold(sqlx::query_as(sqlx::AssertSqlSafe(sql)), |q, name| q.bind(*name))
            .fetch_all(&mut *tx)
            .await?;
        for (kind, name, sql) in &objects {
            let kind = match kind.as_str() {
                "trigger" => "TRIGGER",
                "index" => "INDEX",
                other => {
                    return Err(StorageError::Corrupt(format!(
                        "{name} is a {other}, not a trigger or index"
                    )));
                }
            };
            sqlx::query("INSERT INTO deferred_schema (name, sql) VALUES (?, ?)")
                .bind(name)
                .bind(sql)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP {kind} \"{name}\""))).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(!objects.is_empty())
    }

    /// Whether `deferred_schema` records a load (read only; false on
    /// PostgreSQL and on a schema without the table).
    async fn bulk_load_pending(&self) -> Result<bool, StorageError> {
        let Pool::Sqlite(pool) = self.pool() else {
            return Ok(false);
        };
        let recorded: bool = sqlx::query_scalar(DEFERRED_SCHEMA_EXISTS).fetch_one(pool).await?;
        Ok(recorded
            && sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM deferred_schema)")
                .fetch_one(pool)
                .await?)
    }

    /// The write transaction a deferral is begun or finished in; `None` on
    /// PostgreSQL, and on a SQLite schema older than migration 0011
    /// (`database.migrate_on_start = false`), which has nowhere to record a
    /// deferral: such an import keeps its indexes live.
    async fn deferral_tx(&self) -> Result<Option<sqlx::Transaction<'static, sqlx::Sqlite>>, StorageError> {
        let Pool::Sqlite(pool) = self.pool() else {
            return Ok(None);
        };
        self.ensure_available()?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let recorded: bool = sqlx::query_scalar(DEFERRED_SCHEMA_EXISTS).fetch_one(&mut *tx).await?;
        Ok(recorded.then_some(tx))
    }

    /// Finishes a pending bulk load in one transaction: the full-text index
    /// rebuilt from every recall, the recorded triggers and indexes created
    /// again. False when none was pending (another process finished it).
    pub async fn finish_bulk_load(&self) -> Result<bool, StorageError> {
        Ok(self.finish_bulk_load_beside(None).await?.is_some())
    }

    /// [`Store::finish_bulk_load`] for a load whose full-text index was
    /// built beside it ([`Store::full_text_beside`]): the index is copied
    /// from there when it adds up, filled from the table otherwise. `None`
    /// when no load was pending; otherwise how the index was built.
    pub async fn finish_bulk_load_beside(
        &self,
        beside: Option<FullTextBeside>,
    ) -> Result<Option<FullTextBuild>, StorageError> {
        // Every server start and CLI command asks (through `migrate`), and
        // nothing is pending nearly always: a read answers that without
        // waiting for the write lock an import may be holding.
        if !self.bulk_load_pending().await? {
            return Ok(None);
        }
        let Pool::Sqlite(pool) = self.pool() else {
            return Ok(None);
        };
        let catalogue = pool.connect_options().get_filename().to_path_buf();
        let finished = match beside {
            None => {
                // What an interrupted load built beside it is of no use.
                beside::remove_leftovers(&catalogue);
                self.finish_filling().await?
            }
            Some(beside) => {
                self.ensure_available()?;
                // The connection the scratch file was attached to when it
                // was made. Any connection that read the full-text index
                // before sees the copy's commit (FTS5 compares `PRAGMA
                // data_version`) and reads it again.
                let (scratch, mut conn) = beside.into_parts();
                // Not IMMEDIATE, which would take the scratch database's
                // write lock too, and the scratch index still has its last
                // batches to add: the write lock on the catalogue alone
                // comes with the first statement, which writes.
                let attempt = match conn.begin().await {
                    Ok(tx) => finish_committed(tx, Some(&scratch)).await,
                    Err(e) => Err(e.into()),
                };
                let _ = conn.close().await;
                let path = scratch.path().to_path_buf();
                drop(scratch);
                beside::remove_scratch(&path);
                match attempt {
                    Ok(finished) => finished,
                    Err(e) => {
                        tracing::warn!(error = %e, "the full-text index built beside the load is not used; filling it from the table");
                        self.finish_filling().await?
                    }
                }
            }
        };
        let Some((built, generation)) = finished else {
            return Ok(None);
        };
        self.index_written(self.index_update(generation, Vec::new(), Vec::new())).await;
        Ok(Some(built))
    }

    /// Finishes a pending load on the pool, filling the full-text index from
    /// the table; nothing is changed when nothing is recorded.
    async fn finish_filling(&self) -> Result<Option<(FullTextBuild, i64)>, StorageError> {
        let Some(tx) = self.deferral_tx().await? else {
            return Ok(None);
        };
        finish_committed(tx, None).await
    }
}

/// [`finish_in`] in `tx`, committed when something was recorded (rolled
/// back, with no new generation, otherwise).
async fn finish_committed(
    mut tx: sqlx::Transaction<'_, sqlx::Sqlite>,
    scratch: Option<&beside::Scratch>,
) -> Result<Option<(FullTextBuild, i64)>, StorageError> {
    let finished = finish_in(&mut tx, scratch).await?;
    if finished.is_some() {
        tx.commit().await?;
    }
    Ok(finished)
}

/// How a bulk load's full-text index was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullTextBuild {
    /// Beside the load, and copied in ([`Store::full_text_beside`]).
    Beside,
    /// From the table, after the last batch.
    Filled,
}

/// The deferred indexes and triggers created again, the full-text index
/// copied from beside the load or filled, the record cleared; the caller
/// commits. `None` when nothing is recorded.
async fn finish_in(
    conn: &mut sqlx::SqliteConnection,
    scratch: Option<&beside::Scratch>,
) -> Result<Option<(FullTextBuild, i64)>, StorageError> {
    // SQL searches will find what they could not: cached answers and other
    // instances move on with the generation. Taken first: this write takes
    // the catalogue's write lock, so nothing is written after what the
    // scratch index adds last.
    let generation: i64 = sqlx::query_scalar(super::write::NEXT_GENERATION).fetch_one(&mut *conn).await?;
    let deferred: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM deferred_schema ORDER BY name").fetch_all(&mut *conn).await?;
    if deferred.is_empty() {
        return Ok(None);
    }
    // The scratch index takes its last batches and merges its segments
    // while the other indexes are built here.
    let scratch = scratch.map(beside::Scratch::finish);
    for (_, sql) in &deferred {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(&mut *conn).await?;
    }
    let copied = match scratch {
        Some(answered) => match answered.await.unwrap_or_else(|_| Err("its task stopped".into())) {
            Ok(()) => beside::copy_full_text(conn).await?,
            Err(e) => {
                tracing::warn!(error = %e, "the full-text index built beside the load is not used; filling it from the table");
                false
            }
        },
        None => false,
    };
    if !copied {
        sqlx::query("INSERT INTO recalls_fts (recalls_fts) VALUES ('delete-all')")
            .execute(&mut *conn)
            .await?;
        sqlx::query(FILL_HASH_SIZE).bind(FILL_HASH_BYTES).execute(&mut *conn).await?;
        sqlx::query(FILL_FULL_TEXT).execute(&mut *conn).await?;
        // FTS5's own default again, for every later write; the option's row
        // goes too, so the index's configuration is what it was.
        sqlx::query(FILL_HASH_SIZE).bind(FTS5_DEFAULT_HASH_BYTES).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM recalls_fts_config WHERE k = 'hashsize'").execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM deferred_schema").execute(&mut *conn).await?;
    let built = if copied { FullTextBuild::Beside } else { FullTextBuild::Filled };
    Ok(Some((built, generation)))
}
