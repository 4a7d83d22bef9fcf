//! Our own tower-sessions `SessionStore` on SQLite or PostgreSQL (one set of
//! queries, see `ssr::db`): one row per session with
//! its deadlines and client details in columns, keyed by the SHA-256 of the ID.
//!
//! Contract with the typed facade (`session::auth`), through reserved keys of
//! the tower-sessions record:
//! - `META_KEY` (`"_meta"`) is filled in by `load` with the row's deadlines;
//!   it is never written back.
//! - `CLIENT_KEY` (`"_client"`) carries the client's address and user agent;
//!   it goes to the `*_first` / `*_last` columns, not into `data`.
//! - `LOADED_KEY` (`"_loaded"`) is filled in by `load` with the `data`
//!   column exactly as read: `save` writes only when the data differs from
//!   it, and only if the row still holds it (compare-and-swap), so a
//!   request never overwrites a newer write with its stale snapshot.
//! - `OWNER_KEY` (`"_owner"`) is filled in by `load` with the signed-in
//!   user's row (a JSON array), read by the same query as the session (a
//!   JOIN): one database round trip per request, not two (issue 4). Never
//!   written back.
//! - `USER_AGENT_KEY` (`"_user_agent"`) is filled in by `load` with the
//!   user agent the row last recorded (a touch writes it): a request from
//!   another browser or system on this session is refused (issue 12).
//!   Never written back.
//! - `IP_KEY` (`"_ip"`) likewise holds the IP address the row last
//!   recorded: a move to another one is noted (issue 12). Never written
//!   back.
//!
//! Every other key is the session's data, stored as JSON.
//!
//! Activity is not a save: `SessionBackend::touch` moves the deadlines with
//! one conditional UPDATE that leaves `data` alone (issue 8). Of N parallel
//! requests at the touch boundary exactly one writes, and a touch of a row
//! that is gone (signed out, rotated, expired) writes nothing and says so.

mod backend;
mod record;

pub use backend::*;
pub use record::{
    deadlines_from_json, deadlines_to_json, owner_from_json, AUTH_KEY, CLIENT_KEY, IP_KEY,
    LOADED_KEY, META_KEY, OWNER_KEY, USER_AGENT_KEY,
};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ssr::db::Pool;
use async_trait::async_trait;
use serde_json::Value;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::cache::{CachedRow, SessionCache, StorageKey};
use super::id::{new_session_id, storage_key};
use super::policy::{Deadlines, SessionPolicy};
use crate::ssr::clock::SharedClock;
use crate::ssr::clock::UnixTime;

use record::{bounded, record_of, split_record, store_error, LoadedRow};

#[derive(Clone)]
pub struct SqlSessionStore {
    pool: Pool,
    policy: SessionPolicy,
    clock: SharedClock,
    /// 0 = unlimited.
    max_per_user: u32,
    writes: std::sync::Arc<AtomicU64>,
    cache: std::sync::Arc<SessionCache>,
}

impl fmt::Debug for SqlSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlSessionStore")
            .field("policy", &self.policy)
            .field("max_per_user", &self.max_per_user)
            .finish_non_exhaustive()
    }
}

impl SqlSessionStore {
    /// `cache_max_entries = 0` reads every session from the database.
    pub fn new(
        pool: Pool,
        policy: SessionPolicy,
        clock: SharedClock,
        max_per_user: u32,
        cache_max_entries: usize,
    ) -> Self {
        Self {
            pool,
            policy,
            clock,
            max_per_user,
            writes: Default::default(),
            cache: std::sync::Arc::new(SessionCache::new(cache_max_entries)),
        }
    }

    fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    /// A new row under a fresh ID. tower-sessions calls this at sign-in and
    /// after every `cycle_id` (rotation), never for an ID a client sent.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let parts = split_record(record)?;
        let now = self.clock.now();
        // A rotation that keeps the session's data (step-up, elevation)
        // keeps its deadlines too; a sign-in clears the data first and
        // starts afresh.
        let deadlines = match record.data.get(META_KEY).and_then(deadlines_from_json) {
            Some(previous) => self.policy.touch(previous, now),
            None => self.policy.start(now),
        };
        // ASVS 7.1.2: beyond the per-user limit, the least recently used
        // live sessions of this user end (the new one is always kept). Only
        // live sessions count: one past either deadline holds no slot,
        // however recently it was used, and is deleted here too.
        let evicting = match (parts.user_id, self.max_per_user) {
            (Some(user_id), limit @ 1..) => Some((user_id, limit)),
            _ => None,
        };
        // The insert and the eviction commit together; with no per-user
        // limit (the default) the insert alone is atomic and needs no
        // transaction: one round trip to the database instead of three
        // (BEGIN IMMEDIATE, INSERT, COMMIT) on every sign-in and rotation.
        let mut tx = match evicting {
            Some(_) => Some(
                crate::ssr::db::write_transaction(&self.pool)
                    .await
                    .map_err(store_error)?,
            ),
            None => None,
        };
        loop {
            record.id = new_session_id();
            let key = storage_key(&record.id);
            let insert = sqlx::query(
                "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, \
                 idle_expires_at, absolute_expires_at, ip_first, ip_last, \
                 user_agent_first, user_agent_last, data, sign_in_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $8, $9, $10) \
                 ON CONFLICT (id_hash) DO NOTHING",
            )
            .bind(&key[..])
            .bind(parts.user_id)
            .bind(deadlines.created_at)
            .bind(deadlines.last_seen_at)
            .bind(deadlines.idle_expires_at)
            .bind(deadlines.absolute_expires_at)
            .bind(&parts.client.ip)
            .bind(&parts.client.user_agent)
            .bind(&parts.data)
            .bind(&parts.sign_in_id);
            let inserted = match tx.as_mut() {
                Some(tx) => insert.execute(&mut **tx).await,
                None => insert.execute(&self.pool).await,
            }
            .map_err(store_error)?;
            // A collision of 128 random bits does not happen in practice;
            // if it ever did, draw again rather than share a row.
            if inserted.rows_affected() == 1 {
                break;
            }
        }
        if let (Some((user_id, limit)), Some(tx)) = (evicting, tx.as_mut()) {
            sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 AND id_hash NOT IN ( \
                   SELECT id_hash FROM sessions \
                   WHERE user_id = $1 AND idle_expires_at > $4 AND absolute_expires_at > $4 \
                   ORDER BY id_hash = $2 DESC, last_seen_at DESC, created_at DESC LIMIT $3)",
            )
            .bind(user_id)
            .bind(&storage_key(&record.id)[..])
            .bind(i64::from(limit))
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        }
        if let Some(tx) = tx {
            tx.commit().await.map_err(store_error)?;
        }
        if let Some((user_id, _)) = evicting {
            // Some of the user's sessions may have just ended.
            self.cache.forget_user(user_id);
        }
        self.count_write();
        Ok(())
    }

    /// Writes changed session data into a live row. Never inserts: a
    /// request that loaded the session before it was deleted (logout) or
    /// rotated (sign-in, step-up) must not bring it back when it saves late.
    ///
    /// Data equal to what was loaded is not written at all (a touch already
    /// moved the deadlines, see `touch`); the row is only read, to confirm
    /// it is still alive before the layer re-sends its cookie (a parallel
    /// sign-out may have ended it since the touch). Changed data is written
    /// only if the row still holds what this request loaded: a parallel
    /// request's newer data is never overwritten with this one's stale
    /// snapshot. When the row is gone or changed, the save fails with
    /// `SESSION_GONE` and the session layer sends no cookie.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let parts = split_record(record)?;
        let loaded = record.data.get(LOADED_KEY).and_then(Value::as_str);
        let now = self.clock.now();
        if loaded == Some(parts.data.as_str()) {
            let alive: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM sessions \
                 WHERE id_hash = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2",
            )
            .bind(&storage_key(&record.id)[..])
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
            return match alive {
                Some(_) => Ok(()),
                None => Err(session_store::Error::Backend(SESSION_GONE.to_owned())),
            };
        }
        let done = sqlx::query(
            "UPDATE sessions SET user_id = $2, data = $3, sign_in_id = $6 \
             WHERE id_hash = $1 AND data = $4 \
               AND idle_expires_at > $5 AND absolute_expires_at > $5",
        )
        .bind(&storage_key(&record.id)[..])
        .bind(parts.user_id)
        .bind(&parts.data)
        .bind(loaded)
        .bind(now)
        .bind(&parts.sign_in_id)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        self.cache.forget(&storage_key(&record.id));
        if done.rows_affected() == 0 {
            return Err(session_store::Error::Backend(SESSION_GONE.to_owned()));
        }
        self.count_write();
        Ok(())
    }

    /// A live row, or `None` for an unknown, expired or deleted ID: all of
    /// them mean "no session".
    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let now = self.clock.now();
        let key = storage_key(session_id);
        if let Some(row) = self.cache.get(&key, now) {
            return record_of(session_id, row).map(Some);
        }
        let generation = self.cache.generation();
        let row: Option<LoadedRow> = sqlx::query_as(
            "SELECT s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at, \
                    s.absolute_expires_at, s.data, \
                    u.username, u.credential_epoch, u.display_name, u.about, \
                    s.user_agent_last, s.ip_last, u.device_notice \
             FROM sessions s LEFT JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.idle_expires_at > $2 AND s.absolute_expires_at > $2",
        )
        .bind(&key[..])
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let row = CachedRow::try_from(row)?;
        self.cache.insert(key, row.clone(), generation, now);
        record_of(session_id, row).map(Some)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let key = storage_key(session_id);
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(&key[..])
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        self.cache.forget(&key);
        if done.rows_affected() > 0 {
            self.count_write();
        }
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct TouchedRow {
    created_at: UnixTime,
    last_seen_at: UnixTime,
    idle_expires_at: UnixTime,
    absolute_expires_at: UnixTime,
}

