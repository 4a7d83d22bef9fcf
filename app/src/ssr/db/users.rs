//! `users`: accounts, and the one place that writes them.
//!
//! Sessions carry a copy of their owner's row (the session cache, and the
//! JOIN in `sessions::load`), so every write here takes that cache and
//! clears the user's entries once the write is done: a caller cannot change
//! a cached column and forget to. The one exception is `set_admin`: the
//! admin flag is never cached (`admin::require_admin` reads it per request);
//! the command line that runs it passes `NoCache` to the writes that follow.

use super::{Engine, Pool};
use sqlx::AnyConnection;

/// Something that keeps copies of users' rows and must drop a user's when
/// the row changes (the session cache, `session::store`).
pub trait UserCache {
    fn user_changed(&self, user_id: i64);
}

/// A user's row as a sign-in checks it: id, name, password hash,
/// credential epoch, admin flag (0/1), whether TOTP is on (0/1).
pub type Credentials = (i64, String, String, i64, i64, i64);

/// A row of the admin's user list: id, name, last sign-in, admin flag,
/// whether TOTP is on, live sessions.
pub type AdminUserRow = (i64, String, Option<i64>, i64, i64, i64);

/// A new account; `false` when the name is taken (names are unique
/// whatever their case).
pub async fn insert(
    db: &Pool,
    username: &str,
    password_hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(username)
    .bind(password_hash)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The row of the account named `username` (any case), on the caller's
/// connection (a sign-in holds one for the throttle too).
pub async fn credentials(
    db: &mut AnyConnection,
    username: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.username, u.password_hash, u.credential_epoch, u.is_admin, \
           CASE WHEN EXISTS (SELECT 1 FROM totp_factors t WHERE t.user_id = u.id) \
             THEN 1 ELSE 0 END \
         FROM users u WHERE lower(u.username) = lower($1)",
    )
    .bind(username)
    .fetch_optional(db)
    .await
}

/// Locks the user's row until the caller's transaction ends, so that
/// transactions acting on one user's sessions take turns (the per-user
/// session limit, review E17). PostgreSQL: `FOR UPDATE`; SQLite's
/// `BEGIN IMMEDIATE` already holds its one write lock.
pub async fn lock(db: &mut AnyConnection, engine: Engine, user_id: i64) -> Result<(), sqlx::Error> {
    if engine == Engine::Postgres {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    }
    Ok(())
}

/// The id of the account named `username` (any case).
pub async fn id_of_name(db: &Pool, username: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE lower(username) = lower($1)")
        .bind(username)
        .fetch_optional(db)
        .await
}

/// The user's credential epoch; `None` if the account is gone.
pub async fn credential_epoch(db: &Pool, user_id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT credential_epoch FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Whether the user is an administrator (`false` if the account is gone).
pub async fn is_admin(db: &Pool, user_id: i64) -> Result<bool, sqlx::Error> {
    let flag: Option<i64> = sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    Ok(flag == Some(1))
}

/// Grants or revokes admin rights. Not cached anywhere, so no cache to
/// clear (see the module doc).
pub async fn set_admin(db: &Pool, user_id: i64, admin: bool) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET is_admin = $2 WHERE id = $1")
        .bind(user_id)
        .bind(i64::from(admin))
        .execute(db)
        .await
        .map(|_| ())
}

/// The cache of a process that keeps none: the command line. A running
/// server's session cache is not told; it drops a session's entry at the
/// session's next touch, so such a change reaches a busy session within
/// `[session] touch_interval_secs` (one server owning its SQLite file is
/// the only setup with a cache).
pub struct NoCache;

impl UserCache for NoCache {
    fn user_changed(&self, _user_id: i64) {}
}

/// Moves the user to the next credential epoch; the new epoch, or `None`
/// if there is no such user.
pub async fn bump_credential_epoch(
    db: &Pool,
    cache: &impl UserCache,
    user_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let epoch = sqlx::query_scalar(
        "UPDATE users SET credential_epoch = credential_epoch + 1 WHERE id = $1 \
         RETURNING credential_epoch",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    cache.user_changed(user_id);
    Ok(epoch)
}

pub async fn set_password_hash(
    db: &Pool,
    cache: &impl UserCache,
    user_id: i64,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(password_hash)
        .execute(db)
        .await?;
    cache.user_changed(user_id);
    Ok(())
}

pub async fn set_profile(
    db: &Pool,
    cache: &impl UserCache,
    user_id: i64,
    display_name: &str,
    about: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET display_name = $2, about = $3 WHERE id = $1")
        .bind(user_id)
        .bind(display_name)
        .bind(about)
        .execute(db)
        .await?;
    cache.user_changed(user_id);
    Ok(())
}

/// Sets (or with `None` clears) the new-device notice.
pub async fn set_device_notice(
    db: &Pool,
    cache: &impl UserCache,
    user_id: i64,
    notice: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET device_notice = $2 WHERE id = $1")
        .bind(user_id)
        .bind(notice)
        .execute(db)
        .await?;
    cache.user_changed(user_id);
    Ok(())
}

/// Sets a new-device notice unless an impossible-travel notice (issue 25)
/// is waiting for an answer: the graver news is not replaced by a lesser
/// one (its JSON has `"kind":"travel"`).
pub async fn offer_device_notice(
    db: &Pool,
    cache: &impl UserCache,
    user_id: i64,
    notice: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET device_notice = $2 WHERE id = $1 \
         AND (device_notice IS NULL OR device_notice NOT LIKE '%\"kind\":\"travel\"%')",
    )
    .bind(user_id)
    .bind(notice)
    .execute(db)
    .await?;
    cache.user_changed(user_id);
    Ok(())
}

/// The user's WebAuthn user handle: `new` is stored if they had none yet.
/// `None` if the account is gone.
pub async fn webauthn_handle(
    db: &Pool,
    cache: &impl UserCache,
    user_id: i64,
    new: &[u8],
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE users SET webauthn_handle = $2 WHERE id = $1 AND webauthn_handle IS NULL",
    )
    .bind(user_id)
    .bind(new)
    .execute(db)
    .await?;
    if done.rows_affected() > 0 {
        cache.user_changed(user_id);
    }
    Ok(
        sqlx::query_scalar("SELECT webauthn_handle FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}

/// The account a WebAuthn user handle belongs to.
pub async fn id_of_webauthn_handle(db: &Pool, handle: &[u8]) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE webauthn_handle = $1")
        .bind(handle)
        .fetch_optional(db)
        .await
}

/// Deletes the account; its sessions, factors and codes go with it
/// (`ON DELETE CASCADE`).
pub async fn delete(db: &Pool, cache: &impl UserCache, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    cache.user_changed(user_id);
    Ok(())
}

/// A page of users whose name matches the LIKE `pattern` (`\` escapes),
/// by name, with what the admin list shows of each.
pub async fn admin_list(
    db: &Pool,
    pattern: &str,
    now: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<AdminUserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.username, \
           (SELECT MAX(a.at) FROM audit_events a WHERE a.user_id = u.id \
              AND a.event IN ('sign_in', 'second_factor') AND a.outcome = 'success'), \
           u.is_admin, \
           CASE WHEN EXISTS (SELECT 1 FROM totp_factors t WHERE t.user_id = u.id) \
             THEN 1 ELSE 0 END, \
           (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id \
              AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2) \
         FROM users u WHERE lower(u.username) LIKE lower($1) ESCAPE '\\' \
         ORDER BY u.username LIMIT $3 OFFSET $4",
    )
    .bind(pattern)
    .bind(now)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}
