//! A bulk load's full-text index, built beside the load.
//!
//! FTS5 gathers a segment in memory only while rowids ascend, and the index
//! numbers recalls newest date first (migration 0008) while a load arrives
//! in file order. So a load into an empty catalogue used to fill the index
//! from the finished table, on the one connection that may write the
//! catalogue, with the second core idle: 17 of the 1M import's 51 s.
//!
//! Instead a scratch database next to the catalogue
//! (`<file>-fulltext-load-<process>-<time>`, one per load; no journal: it
//! is rebuilt rather than recovered) holds a full-text table declared
//! exactly as the catalogue's, and a connection of its own (a thread of
//! its own) adds each batch's recalls to it from the catalogue as soon as
//! the batch commits, while the next batch is written. A batch is written
//! in the index's rowid order (`write.rs`) and read back in rid order, the
//! same order for its new recalls: each batch becomes one segment (a few
//! more for recalls it revised, or when one catch-up takes several
//! batches); FTS5's merging is held off until the end. It also keeps which
//! index row each recall got (`fts_rows`), so a recall that a later batch
//! changes has its old entry removed.
//!
//! When the load finishes, under the catalogue's write lock, the scratch
//! index adds what was written since and merges its segments into one
//! (`optimize`), while the catalogue builds its other deferred indexes.
//! Then the finishing connection, which has the scratch file attached,
//! checks that it holds exactly the catalogue's recalls, each under the
//! rowid its row gives, and replaces the catalogue's full-text tables by
//! copies of the scratch table's: the same SQLite and the same declaration
//! wrote them, so they are the index a fill would have written, in fewer
//! pages. If the scratch index failed, does not add up, or cannot be
//! attached or copied, the load fills the index from the table as before.
//! A row edited by hand behind the load's back with the same date and
//! facets keeps the text the scratch index read (an edit through the
//! service writes a new generation, which it reads again).

use std::path::{Path, PathBuf};

use sqlx::{ConnectOptions, Connection, SqliteConnection, sqlite::SqliteConnectOptions};
use tokio::sync::{mpsc, oneshot};

use crate::{Pool, StorageError, Store};

/// Segments FTS5 may pile up in one level before it merges them anyway. The
/// load merges them itself at the end; a load of more batches than this
/// (smaller ones than usual) merges along the way.
const MOST_SEGMENTS: i64 = 200;

/// What the scratch index answers when the load finishes.
type Finished = Result<(), String>;

/// What the scratch index's task is asked.
enum Request {
    /// A batch committed: add what was written since.
    CatchUp,
    /// The last catch-up, the check and the merge.
    Finish(oneshot::Sender<Finished>),
}

/// The full-text index of a bulk load, built beside it
/// ([`Store::full_text_beside`]). Tell it after each committed batch
/// ([`FullTextBeside::written`]) and hand it to
/// [`Store::finish_bulk_load_beside`]. Dropped instead, its task stops and
/// removes the file (or the next load or `migrate` does).
pub struct FullTextBeside {
    scratch: Scratch,
    /// The catalogue's connection that finishes the load, with the scratch
    /// file attached as `fulltext`: attached when the file was made, while
    /// nothing wrote it (attaching reads its schema, which waits for a
    /// write in progress), and used for nothing else.
    finisher: SqliteConnection,
}

/// The scratch index's file and its task's requests.
pub(super) struct Scratch {
    /// This load's own file: two loads never share one.
    path: PathBuf,
    requests: mpsc::UnboundedSender<Request>,
}

impl FullTextBeside {
    /// A batch committed: its recalls are added to the scratch index while
    /// the next one is written.
    pub fn written(&self) {
        let _ = self.scratch.requests.send(Request::CatchUp);
    }

    /// The scratch index, and the connection that finishes the load.
    pub(super) fn into_parts(self) -> (Scratch, SqliteConnection) {
        (self.scratch, self.finisher)
    }
}

impl Scratch {
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Adds what is left, checks and merges the scratch index; the answer
    /// arrives on the returned channel. Asked while the caller holds the
    /// catalogue's write lock, so nothing is written after it.
    pub(super) fn finish(&self) -> oneshot::Receiver<Finished> {
        let (answer, answered) = oneshot::channel();
        let _ = self.requests.send(Request::Finish(answer));
        answered
    }
}

/// The start of the scratch files' names, next to the catalogue's file.
fn scratch_prefix(catalogue: &Path) -> std::ffi::OsString {
    let mut name = catalogue.file_name().unwrap_or_default().to_owned();
    name.push("-fulltext-load-");
    name
}

