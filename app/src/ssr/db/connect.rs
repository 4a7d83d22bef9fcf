//! The pool: created, tuned and migrated at start.

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Executor, Transaction};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Empty: SQLite at `path` (the embedded default). `postgres://…`:
    /// PostgreSQL, for several servers sharing one store (issue 14).
    /// `sqlite://FILE` names the SQLite file instead of `path`.
    pub url: String,
    /// SQLite database file; its directory is created at start.
    pub path: PathBuf,
    pub max_connections: u32,
    /// How long a writer waits for another writer's lock (SQLite retries
    /// with a growing sleep) before the request gets 503.
    pub busy_timeout_ms: u64,
    /// How long a request waits for a connection (all in use, or the
    /// database unreachable) before it gets 503 with `Retry-After`.
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            path: PathBuf::from("data/tessera.db"),
            max_connections: 4,
            busy_timeout_ms: 5_000,
            acquire_timeout_ms: 3_000,
        }
    }
}

/// The pool every module queries.
pub type Pool = sqlx::AnyPool;
/// The database type of `Pool`'s connections and transactions.
pub type Db = sqlx::Any;

/// Migrations are compiled in, so the binary needs no files beside it.
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }

    pub fn of(pool: &Pool) -> Self {
        Self::of_url(pool.connect_options().database_url.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Url(String),
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

/// SQLite's settings for every connection (the `Any` driver takes only a
/// URL, so they are pragmas run once per connection).
///
/// WAL: readers never wait for the writer. NORMAL is durable across
/// application crashes; only an OS crash can lose the last commits, which
/// for sessions means a few users sign in again. `mmap_size = 0`: no
/// memory map of the file. With one, every connection unmaps and maps the
/// file again at its first read after another connection wrote (SQLite
/// resets its pager then), each unmap a TLB shoot-down on the other cores:
/// a sign-in writes four times, and W2 (make bench) ran 0.907 vs 0.868 x
/// raw argon2 without the map (A/B, 3 rounds). Signed-in reads come from
/// the session cache, so the map no longer helps them: W1 at 1,000,000
/// sessions was 0.996 x W1 at 1,000 without it. `busy_timeout`: a writer that finds the database locked by
/// another is retried by SQLite's busy handler (sleeps of 1, 2, 5, 10 ...
/// ms) for up to this long; past it the request gets 503
/// (`error::internal`).
fn sqlite_pragmas(busy_timeout_ms: u64) -> String {
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA mmap_size = 0; PRAGMA busy_timeout = {busy_timeout_ms};"
    )
}

/// The SQLite file and its connection options: from `database.url` in
/// sqlx's own form (`sqlite://FILE` or `sqlite:FILE`, with its query options
/// `mode`, `cache`, `immutable` and `vfs` applied as sqlx applies them), or
/// `path` when the URL is empty. Options a server that writes cannot run
/// with are refused with a message naming the setting: read-only and
/// immutable files, and in-memory databases (each pooled connection would
/// have its own, lost at exit). Without a `mode` the file is created when
/// missing, as with `path`; `mode=rw` keeps sqlx's meaning (it must exist).
pub fn sqlite_options(url: &str, path: &std::path::Path) -> Result<SqliteConnectOptions, String> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true));
    }
    let refuse = |why: &str| Err(format!("database.url {url:?}: {why}"));
    let options = match SqliteConnectOptions::from_str(url) {
        Ok(options) => options,
        Err(e) => return refuse(&e.to_string()),
    };
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let names_mode = query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("mode"));
    // sqlx's own reading of the options, as it will open the file.
    let built = options.to_url_lossy();
    let option = |name: &str| {
        built
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    match option("mode").as_deref() {
        Some("memory") => {
            return refuse(
                "an in-memory database is not shared by the pool's connections and is lost \
                 at exit; name a file",
            )
        }
        Some("ro") => return refuse("the server writes to its database; mode=ro cannot work"),
        _ => {}
    }
    if option("immutable").is_some() {
        return refuse("the server writes to its database; immutable=true cannot work");
    }
    if options.get_filename().as_os_str().is_empty() {
        return refuse("names no file (sqlite://FILE)");
    }
    Ok(if names_mode {
        options
    } else {
        options.create_if_missing(true)
    })
}

pub async fn connect_and_migrate(settings: &DatabaseSettings) -> Result<Pool, DbError> {
    sqlx::any::install_default_drivers();
    let url = settings.url.trim();
    let options = AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        // sqlx waits 30 s by default, retrying a database that refuses
        // connections: a PostgreSQL that is down would hold every request
        // to the request timeout. A quick 503 instead (issue 24).
        .acquire_timeout(std::time::Duration::from_millis(
            settings.acquire_timeout_ms,
        ))
        // sqlx pings a connection before each checkout by default: a round
        // trip to its worker thread per query, for a local file that cannot
        // have dropped. Off (perf under `make bench`: ~6% of the CPU). A
        // PostgreSQL connection that dropped fails its query and is
        // replaced.
        .test_before_acquire(false);
    match Engine::of_url(url) {
        Engine::Postgres => {
            // A write that waits for another transaction's row lock longer
            // than the busy timeout fails with lock_not_available, answered
            // 503 like SQLite's busy database (`error::internal`), instead
            // of waiting until the request times out.
            let lock_timeout = format!("SET lock_timeout = {}", settings.busy_timeout_ms);
            let pool = options
                .after_connect(move |connection, _| {
                    let lock_timeout = lock_timeout.clone();
                    Box::pin(async move {
                        connection.execute(lock_timeout.as_str()).await?;
                        Ok(())
                    })
                })
                .connect_with(AnyConnectOptions::from_str(url)?)
                .await?;
            POSTGRES_MIGRATOR.run(&pool).await?;
            Ok(pool)
        }
        Engine::Sqlite => {
            let sqlite = sqlite_options(url, &settings.path).map_err(DbError::Url)?;
            let path = sqlite.get_filename();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
            let file_url = sqlite.to_url_lossy();
            let pragmas = sqlite_pragmas(settings.busy_timeout_ms);
            let pool = options
                .after_connect(move |connection, _| {
                    let pragmas = pragmas.clone();
                    Box::pin(async move {
                        connection.execute(pragmas.as_str()).await?;
                        Ok(())
                    })
                })
                .connect_with(AnyConnectOptions::from_str(file_url.as_str())?)
                .await?;
            SQLITE_MIGRATOR.run(&pool).await?;
            Ok(pool)
        }
    }
}

/// A transaction that writes. On SQLite, `BEGIN IMMEDIATE` takes the write
/// lock at once, so a lock held by another writer is waited for by the
/// busy handler. (A deferred `BEGIN` that reads first and writes later
/// fails at once with SQLITE_BUSY_SNAPSHOT when another writer committed
/// meanwhile: no retry can help it then.) PostgreSQL locks rows as they
/// are written, so a plain `BEGIN` does.
pub async fn write_transaction(pool: &Pool) -> Result<Transaction<'static, Db>, sqlx::Error> {
    match Engine::of(pool) {
        Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Engine::Postgres => pool.begin().await,
    }
}

/// One round trip: whether the database answers (`/health/ready`).
pub async fn ping(pool: &Pool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}
