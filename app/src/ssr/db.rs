//! The SQLite pool: created, tuned and migrated at start.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::ssr::config::DatabaseSettings;

/// Migrations are compiled in, so the binary needs no files beside it.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Open(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub async fn connect_and_migrate(settings: &DatabaseSettings) -> Result<SqlitePool, DbError> {
    if let Some(dir) = settings.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(&settings.path)
        .create_if_missing(true)
        // WAL: readers never wait for the writer. NORMAL is durable across
        // application crashes; only an OS crash can lose the last commits,
        // which for sessions means a few users sign in again.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        // Pages are read through a memory map instead of one pread() per
        // B-tree page: at a million sessions (~200 MB) a lookup touches 3-4
        // pages that SQLite's own 2 MB cache no longer holds (make bench:
        // W1 at 1,000,000 sessions vs at 1,000).
        .pragma("mmap_size", "268435456")
        // A writer that finds the database locked by another is retried by
        // SQLite's busy handler (sleeps of 1, 2, 5, 10 ... ms) for up to
        // this long; past it the request gets 503 (`error::internal`).
        .busy_timeout(Duration::from_millis(settings.busy_timeout_ms));
    let pool = SqlitePoolOptions::new()
        .max_connections(settings.max_connections)
        // sqlx pings a connection before each checkout by default: a round
        // trip to its worker thread per query, for a local file that cannot
        // have dropped. Off (perf under `make bench`: ~6% of the CPU).
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// A transaction that writes: `BEGIN IMMEDIATE` takes the write lock at
/// once, so a lock held by another writer is waited for by the busy
/// handler. (A deferred `BEGIN` that reads first and writes later fails at
/// once with SQLITE_BUSY_SNAPSHOT when another writer committed meanwhile:
/// no retry can help it then.)
pub async fn write_transaction(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}
