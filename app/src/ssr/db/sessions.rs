//! `sessions`: one row per session, keyed by the SHA-256 of its ID (the
//! storage key; the ID itself is never stored). `session::store` is the only
//! caller of the writes: it keeps the session cache true around them.

use super::{Db, Pool};
use sqlx::{AnyConnection, Executor};

/// A new row's columns.
pub struct NewSession<'a> {
    pub key: &'a [u8],
    pub user_id: Option<i64>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    /// Where it was first used (a rotated session's, carried over).
    pub ip_first: Option<&'a str>,
    pub user_agent_first: Option<&'a str>,
    /// Where it is used now.
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub data: &'a str,
    pub sign_in_id: Option<&'a str>,
}

/// A live session with its owner's row (a LEFT JOIN: one round trip per
/// request that misses the cache, issue 4).
#[derive(sqlx::FromRow)]
pub struct SessionWithOwner {
    pub user_id: Option<i64>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub data: String,
    pub username: Option<String>,
    pub credential_epoch: Option<i64>,
    pub display_name: Option<String>,
    pub about: Option<String>,
    pub user_agent_last: Option<String>,
    pub ip_last: Option<String>,
    pub device_notice: Option<String>,
    /// The sign-in's device binding (issue 26), when it is bound: what
    /// every request checks, read with the session.
    pub bound_at: Option<i64>,
    pub cookie_hash: Option<Vec<u8>>,
    pub cookie_expires_at: Option<i64>,
    pub previous_cookie_hash: Option<Vec<u8>>,
    pub previous_cookie_expires_at: Option<i64>,
}

/// The deadlines a touch wrote.
#[derive(sqlx::FromRow)]
pub struct Touched {
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
}

/// A live session as the user's sessions page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredSession {
    /// The storage key (SHA-256 of the ID): stays on the server.
    pub id_hash: Vec<u8>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ip_first: Option<String>,
    pub ip_last: Option<String>,
    pub user_agent_last: Option<String>,
    /// 1 when its sign-in is bound to a device (DBSC, issue 26).
    pub device_bound: i64,
}

/// A session the clean-up deleted because it had expired.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpiredSession {
    /// The storage key (SHA-256 of the ID).
    pub id_hash: Vec<u8>,
    /// `None` for a visitor's session (nobody signed in).
    pub user_id: Option<i64>,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub ip_last: Option<String>,
    pub user_agent_last: Option<String>,
}

impl ExpiredSession {
    /// Which deadline ended it: "absolute" when that one came first.
    pub fn reason(&self) -> &'static str {
        if self.absolute_expires_at <= self.idle_expires_at {
            "absolute"
        } else {
            "idle"
        }
    }
}

/// A live session of any user, for the admin page: storage key, user id,
/// username, user agent, address, last seen.
pub type AdminSessionRow = (Vec<u8>, i64, String, Option<String>, Option<String>, i64);

/// Inserts `row` unless its key is taken; `true` when it was inserted.
pub async fn insert<'c, E: Executor<'c, Database = Db>>(
    db: E,
    row: &NewSession<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, \
         idle_expires_at, absolute_expires_at, ip_first, ip_last, \
         user_agent_first, user_agent_last, data, sign_in_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $11, $7, $12, $8, $9, $10) \
         ON CONFLICT (id_hash) DO NOTHING",
    )
    .bind(row.key)
    .bind(row.user_id)
    .bind(row.created_at)
    .bind(row.last_seen_at)
    .bind(row.idle_expires_at)
    .bind(row.absolute_expires_at)
    .bind(row.ip)
    .bind(row.user_agent)
    .bind(row.data)
    .bind(row.sign_in_id)
    .bind(row.ip_first)
    .bind(row.user_agent_first)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the user's sessions beyond the `limit` most recently used live
/// ones (`keep` always among them), and every one of theirs that is no
/// longer live.
pub async fn evict_beyond(
    db: &mut AnyConnection,
    user_id: i64,
    keep: &[u8],
    limit: u32,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1 AND id_hash NOT IN ( \
           SELECT id_hash FROM sessions \
           WHERE user_id = $1 AND idle_expires_at > $4 AND absolute_expires_at > $4 \
           ORDER BY id_hash = $2 DESC, last_seen_at DESC, created_at DESC LIMIT $3)",
    )
    .bind(user_id)
    .bind(keep)
    .bind(i64::from(limit))
    .bind(now)
    .execute(db)
    .await
    .map(|_| ())
}

/// Whether the row is there and live.
pub async fn is_live(db: &Pool, key: &[u8], now: i64) -> Result<bool, sqlx::Error> {
    let alive: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sessions \
         WHERE id_hash = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2",
    )
    .bind(key)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(alive.is_some())
}

