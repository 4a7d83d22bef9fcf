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
//! by one conditional upsert for all its keys: a blocked key refuses the
//! attempt and counts nothing anywhere, and of a parallel burst only as
//! many pass as the limit lets through (SQLite runs one writer at a time;
//! on PostgreSQL the same statement takes the row locks). Keys are stored as SHA-256 digests, so a client's long username
//! costs 32 bytes.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::ssr::clock::{Clock, UnixTime};
use crate::ssr::db::throttle;

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

/// When an attempt is made, on a clock the table counts in whole seconds:
/// `now` rounded down (compared with the stored times) and rounded up
/// (where a delay starts). Starting a delay at the rounded-down second
/// would make "1 s" anything between a millisecond and a second: a client
/// that sent its attempt late in a second could try again at once after
/// the next tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptTime {
    now: UnixTime,
    delay_from: UnixTime,
}

impl AttemptTime {
    /// The clock's time, both ways.
    pub fn of(clock: &dyn Clock) -> Self {
        let ms = clock.now_ms();
        Self {
            now: ms.div_euclid(1000),
            delay_from: ms.saturating_add(999).div_euclid(1000),
        }
    }

    /// A whole second (tests, and clocks that only count whole seconds).
    pub fn at(now: UnixTime) -> Self {
        Self {
            now,
            delay_from: now,
        }
    }
}

/// An attempt counted against some keys, until it proves not to be a
/// failure (`refund`).
#[derive(Debug)]
#[must_use = "an attempt that succeeded must be refunded"]
pub struct Attempt {
    keys: Vec<KeyDigest>,
}

/// A key counted only for clients not known to the account: the
/// per-account limit across all addresses does not reach an address the
/// account signed in from within `within_secs` (so an attacker elsewhere
/// cannot lock the user out of their usual device).
#[derive(Debug, Clone, Copy)]
pub struct UnlessKnown<'a> {
    pub key: &'a str,
    pub limit: u32,
    /// The account + address key whose row `settle_success` marks as
    /// known.
    pub known: &'a str,
    pub within_secs: u64,
}

/// Counts one attempt against every `(key, limit)` (and `unless_known`'s
/// key when it applies) in `window_secs`, or refuses it with the seconds to
/// wait when any of those keys is waiting out its delay. Nothing is
/// counted when it is refused.
///
/// `db` is a connection the caller holds: a sign-in reads the user's row on
/// the same one (sqlx pings a connection on its way back to the pool, a
/// round trip to SQLite's worker thread each).
///
/// One statement, so one round trip on the common path (sign-in made four
/// before this; A/B in the commit): the `NOT EXISTS` guard reads the rows
/// as they were before the statement (SQLite materialises a SELECT that
/// reads the table it inserts into; PostgreSQL reads its snapshot), so
/// either every key is counted or none is. Each row's limit is picked by
/// its key in the `DO UPDATE` (`excluded` carries only the table's
/// columns).
pub async fn reserve(
    db: &mut AnyConnection,
    limits: &[(&str, u32)],
    unless_known: Option<UnlessKnown<'_>>,
    window_secs: u64,
    at: AttemptTime,
) -> Result<Result<Attempt, u64>, sqlx::Error> {
    let now = at.now;
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    // (digest, limit, whether counted only for an unknown client)
    let mut rows: Vec<(KeyDigest, u32, bool)> = limits
        .iter()
        .map(|(key, limit)| (digest(key), *limit, false))
        .collect();
    let (known, known_since) = match unless_known {
        Some(u) => {
            rows.push((digest(u.key), u.limit, true));
            let within = i64::try_from(u.within_secs).unwrap_or(i64::MAX);
            (Some(digest(u.known)), now.saturating_sub(within))
        }
        None => (None, now),
    };
    let counted = throttle::count_attempt(
        &mut *db,
        &rows,
        known.as_ref().map(|k| (k, known_since)),
        window,
        MAX_DELAY_SECS,
        (now, at.delay_from),
    )
    .await?;
    // On SQLite the statement counts every key or none. On PostgreSQL a
    // parallel attempt that reached a key's limit first can leave that key
    // uncounted while others were: the attempt is then refused like the
    // one that reached the limit, and what it counted is given back.
    let skipped_required = rows
        .iter()
        .any(|(digest, _, optional)| !optional && !counted.iter().any(|c| c[..] == digest[..]));
    if skipped_required && !counted.is_empty() {
        let keys: Vec<KeyDigest> = counted
            .iter()
            .filter_map(|c| KeyDigest::try_from(&c[..]).ok())
            .collect();
        give_back(&mut *db, &keys).await?;
    } else if !counted.is_empty() || rows.is_empty() {
        let keys = rows
            .iter()
            .map(|(digest, ..)| *digest)
            .filter(|digest| counted.iter().any(|c| c[..] == digest[..]))
            .collect();
        return Ok(Ok(Attempt { keys }));
    }
    // Refused: nothing was written. The longest wait among the keys.
    let digests: Vec<KeyDigest> = rows.iter().map(|(digest, ..)| *digest).collect();
    let next = throttle::latest_next_allowed(&mut *db, &digests)
        .await?
        .unwrap_or(now);
    Ok(Err(u64::try_from(next.saturating_sub(now))
        .unwrap_or(0)
        .max(1)))
}

