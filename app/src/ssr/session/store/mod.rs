//! Our own tower-sessions `SessionStore` on SQLite or PostgreSQL (one set of
//! queries, see `ssr::db`): one row per session with
//! its deadlines and client details in columns, keyed by the SHA-256 of the ID.
//!
//! Contract with the typed facade (`session::auth`), through reserved keys of
//! the tower-sessions record:
//! - `META_KEY` (`"_meta"`) is filled in by `load` with the row's deadlines;
//!   it is never written back.
//! - `CLIENT_KEY` (`"_client"`) carries the client's address and user agent;
//!   it goes to the `*_last` columns (and `*_first` of a new sign-in), not
//!   into `data`. `FIRST_CLIENT_KEY` (`"_client_first"`), set by a
//!   rotation, carries the old row's `*_first` columns to the new row.
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
    deadlines_from_json, deadlines_to_json, owner_from_json, owner_of_json, DeviceBinding,
    AUTH_KEY, BINDING_KEY, CLIENT_KEY, FIRST_CLIENT_KEY, IP_KEY, LOADED_KEY, META_KEY, OWNER_KEY,
    USER_AGENT_KEY,
};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ssr::db::{sessions, Pool};
use async_trait::async_trait;
use serde_json::Value;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::cache::{CachedRow, SessionCache, StorageKey};
use super::id::{new_session_id, storage_key};
use super::policy::{Deadlines, SessionPolicy};
use crate::ssr::clock::SharedClock;
use crate::ssr::clock::UnixTime;

