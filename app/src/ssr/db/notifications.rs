//! PostgreSQL's `LISTEN`/`NOTIFY` on one channel, `tessera_cache`, by which
//! several servers on one database keep their session caches true (issue
//! 24). What is sent:
//!
//! - `s:<64 hex digits>`: the session row with that storage key changed or
//!   went (the `sessions_changed` trigger, in the writing transaction: a
//!   notification is delivered only if its write commits).
//! - `u:<id>`: the user's row changed or went (`users_changed`; sessions
//!   carry their user's row).
//! - `h:<server>:<n>`: a server's heartbeat, sent to itself: once it comes
//!   back, every notification committed before it was sent has arrived
//!   (PostgreSQL delivers them in commit order).
//!
//! The triggers are in `migrations/postgres/`; SQLite has one server and
//! no notifications.

use std::str::FromStr;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

pub const CHANNEL: &str = "tessera_cache";

/// Whether `url` is one PostgreSQL can be reached at (checked once, at
/// start, before the listener's thread tries it).
pub fn check_url(url: &str) -> Result<(), sqlx::Error> {
    PgConnectOptions::from_str(url).map(|_| ())
}

/// A listener on `CHANNEL` over a connection of its own, named
/// `application_name` in `pg_stat_activity` (an operator, or a test,
/// can find it there).
pub async fn listen(url: &str, application_name: &str) -> Result<PgListener, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(application_name);
    // One connection, never recycled by age: it only ever listens. Losing
    // it is noticed by the caller, which makes a new listener.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// A connection of its own for heartbeats, made when first used and again
/// after it is lost: the app's pool may be busy with requests, and a
/// heartbeat that waits for it would make the cache distrust itself
/// exactly when it saves the most.
pub fn heartbeat_sender(
    url: &str,
    application_name: &str,
    timeout: Duration,
) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(application_name);
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(timeout)
        .connect_lazy_with(options))
}

/// Sends heartbeat `n` of `server` (lowercase hex, digits: nothing to
/// quote).
pub async fn heartbeat(pool: &PgPool, server: &str, n: u64) -> Result<(), sqlx::Error> {
    debug_assert!(server.bytes().all(|b| b.is_ascii_hexdigit()));
    let statement = format!("NOTIFY {CHANNEL}, 'h:{server}:{n}'");
    sqlx::raw_sql(&statement).execute(pool).await.map(|_| ())
}
