//! Brute-force defence kept in the database (issue 12; ASVS 6.3.1, OWASP
//! Authentication Cheat Sheet "Protect Against Automated Attacks"): it
//! holds across restarts and, on a shared database, across servers.
//!
//! Each key (an account and address, an address, an account everywhere, a
//! user's second-factor codes, an address's registrations) counts attempts
//! in a window. From the `limit`-th attempt on, the next one is accepted
//! only after a delay that doubles each time: 1 s, 2 s, 4 s ... capped at
//! 15 minutes. Never a permanent lockout: the count starts again once the
//! window has passed.
//!
//! An attempt is counted before the work it guards (argon2, a code check)
//! by one conditional upsert per key, in one transaction for all its keys:
//! a blocked key refuses the attempt and counts nothing anywhere, and of a
//! parallel burst only as many pass as the limit lets through (SQLite runs
//! one writer at a time; on PostgreSQL the same statement takes the row
//! lock). Keys are stored as SHA-256 digests, so a client's long username
//! costs 32 bytes.

use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use crate::ssr::clock::UnixTime;

/// The longest delay between attempts once over the limit.
pub const MAX_DELAY_SECS: i64 = 15 * 60;

pub type KeyDigest = [u8; 32];

pub fn digest(key: &str) -> KeyDigest {
    Sha256::digest(key.as_bytes()).into()
}

/// The delay after the `failures`-th attempt under `limit`, in seconds:
/// none below the limit, then 1, 2, 4 ... up to `MAX_DELAY_SECS`.
pub fn delay_after(failures: i64, limit: i64) -> i64 {
    if failures < limit {
        return 0;
    }
    let doublings = (failures - limit).min(20);
    (1i64 << doublings).min(MAX_DELAY_SECS)
}

/// An attempt counted against some keys, until it proves not to be a
/// failure (`refund`).
#[derive(Debug)]
#[must_use = "an attempt that succeeded must be refunded"]
pub struct Attempt {
    keys: Vec<KeyDigest>,
}

/// Counts one attempt against every `(key, limit)` in `window_secs`, or
/// refuses it with the seconds to wait when any key is waiting out its
/// delay. Nothing is counted when it is refused.
pub async fn reserve(
    db: &SqlitePool,
    limits: &[(&str, u32)],
    window_secs: u64,
    now: UnixTime,
) -> Result<Result<Attempt, u64>, sqlx::Error> {
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    let mut tx = db.begin().await?;
    let mut keys = Vec::with_capacity(limits.len());
    for (key, limit) in limits {
        let digest = digest(key);
        // The row is updated only if its delay has passed; the count starts
        // again once the window has. `excluded`-free: every CASE reads the
        // old row, so the new count is spelt out where it is used.
        let counted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO throttle (key_hash, failures, window_start, next_allowed_at) \
             VALUES (?1, 1, ?2, ?2 + CASE WHEN 1 >= ?3 THEN 1 ELSE 0 END) \
             ON CONFLICT (key_hash) DO UPDATE SET \
               failures = CASE WHEN throttle.window_start + ?4 <= ?2 THEN 1 \
                               ELSE throttle.failures + 1 END, \
               window_start = CASE WHEN throttle.window_start + ?4 <= ?2 THEN ?2 \
                                   ELSE throttle.window_start END, \
               next_allowed_at = ?2 + CASE \
                 WHEN (CASE WHEN throttle.window_start + ?4 <= ?2 THEN 1 \
                            ELSE throttle.failures + 1 END) < ?3 THEN 0 \
                 ELSE MIN(?5, 1 << MIN(20, (CASE WHEN throttle.window_start + ?4 <= ?2 THEN 1 \
                            ELSE throttle.failures + 1 END) - ?3)) END \
             WHERE throttle.next_allowed_at <= ?2 \
             RETURNING failures",
        )
        .bind(&digest[..])
        .bind(now)
        .bind(i64::from(*limit))
        .bind(window)
        .bind(MAX_DELAY_SECS)
        .fetch_optional(&mut *tx)
        .await?;
        if counted.is_none() {
            let next: i64 =
                sqlx::query_scalar("SELECT next_allowed_at FROM throttle WHERE key_hash = ?1")
                    .bind(&digest[..])
                    .fetch_one(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Ok(Err(u64::try_from(next.saturating_sub(now))
                .unwrap_or(0)
                .max(1)));
        }
        keys.push(digest);
    }
    tx.commit().await?;
    Ok(Ok(Attempt { keys }))
}

/// Gives an attempt back: it was not a failure (the password was right) or
/// it was never judged (the server was busy, the client left).
pub async fn refund(db: &SqlitePool, attempt: Attempt) -> Result<(), sqlx::Error> {
    for key in attempt.keys {
        sqlx::query("UPDATE throttle SET failures = MAX(0, failures - 1) WHERE key_hash = ?1")
            .bind(&key[..])
            .execute(db)
            .await?;
    }
    Ok(())
}