/// A new scratch file's path: its own name per load (process and time), so
/// that a load that joins another's never takes the other's file.
fn scratch_path(catalogue: &Path) -> PathBuf {
    let mut name = scratch_prefix(catalogue);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    name.push(format!("{}-{nanos}", std::process::id()));
    catalogue.with_file_name(name)
}

/// Removes the scratch files loads left next to the catalogue (a crash, a
/// runtime stopped before a task removed its own). A load still running
/// in another process loses its file and fills its index instead.
pub(super) fn remove_leftovers(catalogue: &Path) {
    let prefix = scratch_prefix(catalogue);
    let dir = match catalogue.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().as_encoded_bytes().starts_with(prefix.as_encoded_bytes()) {
            remove_scratch(&entry.path());
        }
    }
}

pub(super) fn remove_scratch(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a bulk load's scratch full-text index")
        }
    }
}

impl Store {
    /// Starts building a bulk load's full-text index beside it (SQLite,
    /// file databases). `None` when it cannot: the load then fills the
    /// index at the end.
    pub async fn full_text_beside(&self) -> Result<Option<FullTextBeside>, StorageError> {
        let Pool::Sqlite(pool) = self.pool() else {
            return Ok(None);
        };
        let catalogue = pool.connect_options().get_filename().to_path_buf();
        if catalogue.as_os_str().is_empty() || catalogue == Path::new(":memory:") {
            return Ok(None);
        }
        let declaration: Option<String> =
            sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'recalls_fts'")
                .fetch_optional(pool)
                .await?;
        let Some(declaration) = declaration else {
            return Ok(None);
        };
        remove_leftovers(&catalogue);
        let path = scratch_path(&catalogue);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Off)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
            .pragma("cache_size", "-65536");
        let mut conn = options.connect().await?;
        let set_up = async {
            sqlx::query("ATTACH DATABASE ? AS cat")
                .bind(catalogue.to_string_lossy())
                .execute(&mut conn)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(declaration)).execute(&mut conn).await?;
            sqlx::query("CREATE TABLE fts_rows (rid INTEGER PRIMARY KEY, fts_rowid INTEGER NOT NULL)")
                .execute(&mut conn)
                .await?;
            for (option, value) in
                [("automerge", 0), ("crisismerge", MOST_SEGMENTS), ("hashsize", super::FILL_HASH_BYTES)]
            {
                sqlx::query("INSERT INTO recalls_fts (recalls_fts, rank) VALUES (?, ?)")
                    .bind(option)
                    .bind(value)
                    .execute(&mut conn)
                    .await?;
            }
            let mut finisher = (*pool.connect_options()).clone().connect().await?;
            sqlx::query("ATTACH DATABASE ? AS fulltext")
                .bind(path.to_string_lossy().into_owned())
                .execute(&mut finisher)
                .await?;
            Ok::<_, sqlx::Error>(finisher)
        };
        let finisher = match set_up.await {
            Ok(finisher) => finisher,
            Err(e) => {
                let _ = conn.close().await;
                remove_scratch(&path);
                return Err(e.into());
            }
        };
        let (requests, received) = mpsc::unbounded_channel();
        tokio::spawn(build(conn, path.clone(), received));
        Ok(Some(FullTextBeside { scratch: Scratch { path, requests }, finisher }))
    }
}