#[async_trait]
impl SessionBackend for SqlSessionStore {
    async fn touch(
        &self,
        session_id: &Id,
        when: Touch,
        client: &ClientInfo,
    ) -> session_store::Result<Option<Deadlines>> {
        let now = self.clock.now();
        // The throttle is part of the write's own condition, not a decision
        // made from a snapshot: SQLite runs one writer at a time, so after
        // the first of N parallel touches has moved last_seen_at, the
        // others match no row (ASVS 7.3.1 with no write per request).
        let due_before = match when {
            Touch::IfDue => self.policy.touch_due_at_or_before(now),
            Touch::Always => UnixTime::MAX,
        };
        let key = storage_key(session_id);
        let touched: Option<TouchedRow> = sqlx::query_as(
            "UPDATE sessions SET last_seen_at = $2, \
               idle_expires_at = CASE WHEN $3 < absolute_expires_at THEN $3 \
                                      ELSE absolute_expires_at END, \
               ip_last = COALESCE($4, ip_last), user_agent_last = COALESCE($5, user_agent_last) \
             WHERE id_hash = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2 \
               AND last_seen_at <= $6 \
             RETURNING created_at, last_seen_at, idle_expires_at, absolute_expires_at",
        )
        .bind(&key[..])
        .bind(now)
        .bind(self.policy.sliding_idle_deadline(now))
        .bind(bounded(client.ip.as_deref(), 64))
        .bind(bounded(client.user_agent.as_deref(), 512))
        .bind(due_before)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        // Written or found gone: either way the cached deadlines are old.
        self.cache.forget(&key);
        Ok(touched.map(|row| {
            self.count_write();
            Deadlines {
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                idle_expires_at: row.idle_expires_at,
                absolute_expires_at: row.absolute_expires_at,
            }
        }))
    }

    async fn delete_expired(&self, batch: u32) -> session_store::Result<Vec<ExpiredSession>> {
        let done: Vec<ExpiredSession> = sqlx::query_as(
            "DELETE FROM sessions WHERE id_hash IN ( \
               SELECT id_hash FROM sessions WHERE idle_expires_at <= $1 \
               UNION SELECT id_hash FROM sessions WHERE absolute_expires_at <= $1 \
               LIMIT $2) \
             RETURNING id_hash, user_id, idle_expires_at, absolute_expires_at, ip_last, \
               user_agent_last",
        )
        .bind(self.clock.now())
        .bind(i64::from(batch))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        if !done.is_empty() {
            self.count_write();
        }
        Ok(done)
    }

    async fn live_sign_in_owner(
        &self,
        user_id: i64,
        sign_in_id: &str,
    ) -> session_store::Result<Option<SessionOwner>> {
        let owner: Option<(String, i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT u.username, u.credential_epoch, u.display_name, u.about, u.device_notice \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.sign_in_id = $1 AND s.user_id = $2 \
               AND s.idle_expires_at > $3 AND s.absolute_expires_at > $3 LIMIT 1",
        )
        .bind(sign_in_id)
        .bind(user_id)
        .bind(self.clock.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(owner.map(
            |(username, credential_epoch, display_name, about, device_notice)| SessionOwner {
                username,
                credential_epoch,
                display_name,
                about,
                device_notice,
            },
        ))
    }

    async fn delete_all_for_user(&self, user_id: i64) -> session_store::Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        self.cache.forget_user(user_id);
        if done.rows_affected() > 0 {
            self.count_write();
        }
        Ok(done.rows_affected())
    }

    async fn delete_one_for_user(
        &self,
        user_id: i64,
        key: &StorageKey,
    ) -> session_store::Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND user_id = $2")
            .bind(&key[..])
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        self.cache.forget(key);
        if done.rows_affected() > 0 {
            self.count_write();
        }
        Ok(done.rows_affected() > 0)
    }

    async fn delete_others_for_user(
        &self,
        user_id: i64,
        keep: &StorageKey,
    ) -> session_store::Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash != $2")
            .bind(user_id)
            .bind(&keep[..])
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        self.cache.forget_user(user_id);
        if done.rows_affected() > 0 {
            self.count_write();
        }
        Ok(done.rows_affected())
    }

    async fn live_sessions_of(&self, user_id: i64) -> session_store::Result<Vec<StoredSession>> {
        sqlx::query_as(
            "SELECT id_hash, created_at, last_seen_at, ip_first, ip_last, \
                    user_agent_last FROM sessions \
             WHERE user_id = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2 \
             ORDER BY last_seen_at DESC, created_at DESC",
        )
        .bind(user_id)
        .bind(self.clock.now())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)
    }

    fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn user_changed(&self, user_id: i64) {
        self.cache.forget_user(user_id);
    }
}