use record::{bounded, record_of, split_record, store_error};

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

    /// A store other servers write too (PostgreSQL): its cache answers
    /// only while `session::cross_server` keeps it true.
    pub fn shared(
        pool: Pool,
        policy: SessionPolicy,
        clock: SharedClock,
        max_per_user: u32,
        cache_max_entries: usize,
    ) -> Self {
        Self {
            cache: std::sync::Arc::new(SessionCache::shared(cache_max_entries)),
            ..Self::new(pool, policy, clock, max_per_user, 0)
        }
    }

    /// The cache, for `session::cross_server` to keep true.
    /// Ends every session of one sign-in (all its rotations): a device
    /// proof was refused (issue 26).
    pub async fn delete_sign_in(&self, user_id: i64, sign_in_id: &str) -> Result<u64, sqlx::Error> {
        let deleted = sessions::delete_of_sign_in(&self.pool, user_id, sign_in_id).await?;
        self.cache.forget_user(user_id);
        self.count_writes(deleted);
        Ok(deleted)
    }

    pub fn cache(&self) -> std::sync::Arc<SessionCache> {
        self.cache.clone()
    }

    /// Drops the cached sessions past a deadline (the clean-up's pass);
    /// how many.
    pub fn sweep_cache(&self) -> usize {
        self.cache.sweep(self.clock.now())
    }

    fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// One write for a statement that changed `rows` rows, if it did.
    fn count_writes(&self, rows: u64) {
        if rows > 0 {
            self.count_write();
        }
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
            Some((user_id, _)) => {
                let mut tx = crate::ssr::db::write_transaction(&self.pool)
                    .await
                    .map_err(store_error)?;
                // On PostgreSQL (read committed) two sign-ins of one user
                // would each evict against a snapshot without the other's
                // new row, leaving more than the limit (review E17): they
                // take turns on the user's row instead.
                let engine = crate::ssr::db::Engine::of(&self.pool);
                crate::ssr::db::users::lock(&mut tx, engine, user_id)
                    .await
                    .map_err(store_error)?;
                Some(tx)
            }
            None => None,
        };
        let first = parts.first_client.as_ref().unwrap_or(&parts.client);
        loop {
            record.id = new_session_id();
            let key = storage_key(&record.id);
            let row = sessions::NewSession {
                key: &key[..],
                user_id: parts.user_id,
                created_at: deadlines.created_at,
                last_seen_at: deadlines.last_seen_at,
                idle_expires_at: deadlines.idle_expires_at,
                absolute_expires_at: deadlines.absolute_expires_at,
                ip_first: first.ip.as_deref(),
                user_agent_first: first.user_agent.as_deref(),
                ip: parts.client.ip.as_deref(),
                user_agent: parts.client.user_agent.as_deref(),
                data: &parts.data,
                sign_in_id: parts.sign_in_id.as_deref(),
            };
            let inserted = match tx.as_mut() {
                Some(tx) => sessions::insert(&mut **tx, &row).await,
                None => sessions::insert(&self.pool, &row).await,
            }
            .map_err(store_error)?;
            // A collision of 128 random bits does not happen in practice;
            // if it ever did, draw again rather than share a row.
            if inserted {
                break;
            }
        }
        if let (Some((user_id, limit)), Some(tx)) = (evicting, tx.as_mut()) {
            sessions::evict_beyond(tx, user_id, &storage_key(&record.id)[..], limit, now)
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
            let alive = sessions::is_live(&self.pool, &storage_key(&record.id)[..], now)
                .await
                .map_err(store_error)?;
            return match alive {
                true => Ok(()),
                false => Err(session_store::Error::Backend(SESSION_GONE.to_owned())),
            };
        }
        let written = sessions::replace_data(
            &self.pool,
            &storage_key(&record.id)[..],
            parts.user_id,
            &parts.data,
            loaded,
            parts.sign_in_id.as_deref(),
            now,
        )
        .await
        .map_err(store_error)?;
        self.cache.forget(&storage_key(&record.id));
        if !written {
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
        let row = sessions::load(&self.pool, &key[..], now)
            .await
            .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let row = CachedRow::try_from(row)?;
        // Only signed-in sessions are kept: a visitor's (a passkey
        // ceremony, a pending second factor) is cheap to read and can be
        // made by anyone, so it must not push real sessions out (review E1).
        if row.user_id.is_some() {
            self.cache.insert(key, row.clone(), generation);
        }
        record_of(session_id, row).map(Some)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let key = storage_key(session_id);
        let deleted = sessions::delete(&self.pool, &key[..])
            .await
            .map_err(store_error)?;
        self.cache.forget(&key);
        self.count_writes(deleted);
        Ok(())
    }
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
        let touched = sessions::touch(
            &self.pool,
            &key[..],
            now,
            self.policy.sliding_idle_deadline(now),
            bounded(client.ip.as_deref(), 64).as_deref(),
            bounded(client.user_agent.as_deref(), 512).as_deref(),
            due_before,
        )
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
        let done = sessions::delete_expired(&self.pool, self.clock.now(), batch)
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
        let rows = sessions::live_of_sign_in(&self.pool, user_id, sign_in_id, self.clock.now())
            .await
            .map_err(store_error)?;
        // A row counts only under the user's current credentials: a row
        // that a rotation re-created after the user's sessions were ended
        // (a race with a credential change) carries the old epoch, and
        // must not keep the sign-in's tokens alive (review E10).
        Ok(rows.into_iter().find_map(
            |(data, username, credential_epoch, display_name, about, device_notice)| {
                let row_epoch = serde_json::from_str::<Value>(&data)
                    .ok()?
                    .get(AUTH_KEY)?
                    .get("credential_epoch")?
                    .as_i64()?;
                (row_epoch == credential_epoch).then_some(SessionOwner {
                    username,
                    credential_epoch,
                    display_name,
                    about,
                    device_notice,
                })
            },
        ))
    }

    async fn delete_all_for_user(&self, user_id: i64) -> session_store::Result<u64> {
        let deleted = sessions::delete_all_of_user(&self.pool, user_id)
            .await
            .map_err(store_error)?;
        self.cache.forget_user(user_id);
        self.count_writes(deleted);
        Ok(deleted)
    }

    async fn delete_one_for_user(
        &self,
        user_id: i64,
        key: &StorageKey,
    ) -> session_store::Result<bool> {
        let deleted = sessions::delete_one_of_user(&self.pool, user_id, &key[..])
            .await
            .map_err(store_error)?;
        self.cache.forget(key);
        self.count_writes(deleted);
        Ok(deleted > 0)
    }

    async fn delete_others_for_user(
        &self,
        user_id: i64,
        keep: &StorageKey,
    ) -> session_store::Result<u64> {
        let deleted = sessions::delete_others_of_user(&self.pool, user_id, &keep[..])
            .await
            .map_err(store_error)?;
        self.cache.forget_user(user_id);
        self.count_writes(deleted);
        Ok(deleted)
    }

    async fn live_sessions_of(&self, user_id: i64) -> session_store::Result<Vec<StoredSession>> {
        sessions::live_of_user(&self.pool, user_id, self.clock.now())
            .await
            .map_err(store_error)
    }

    async fn first_client(&self, session_id: &Id) -> session_store::Result<Option<ClientInfo>> {
        let first = sessions::first_client(&self.pool, &storage_key(session_id)[..])
            .await
            .map_err(store_error)?;
        Ok(first.map(|(ip, user_agent)| ClientInfo { ip, user_agent }))
    }

    fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn cached_data(
        &self,
        session_id: &Id,
    ) -> Option<std::sync::Arc<std::collections::HashMap<String, Value>>> {
        self.cache
            .get(&storage_key(session_id), self.clock.now())
            .map(|row| row.record_data)
    }
}

/// Sessions carry their owner's row: `db::users` clears it here after each
/// write to `users`.
impl crate::ssr::db::users::UserCache for SqlSessionStore {
    fn user_changed(&self, user_id: i64) {
        self.cache.forget_user(user_id);
    }
}
