use std::time::Duration;

/// Storage failures, classified by what the caller should do about them.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot serve right now (pool exhausted, connection refused,
    /// server shutting down, statement timed out). Callers answer 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or foreign-key rule refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Data in the database could not be decoded; a bug or a corrupted row.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
    /// Migrations failed or the schema is newer than this binary.
    #[error("migration failed: {0}")]
    Migration(String),
}

impl StorageError {
    pub(crate) fn timeout(after: Duration) -> Self {
        StorageError::Unavailable(format!("statement exceeded {} ms", after.as_millis()))
    }

    /// The same error for another caller (a failed query shared by several
    /// lookups, `coalesce.rs`). A driver error keeps its message.
    pub(crate) fn duplicate(&self) -> StorageError {
        match self {
            StorageError::Unavailable(m) => StorageError::Unavailable(m.clone()),
            StorageError::Conflict(m) => StorageError::Conflict(m.clone()),
            StorageError::Corrupt(m) => StorageError::Corrupt(m.clone()),
            StorageError::Other(e) => StorageError::Other(sqlx::Error::Protocol(e.to_string())),
            StorageError::Migration(m) => StorageError::Migration(m.clone()),
        }
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut => StorageError::Unavailable("connection pool exhausted".into()),
            sqlx::Error::PoolClosed => StorageError::Unavailable("connection pool closed".into()),
            sqlx::Error::Io(e) => StorageError::Unavailable(format!("i/o: {e}")),
            sqlx::Error::Tls(_) => StorageError::Unavailable("tls failure".into()),
            sqlx::Error::WorkerCrashed => StorageError::Unavailable("sqlite worker crashed".into()),
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if db.is_unique_violation() || db.is_foreign_key_violation() {
                    return StorageError::Conflict(db.message().to_string());
                }
                // PostgreSQL: 57014 query_canceled (statement_timeout), 57P01..03 admin
                // shutdown / cannot connect now, 53300 too many connections, 08xxx
                // connection exceptions. SQLite reports extended codes; their low
                // byte 5 is SQLITE_BUSY and 6 SQLITE_LOCKED (BUSY_SNAPSHOT = 517…).
                let sqlite_primary = code.parse::<i32>().ok().map(|c| c & 0xff);
                if code == "57014"
                    || code.starts_with("57P")
                    || code.starts_with("08")
                    || code == "53300"
                    || matches!(sqlite_primary, Some(5 | 6))
                {
                    return StorageError::Unavailable(db.message().to_string());
                }
                StorageError::Other(err)
            }
            sqlx::Error::Protocol(_) => StorageError::Unavailable("protocol error".into()),
            _ => StorageError::Other(err),
        }
    }
}

impl From<serde_json::Error> for StorageError {
    fn from(err: serde_json::Error) -> Self {
        StorageError::Corrupt(err.to_string())
    }
}