/// `reserve` for a single key, on a connection of its own: registrations,
/// second-factor codes, a pending sign-in's codes, passkey sign-ins.
pub async fn reserve_one(
    pool: &crate::ssr::db::Pool,
    key: &str,
    limit: u32,
    window_secs: u64,
    at: AttemptTime,
) -> Result<Result<Attempt, u64>, sqlx::Error> {
    reserve(
        &mut *pool.acquire().await?,
        &[(key, limit)],
        None,
        window_secs,
        at,
    )
    .await
}

/// Gives an attempt back: it was not a failure (the password was right) or
/// it was never judged (the server was busy, the client left).
pub async fn refund(db: &mut AnyConnection, attempt: Attempt) -> Result<(), sqlx::Error> {
    give_back(db, &attempt.keys).await
}

async fn give_back(db: &mut AnyConnection, keys: &[KeyDigest]) -> Result<(), sqlx::Error> {
    throttle::give_back(db, keys).await
}

/// A sign-in that succeeded, in one statement: its attempt given back, and
/// the account + address key `clear` started again from zero and marked
/// as known (its `last_success_at`; see `UnlessKnown`).
pub async fn settle_success(
    db: &mut AnyConnection,
    attempt: Attempt,
    clear: &str,
    now: UnixTime,
) -> Result<(), sqlx::Error> {
    let clear = digest(clear);
    let others: Vec<KeyDigest> = attempt.keys.into_iter().filter(|k| *k != clear).collect();
    throttle::settle_success(db, &clear, &others, now).await
}

/// How long an account + address stays known after its last success.
pub const KNOWN_FOR_SECS: u64 = 90 * 24 * 3600;