/// A sign-in that succeeded, in one transaction: its attempt given back,
/// the account + address count `clear` forgotten, and `known` noted.
pub async fn settle_success(
    db: &SqlitePool,
    attempt: Attempt,
    clear: &str,
    known: &str,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for key in attempt.keys {
        sqlx::query("UPDATE throttle SET failures = MAX(0, failures - 1) WHERE key_hash = ?1")
            .bind(&key[..])
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM throttle WHERE key_hash = ?1")
        .bind(&digest(clear)[..])
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO throttle_known (key_hash, last_success_at) VALUES (?1, ?2) \
         ON CONFLICT (key_hash) DO UPDATE SET last_success_at = ?2",
    )
    .bind(&digest(known)[..])
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Whether `key` succeeded within the last `within_secs`.
pub async fn is_known(
    db: &SqlitePool,
    key: &str,
    within_secs: u64,
    now: UnixTime,
) -> Result<bool, sqlx::Error> {
    let since = now.saturating_sub(i64::try_from(within_secs).unwrap_or(i64::MAX));
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM throttle_known WHERE key_hash = ?1 AND last_success_at > ?2",
    )
    .bind(&digest(key)[..])
    .bind(since)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Deletes rows whose window and delay have both passed (bounded batch).
pub async fn delete_expired(
    db: &SqlitePool,
    window_secs: u64,
    now: UnixTime,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    let done = sqlx::query(
        "DELETE FROM throttle WHERE key_hash IN (SELECT key_hash FROM throttle \
         WHERE window_start + ?1 <= ?2 AND next_allowed_at <= ?2 LIMIT ?3)",
    )
    .bind(window)
    .bind(now)
    .bind(i64::from(batch))
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> SqlitePool {
        // One connection: each in-memory connection is a database of its own.
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("memory");
        sqlx::raw_sql(include_str!(
            "../../../migrations/20261128000005_throttle.sql"
        ))
        .execute(&pool)
        .await
        .expect("table");
        pool
    }

    #[test]
    fn the_delay_doubles_from_the_limit_and_is_capped() {
        assert_eq!(delay_after(2, 3), 0);
        assert_eq!(delay_after(3, 3), 1);
        assert_eq!(delay_after(4, 3), 2);
        assert_eq!(delay_after(5, 3), 4);
        assert_eq!(delay_after(13, 3), 900, "1024 s is capped at 15 minutes");
        assert_eq!(delay_after(1_000, 3), 900);
    }

    #[tokio::test]
    async fn attempts_past_the_limit_wait_a_growing_delay() {
        let db = db().await;
        for _ in 0..3 {
            let _ = reserve(&db, &[("k", 3)], 900, 100)
                .await
                .expect("db")
                .expect("allowed");
        }
        // The third set a 1 s delay, and the SQL agrees with delay_after.
        assert_eq!(
            reserve(&db, &[("k", 3)], 900, 100)
                .await
                .expect("db")
                .unwrap_err(),
            1
        );
        let _ = reserve(&db, &[("k", 3)], 900, 101)
            .await
            .expect("db")
            .expect("after 1 s");
        assert_eq!(
            reserve(&db, &[("k", 3)], 900, 101)
                .await
                .expect("db")
                .unwrap_err(),
            2
        );
        let _ = reserve(&db, &[("k", 3)], 900, 103)
            .await
            .expect("db")
            .expect("after 2 s");
        assert_eq!(
            reserve(&db, &[("k", 3)], 900, 103)
                .await
                .expect("db")
                .unwrap_err(),
            4
        );
        // A new window starts the count again.
        let _ = reserve(&db, &[("k", 3)], 900, 1_100)
            .await
            .expect("db")
            .expect("new window");
        let _ = reserve(&db, &[("k", 3)], 900, 1_100)
            .await
            .expect("db")
            .expect("second");
    }

    #[tokio::test]
    async fn a_refused_attempt_counts_nowhere() {
        let db = db().await;
        let _ = reserve(&db, &[("account", 1)], 900, 0).await.expect("db");
        for _ in 0..5 {
            assert!(reserve(&db, &[("address", 5), ("account", 1)], 900, 0)
                .await
                .expect("db")
                .is_err());
        }
        for _ in 0..4 {
            let _ = reserve(&db, &[("address", 5)], 900, 0)
                .await
                .expect("db")
                .expect("fits");
        }
    }

    #[tokio::test]
    async fn refund_and_clear_give_attempts_back() {
        let db = db().await;
        let attempt = reserve(&db, &[("k", 2)], 900, 0)
            .await
            .expect("db")
            .expect("first");
        refund(&db, attempt).await.expect("refund");
        let _ = reserve(&db, &[("k", 2)], 900, 0)
            .await
            .expect("db")
            .expect("refunded");
        let _ = reserve(&db, &[("k", 2)], 900, 0)
            .await
            .expect("db")
            .expect("second");
        assert!(reserve(&db, &[("k", 2)], 900, 0)
            .await
            .expect("db")
            .is_err());
        let attempt = reserve(&db, &[("other", 9)], 900, 0)
            .await
            .expect("db")
            .expect("other");
        settle_success(&db, attempt, "k", "k", 0)
            .await
            .expect("settle");
        assert!(reserve(&db, &[("k", 2)], 900, 0).await.expect("db").is_ok());
        assert_eq!(
            delete_expired(&db, 900, 10_000, 100).await.expect("db"),
            2,
            "k and other"
        );
    }
}