/// Writes new data into a live row, only if it still holds `loaded`
/// (compare-and-swap); `true` when written.
pub async fn replace_data(
    db: &Pool,
    key: &[u8],
    user_id: Option<i64>,
    data: &str,
    loaded: Option<&str>,
    sign_in_id: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sessions SET user_id = $2, data = $3, sign_in_id = $6 \
         WHERE id_hash = $1 AND data = $4 \
           AND idle_expires_at > $5 AND absolute_expires_at > $5",
    )
    .bind(key)
    .bind(user_id)
    .bind(data)
    .bind(loaded)
    .bind(now)
    .bind(sign_in_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The live row under `key`, with its owner's row.
pub async fn load(
    db: &Pool,
    key: &[u8],
    now: i64,
) -> Result<Option<SessionWithOwner>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, \
                s.absolute_expires_at, s.data, \
                u.username, u.credential_epoch, u.display_name, u.about, \
                s.user_agent_last, s.ip_last, u.device_notice, \
                d.registered_at AS bound_at, d.cookie_hash, d.cookie_expires_at, d.previous_cookie_hash, \
                d.previous_cookie_expires_at \
         FROM sessions s LEFT JOIN users u ON u.id = s.user_id \
         LEFT JOIN device_bindings d ON d.sign_in_id = s.sign_in_id \
         WHERE s.id_hash = $1 AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2",
    )
    .bind(key)
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Moves a live row's deadlines (and notes the client), only if its last
/// touch was at or before `due_before`: of parallel touches one writes.
#[allow(clippy::too_many_arguments)]
pub async fn touch(
    db: &Pool,
    key: &[u8],
    now: i64,
    idle_deadline: i64,
    ip: Option<&str>,
    user_agent: Option<&str>,
    due_before: i64,
) -> Result<Option<Touched>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE sessions SET last_seen_at = $2, \
           idle_expires_at = CASE WHEN $3 < absolute_expires_at THEN $3 \
                                  ELSE absolute_expires_at END, \
           ip_last = COALESCE($4, ip_last), user_agent_last = COALESCE($5, user_agent_last) \
         WHERE id_hash = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2 \
           AND last_seen_at <= $6 \
         RETURNING created_at, last_seen_at, idle_expires_at, absolute_expires_at",
    )
    .bind(key)
    .bind(now)
    .bind(idle_deadline)
    .bind(ip)
    .bind(user_agent)
    .bind(due_before)
    .fetch_optional(db)
    .await
}

/// Deletes up to `batch` rows past either deadline, returning them.
pub async fn delete_expired(
    db: &Pool,
    now: i64,
    batch: u32,
) -> Result<Vec<ExpiredSession>, sqlx::Error> {
    sqlx::query_as(
        "DELETE FROM sessions WHERE id_hash IN ( \
           SELECT id_hash FROM sessions WHERE idle_expires_at <= $1 \
           UNION SELECT id_hash FROM sessions WHERE absolute_expires_at <= $1 \
           LIMIT $2) \
         RETURNING id_hash, user_id, idle_expires_at, absolute_expires_at, ip_last, \
           user_agent_last",
    )
    .bind(now)
    .bind(i64::from(batch))
    .fetch_all(db)
    .await
}

/// The live sessions of `user_id` from the sign-in `sign_in_id` (what an
/// access token names; normally one row, more only during a race), each
/// with its data and its owner's row.
pub async fn live_of_sign_in(
    db: &Pool,
    user_id: i64,
    sign_in_id: &str,
    now: i64,
) -> Result<Vec<(String, String, i64, String, String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.data, u.username, u.credential_epoch, u.display_name, u.about, \
                u.device_notice \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.sign_in_id = $1 AND s.user_id = $2 \
           AND s.idle_expires_at > $3 AND s.absolute_expires_at > $3 LIMIT 16",
    )
    .bind(sign_in_id)
    .bind(user_id)
    .bind(now)
    .fetch_all(db)
    .await
}

/// Deletes one row; how many went (0 or 1).
pub async fn delete(db: &Pool, key: &[u8]) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes every row of the user; how many.
/// Deletes every row of the sign-in `sign_in_id` of `user_id` (a device
/// proof refused, issue 26); how many.
pub async fn delete_of_sign_in(
    db: &Pool,
    user_id: i64,
    sign_in_id: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND sign_in_id = $2")
        .bind(user_id)
        .bind(sign_in_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

pub async fn delete_all_of_user(db: &Pool, user_id: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes the row `key` if it is the user's; how many went (0 or 1).
pub async fn delete_one_of_user(db: &Pool, user_id: i64, key: &[u8]) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND user_id = $2")
        .bind(key)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes every row of the user but `keep`; how many.
pub async fn delete_others_of_user(
    db: &Pool,
    user_id: i64,
    keep: &[u8],
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash != $2")
        .bind(user_id)
        .bind(keep)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The user's live sessions, most recently used first.
pub async fn live_of_user(
    db: &Pool,
    user_id: i64,
    now: i64,
) -> Result<Vec<StoredSession>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id_hash, created_at, last_seen_at, ip_first, ip_last, user_agent_last, \
                CASE WHEN EXISTS (SELECT 1 FROM device_bindings d \
                  WHERE d.sign_in_id = sessions.sign_in_id AND d.public_key IS NOT NULL) \
                THEN 1 ELSE 0 END AS device_bound \
         FROM sessions \
         WHERE user_id = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2 \
         ORDER BY last_seen_at DESC, created_at DESC",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(db)
    .await
}

/// Live signed-in sessions, and how many of them are bound to a device
/// (DBSC, issue 26): `/admin`'s share.
pub async fn bound_share(db: &Pool, now: i64) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM device_bindings d \
           WHERE d.sign_in_id = sessions.sign_in_id AND d.public_key IS NOT NULL) \
           THEN 1 ELSE 0 END), 0) \
         FROM sessions WHERE user_id IS NOT NULL AND idle_expires_at > $1 \
           AND absolute_expires_at > $1",
    )
    .bind(now)
    .fetch_one(db)
    .await
}

/// Where the session stored under `key` was first used: its first address
/// and user agent (a rotation carries them to the new row).
pub async fn first_client(
    db: &Pool,
    key: &[u8],
) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT ip_first, user_agent_first FROM sessions WHERE id_hash = $1")
        .bind(key)
        .fetch_optional(db)
        .await
}

/// Live sessions of every user, most recently used first (at most `limit`).
pub async fn live_of_everyone(
    db: &Pool,
    now: i64,
    limit: i64,
) -> Result<Vec<AdminSessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id_hash, u.id, u.username, s.user_agent_last, s.ip_last, s.last_seen_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.idle_expires_at > $1 AND s.absolute_expires_at > $1 \
         ORDER BY s.last_seen_at DESC LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}