/// Deletes rows whose window and delay have both passed and that no longer
/// mark a known address (bounded batch).
pub async fn delete_expired(
    db: &mut AnyConnection,
    window_secs: u64,
    now: UnixTime,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    let known_for = i64::try_from(KNOWN_FOR_SECS).unwrap_or(i64::MAX);
    throttle::delete_stale(db, window, now, batch, known_for).await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> sqlx::pool::PoolConnection<crate::ssr::db::Db> {
        sqlx::any::install_default_drivers();
        // One connection: each in-memory connection is a database of its own.
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("memory");
        for migration in [
            include_str!("../../../../migrations/sqlite/20261128000005_throttle.sql"),
            include_str!("../../../../migrations/sqlite/20261128000009_throttle_known_in_row.sql"),
        ] {
            sqlx::raw_sql(migration)
                .execute(&pool)
                .await
                .expect("table");
        }
        pool.acquire().await.expect("the connection")
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
        let mut db = db().await;
        for _ in 0..3 {
            let _ = reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::at(100))
                .await
                .expect("db")
                .expect("allowed");
        }
        // The third set a 1 s delay, and the SQL agrees with delay_after.
        assert_eq!(
            reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::at(100))
                .await
                .expect("db")
                .unwrap_err(),
            1
        );
        let _ = reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::at(101))
            .await
            .expect("db")
            .expect("after 1 s");
        assert_eq!(
            reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::at(101))
                .await
                .expect("db")
                .unwrap_err(),
            2
        );
        let _ = reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::at(103))
            .await
            .expect("db")
            .expect("after 2 s");
        assert_eq!(
            reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::at(103))
                .await
                .expect("db")
                .unwrap_err(),
            4
        );
        // A new window starts the count again.
        let _ = reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::at(1_100))
            .await
            .expect("db")
            .expect("new window");
        let _ = reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::at(1_100))
            .await
            .expect("db")
            .expect("second");
    }

    /// An attempt late in a second (100.999) must not be followed by one
    /// allowed a millisecond later (101.000): a delay of 1 s starts from
    /// the next whole second, and the wait it reports is never short.
    #[tokio::test]
    async fn a_delay_started_within_a_second_lasts_its_full_length() {
        #[derive(Debug)]
        struct At(i64);
        impl Clock for At {
            fn now(&self) -> UnixTime {
                self.0.div_euclid(1000)
            }
            fn now_ms(&self) -> i64 {
                self.0
            }
        }
        assert_eq!(
            AttemptTime::of(&At(100_999)),
            AttemptTime {
                now: 100,
                delay_from: 101
            }
        );
        assert_eq!(AttemptTime::of(&At(101_000)), AttemptTime::at(101));
        let mut db = db().await;
        for _ in 0..3 {
            let _ = reserve(
                &mut db,
                &[("k", 3)],
                None,
                900,
                AttemptTime::of(&At(100_999)),
            )
            .await
            .expect("db")
            .expect("allowed");
        }
        for (ms, wait) in [(100_999, 2), (101_000, 1), (101_999, 1)] {
            assert_eq!(
                reserve(&mut db, &[("k", 3)], None, 900, AttemptTime::of(&At(ms)))
                    .await
                    .expect("db")
                    .unwrap_err(),
                wait,
                "at {ms} ms"
            );
        }
        let _ = reserve(
            &mut db,
            &[("k", 3)],
            None,
            900,
            AttemptTime::of(&At(102_000)),
        )
        .await
        .expect("db")
        .expect("a full second later");
    }

    #[tokio::test]
    async fn a_refused_attempt_counts_nowhere() {
        let mut db = db().await;
        let _ = reserve(&mut db, &[("account", 1)], None, 900, AttemptTime::at(0))
            .await
            .expect("db");
        for _ in 0..5 {
            assert!(reserve(
                &mut db,
                &[("address", 5), ("account", 1)],
                None,
                900,
                AttemptTime::at(0)
            )
            .await
            .expect("db")
            .is_err());
        }
        for _ in 0..4 {
            let _ = reserve(&mut db, &[("address", 5)], None, 900, AttemptTime::at(0))
                .await
                .expect("db")
                .expect("fits");
        }
    }

    #[tokio::test]
    async fn refund_and_clear_give_attempts_back() {
        let mut db = db().await;
        let attempt = reserve(&mut db, &[("k", 2)], None, 900, AttemptTime::at(0))
            .await
            .expect("db")
            .expect("first");
        refund(&mut db, attempt).await.expect("refund");
        let _ = reserve(&mut db, &[("k", 2)], None, 900, AttemptTime::at(0))
            .await
            .expect("db")
            .expect("refunded");
        let _ = reserve(&mut db, &[("k", 2)], None, 900, AttemptTime::at(0))
            .await
            .expect("db")
            .expect("second");
        assert!(reserve(&mut db, &[("k", 2)], None, 900, AttemptTime::at(0))
            .await
            .expect("db")
            .is_err());
        let attempt = reserve(&mut db, &[("other", 9)], None, 900, AttemptTime::at(0))
            .await
            .expect("db")
            .expect("other");
        settle_success(&mut db, attempt, "k", 1)
            .await
            .expect("settle");
        assert!(reserve(&mut db, &[("k", 2)], None, 900, AttemptTime::at(0))
            .await
            .expect("db")
            .is_ok());
        assert_eq!(
            delete_expired(&mut db, 900, 10_000, 100).await.expect("db"),
            1,
            "other; k stays while it marks a known address"
        );
        let later = i64::try_from(KNOWN_FOR_SECS).expect("secs") + 10_000;
        assert_eq!(
            delete_expired(&mut db, 900, later, 100).await.expect("db"),
            1
        );
    }

    #[tokio::test]
    async fn a_known_client_is_not_counted_nor_held_by_the_account_wide_key() {
        let mut db = db().await;
        let everywhere = UnlessKnown {
            key: "everywhere",
            limit: 2,
            known: "home",
            within_secs: 1_000,
        };
        // An attacker elsewhere exhausts the account-wide key.
        for _ in 0..2 {
            let _ = reserve(
                &mut db,
                &[("attacker", 50)],
                Some(everywhere),
                900,
                AttemptTime::at(10),
            )
            .await
            .expect("db")
            .expect("allowed");
        }
        assert!(reserve(
            &mut db,
            &[("attacker", 50)],
            Some(everywhere),
            900,
            AttemptTime::at(10)
        )
        .await
        .expect("db")
        .is_err());
        // An unknown address is held by it too...
        assert!(reserve(
            &mut db,
            &[("home", 50)],
            Some(everywhere),
            900,
            AttemptTime::at(10)
        )
        .await
        .expect("db")
        .is_err());
        // ...until "home" has signed in once: then it is neither held nor
        // counted there.
        let attempt = reserve(&mut db, &[("other", 50)], None, 900, AttemptTime::at(5))
            .await
            .expect("db")
            .expect("other");
        settle_success(&mut db, attempt, "home", 5)
            .await
            .expect("settle");
        let attempt = reserve(
            &mut db,
            &[("home", 50)],
            Some(everywhere),
            900,
            AttemptTime::at(10),
        )
        .await
        .expect("db")
        .expect("known address passes");
        assert_eq!(
            attempt.keys,
            vec![digest("home")],
            "only its own key counted"
        );
        // Long enough ago, it is a stranger again (counted everywhere).
        let attempt = reserve(
            &mut db,
            &[("home", 50)],
            Some(everywhere),
            900,
            AttemptTime::at(1_010),
        )
        .await
        .expect("db")
        .expect("a new window");
        assert_eq!(attempt.keys, vec![digest("home"), digest("everywhere")]);
    }
}