/// The scratch index's task: catches up after every batch until the load
/// finishes (or gives up).
async fn build(mut conn: SqliteConnection, path: PathBuf, mut requests: mpsc::UnboundedReceiver<Request>) {
    // Every recall the catalogue holds, whatever its generation: a load
    // that joins an interrupted one finds the earlier one's recalls there.
    let mut state: Result<i64, String> = Ok(-1);
    while let Some(request) = requests.recv().await {
        match request {
            Request::CatchUp => {
                if let Ok(after) = state {
                    state = catch_up(&mut conn, after).await.map_err(|e| e.to_string());
                }
            }
            Request::Finish(answer) => {
                let result = match state {
                    Ok(after) => finish(&mut conn, after).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                let _ = answer.send(result);
                // The caller copies the tables and removes the file.
                let _ = conn.close().await;
                return;
            }
        }
    }
    let _ = conn.close().await;
    remove_scratch(&path);
}

/// Adds the recalls written in generations after `after` (changed ones lose
/// their old entry first), in the index's rowid order; returns the last
/// generation added. One transaction: one view of the catalogue.
async fn catch_up(conn: &mut SqliteConnection, after: i64) -> Result<i64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let upto: i64 = sqlx::query_scalar("SELECT coalesce(max(change_gen), ?) FROM cat.recalls")
        .bind(after)
        .fetch_one(&mut *tx)
        .await?;
    if upto > after {
        for sql in [CHANGED_ENTRIES_REMOVED, ENTRIES_ADDED, ROWS_KEPT] {
            sqlx::query(sql).bind(after).bind(upto).execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(upto)
}

/// The last catch-up and the merge into one segment.
async fn finish(conn: &mut SqliteConnection, after: i64) -> Result<(), StorageError> {
    catch_up(conn, after).await?;
    sqlx::query("INSERT INTO recalls_fts (recalls_fts) VALUES ('optimize')").execute(&mut *conn).await?;
    Ok(())
}

/// The entries of recalls written again since the last catch-up.
const CHANGED_ENTRIES_REMOVED: &str = "\
    DELETE FROM recalls_fts WHERE rowid IN ( \
        SELECT f.fts_rowid FROM cat.recalls r JOIN fts_rows f ON f.rid = r.rid \
        WHERE r.change_gen > ?1 AND r.change_gen <= ?2)";

const ENTRIES_ADDED: &str = concat!(
    "INSERT INTO recalls_fts (rowid, search_title, search_body, facets) SELECT ",
    fts_rowid!("r"),
    ", r.search_title, r.search_body, ",
    fts_facets!("r"),
    " FROM cat.recalls r WHERE r.change_gen > ?1 AND r.change_gen <= ?2 ORDER BY r.change_gen, r.rid"
);

const ROWS_KEPT: &str = concat!(
    "INSERT OR REPLACE INTO fts_rows (rid, fts_rowid) SELECT r.rid, ",
    fts_rowid!("r"),
    " FROM cat.recalls r WHERE r.change_gen > ?1 AND r.change_gen <= ?2"
);

/// Replaces the catalogue's full-text tables (the ones FTS5 keeps for
/// `recalls_fts`, its configuration excepted) by the scratch index's, on a
/// connection with the scratch database attached as `fulltext`. False,
/// with nothing changed, when the two were not declared alike, FTS5's
/// format versions differ, or the scratch index does not hold exactly the
/// catalogue's recalls.
pub(super) async fn copy_full_text(conn: &mut SqliteConnection) -> Result<bool, StorageError> {
    let alike: bool = sqlx::query_scalar(
        "SELECT (SELECT sql FROM main.sqlite_schema WHERE name = 'recalls_fts') \
                IS (SELECT sql FROM fulltext.sqlite_schema WHERE name = 'recalls_fts') \
            AND (SELECT v FROM main.recalls_fts_config WHERE k = 'version') \
                IS (SELECT v FROM fulltext.recalls_fts_config WHERE k = 'version')",
    )
    .fetch_one(&mut *conn)
    .await?;
    let tables = |schema: &'static str| {
        format!(
            "SELECT name FROM {schema}.sqlite_schema WHERE type = 'table' \
             AND substr(name, 1, 12) = 'recalls_fts_' AND name <> 'recalls_fts_config' ORDER BY name"
        )
    };
    let ours: Vec<String> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(tables("main"))).fetch_all(&mut *conn).await?;
    let theirs: Vec<String> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(tables("fulltext"))).fetch_all(&mut *conn).await?;
    if !alike || ours != theirs || ours.is_empty() {
        tracing::warn!("the full-text index built beside the load is not declared like the catalogue's");
        return Ok(false);
    }
    // It holds exactly the catalogue's recalls, each under the rowid its
    // row gives now (checked here, on the file attached).
    let (recalls, rows, matching): (i64, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(concat!(
        "SELECT (SELECT count(*) FROM main.recalls), (SELECT count(*) FROM fulltext.fts_rows), \
         (SELECT count(*) FROM fulltext.fts_rows f JOIN main.recalls r ON r.rid = f.rid AND f.fts_rowid = ",
        fts_rowid!("r"),
        ")"
    )))
    .fetch_one(&mut *conn)
    .await?;
    if recalls != rows || rows != matching {
        tracing::warn!(
            recalls,
            rows,
            matching,
            "the full-text index built beside the load does not hold the catalogue's recalls"
        );
        return Ok(false);
    }
    for table in &ours {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM main.\"{table}\""))).execute(&mut *conn).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO main.\"{table}\" SELECT * FROM fulltext.\"{table}\""
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}
