//! A read-through cache of live session rows, so that most authenticated
//! requests need no database round trip (issue 9: the lookup was about
//! half of `GET /api/session_status` and a third of `GET /account`).
//!
//! Revocation stays immediate (OWASP cheat sheet, "Session Expiration";
//! ASVS 7.4.1): every write to a session row or to its user's row on this
//! server drops the cached copy *after* the write has committed and before
//! the request that wrote answers, so the next request after a sign-out,
//! a rotation or a profile change reads the database again. A load that
//! read the database before such a write cannot put its stale row back:
//! every invalidation bumps a generation, and a row is only cached if no
//! invalidation happened since its load began.
//!
//! Deadlines are checked on every hit, so an expired session is refused
//! from the cache exactly as from the database.
//!
//! Writes by another server (several on one PostgreSQL, issue 24) arrive
//! as notifications (`cross_server`), which forget the same entries. Such
//! a cache is *shared*: it answers only while it is known to have heard
//! every notification up to a recent moment, `trust_until`; when the
//! listener loses its connection, or its heartbeats stop coming back, the
//! cache flushes and every request reads the database until it is back.
//! So a write committed on another server is never served from here for
//! longer than `[session] cache_staleness_ms` after it (and usually for a
//! millisecond or two).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use super::policy::{Deadlines, SessionPolicy};
use crate::ssr::clock::UnixTime;

pub type StorageKey = [u8; 32];

/// A session row with its user's row, as the store loads them: the
/// tower-sessions record's data already built (JSON parsed once per
/// database read, not once per request: W1 and W3, issue 9), shared, so
/// that a hit copies it outside the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRow {
    pub user_id: Option<i64>,
    pub deadlines: Deadlines,
    pub record_data: Arc<HashMap<String, Value>>,
}

#[derive(Debug, Default)]
struct Rows {
    by_key: HashMap<StorageKey, CachedRow>,
    generation: u64,
}

#[derive(Debug)]
pub struct SessionCache {
    max_entries: usize,
    rows: Mutex<Rows>,
    /// `None`: this server's own store (SQLite), always to be trusted.
    shared: Option<Trust>,
}

/// Until when a shared cache may answer: nanoseconds since `since`
/// (0: not now).
#[derive(Debug)]
struct Trust {
    since: Instant,
    until_nanos: AtomicU64,
}

impl Trust {
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.since).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Where a load stood when it began; see `SessionCache::insert`.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl SessionCache {
    /// `max_entries = 0` turns the cache off.
    pub fn new(max_entries: usize) -> Self {
        Self {
            max_entries,
            rows: Mutex::new(Rows::default()),
            shared: None,
        }
    }

    /// A cache of a store other servers write too: it answers nothing
    /// until `trust_until` says so (see the module comment).
    pub fn shared(max_entries: usize) -> Self {
        Self {
            shared: Some(Trust {
                since: Instant::now(),
                until_nanos: AtomicU64::new(0),
            }),
            ..Self::new(max_entries)
        }
    }

    /// Whether it may answer now: always for a cache of its own store; for
    /// a shared one, while the last heartbeat heard is recent enough.
    pub fn is_trusted(&self) -> bool {
        match &self.shared {
            None => true,
            Some(trust) => trust.nanos(Instant::now()) < trust.until_nanos.load(Ordering::Acquire),
        }
    }

    /// Every notification committed before some moment has been heard:
    /// answer until `until` (that moment plus the staleness bound).
    pub fn trust_until(&self, until: Instant) {
        if let Some(trust) = &self.shared {
            trust
                .until_nanos
                .fetch_max(trust.nanos(until), Ordering::AcqRel);
        }
    }

    /// Notifications may have been missed (the listener's connection is
    /// gone, or it starts): answer nothing, and forget everything, until
    /// trusted again.
    pub fn distrust(&self) {
        if let Some(trust) = &self.shared {
            trust.until_nanos.store(0, Ordering::Release);
        }
        self.flush();
    }

    /// Forgets every entry; a load that began before cannot cache its row.
    pub fn flush(&self) {
        let mut rows = self.rows();
        rows.generation = rows.generation.wrapping_add(1);
        rows.by_key.clear();
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, Rows> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_on(&self) -> bool {
        self.max_entries > 0
    }

    /// The cached row of a session that is alive at `now`.
    pub fn get(&self, key: &StorageKey, now: UnixTime) -> Option<CachedRow> {
        if !self.is_on() || !self.is_trusted() {
            return None;
        }
        let mut rows = self.rows();
        let row = rows.by_key.get(key)?;
        if SessionPolicy::is_alive(&row.deadlines, now) {
            return Some(row.clone());
        }
        rows.by_key.remove(key);
        None
    }

    /// Taken before reading the database for a miss.
    pub fn generation(&self) -> Generation {
        Generation(self.rows().generation)
    }

    /// Caches a row read since `seen`, unless something was invalidated
    /// meanwhile (the row might predate that write).
    pub fn insert(&self, key: StorageKey, row: CachedRow, seen: Generation) {
        if !self.is_on() {
            return;
        }
        let mut rows = self.rows();
        if rows.generation != seen.0 {
            return;
        }
        if rows.by_key.len() >= self.max_entries && !rows.by_key.contains_key(&key) {
            // Full: forget one entry, whichever comes first, in constant
            // time under the lock every lookup takes (review E1: a scan of
            // every entry here made each miss O(n) once the cache was
            // full). It is read again on its next request; expired entries
            // go in `sweep`, off the request path.
            if let Some(any) = rows.by_key.keys().next().copied() {
                rows.by_key.remove(&any);
            }
        }
        rows.by_key.insert(key, row);
    }

    /// Drops every entry past a deadline; the clean-up task runs it with
    /// each pass. Returns how many went.
    pub fn sweep(&self, now: UnixTime) -> usize {
        let mut rows = self.rows();
        let before = rows.by_key.len();
        rows.by_key
            .retain(|_, row| SessionPolicy::is_alive(&row.deadlines, now));
        before - rows.by_key.len()
    }

    /// After a write to one session's row.
    pub fn forget(&self, key: &StorageKey) {
        let mut rows = self.rows();
        rows.generation = rows.generation.wrapping_add(1);
        rows.by_key.remove(key);
    }

    /// After a write to a user's row or to several of their sessions.
    pub fn forget_user(&self, user_id: i64) {
        let mut rows = self.rows();
        rows.generation = rows.generation.wrapping_add(1);
        rows.by_key.retain(|_, row| row.user_id != Some(user_id));
    }

    pub fn len(&self) -> usize {
        self.rows().by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user_id: i64, idle_expires_at: UnixTime) -> CachedRow {
        CachedRow {
            user_id: Some(user_id),
            deadlines: Deadlines {
                created_at: 0,
                last_seen_at: 0,
                idle_expires_at,
                absolute_expires_at: 1000,
            },
            record_data: Arc::default(),
        }
    }

    #[test]
    fn a_cached_row_is_served_only_while_it_is_alive() {
        let cache = SessionCache::new(10);
        let seen = cache.generation();
        cache.insert([1; 32], row(1, 100), seen);
        assert!(cache.get(&[1; 32], 99).is_some());
        assert!(cache.get(&[1; 32], 100).is_none());
        assert!(cache.is_empty(), "the expired row is dropped");
    }

    #[test]
    fn a_load_that_began_before_an_invalidation_is_not_cached() {
        let cache = SessionCache::new(10);
        let seen = cache.generation();
        // Meanwhile another request signs the session out...
        cache.forget(&[1; 32]);
        // ...and the load that read the old row finishes.
        cache.insert([1; 32], row(1, 100), seen);
        assert!(cache.get(&[1; 32], 0).is_none());
        // The same for a change to the user.
        let seen = cache.generation();
        cache.forget_user(7);
        cache.insert([2; 32], row(7, 100), seen);
        assert!(cache.get(&[2; 32], 0).is_none());
    }

    #[test]
    fn forgetting_a_user_drops_all_their_sessions_and_no_others() {
        let cache = SessionCache::new(10);
        for (key, user) in [([1; 32], 1), ([2; 32], 1), ([3; 32], 2)] {
            let seen = cache.generation();
            cache.insert(key, row(user, 100), seen);
        }
        cache.forget_user(1);
        assert!(cache.get(&[1; 32], 0).is_none());
        assert!(cache.get(&[2; 32], 0).is_none());
        assert!(cache.get(&[3; 32], 0).is_some());
    }

    #[test]
    fn the_cache_is_bounded_and_can_be_off() {
        let cache = SessionCache::new(3);
        for n in 0..10u8 {
            let seen = cache.generation();
            cache.insert([n; 32], row(1, 100), seen);
        }
        assert_eq!(cache.len(), 3);
        let off = SessionCache::new(0);
        let seen = off.generation();
        off.insert([1; 32], row(1, 100), seen);
        assert!(off.get(&[1; 32], 0).is_none());
    }

    #[test]
    fn a_shared_cache_answers_only_while_trusted_and_a_distrust_forgets_all() {
        let cache = SessionCache::shared(10);
        cache.insert([1; 32], row(1, 100), cache.generation());
        assert_eq!(
            cache.get(&[1; 32], 50),
            None,
            "not trusted before a heartbeat"
        );
        cache.trust_until(Instant::now() + std::time::Duration::from_secs(60));
        cache.insert([1; 32], row(1, 100), cache.generation());
        assert!(cache.get(&[1; 32], 50).is_some());
        // Trust already lapsed: read through, though the entry is there.
        let lapsed = SessionCache::shared(10);
        lapsed.trust_until(Instant::now());
        lapsed.insert([1; 32], row(1, 100), lapsed.generation());
        assert_eq!(lapsed.len(), 1);
        assert_eq!(lapsed.get(&[1; 32], 50), None);
        // A later heartbeat never moves trust back.
        cache.trust_until(Instant::now());
        assert!(cache.is_trusted());
        let seen = cache.generation();
        cache.distrust();
        assert!(!cache.is_trusted());
        assert!(cache.is_empty());
        cache.insert([2; 32], row(1, 100), seen);
        assert!(
            cache.is_empty(),
            "a load from before the distrust is not kept"
        );
        assert!(SessionCache::new(10).is_trusted(), "one server's own cache");
    }

    /// Review E1: an insert into a full cache forgets exactly one entry and
    /// never scans the others (expired ones included: they wait for the
    /// clean-up's sweep), so a miss costs the same at 3 entries as at
    /// 100,000.
    #[test]
    fn a_full_cache_forgets_one_entry_per_insert_and_the_sweep_takes_the_expired() {
        let cache = SessionCache::new(4);
        for (n, idle_expires_at) in [(0u8, 10), (1, 10), (2, 100), (3, 100)] {
            let seen = cache.generation();
            cache.insert([n; 32], row(1, idle_expires_at), seen);
        }
        let seen = cache.generation();
        cache.insert([9; 32], row(1, 100), seen);
        assert_eq!(cache.len(), 4, "one out, one in");
        let expired_left = (0..2u8)
            .filter(|n| cache.rows().by_key.contains_key(&[*n; 32]))
            .count();
        assert!(expired_left >= 1, "the insert scanned for expired entries");
        assert!(cache.get(&[9; 32], 50).is_some());
        assert_eq!(cache.sweep(50), expired_left);
        assert_eq!(cache.len(), 4 - expired_left);
        assert_eq!(cache.sweep(50), 0);
    }
}
