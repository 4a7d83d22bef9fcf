//! `[session]`: timeouts, the cookie's SameSite, the per-user limit, the
//! clean-up and the cache, and what makes a valid set of them.

use serde::{Deserialize, Serialize};

use crate::ssr::clock::MAX_DURATION_SECS;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SameSitePolicy {
    Strict,
    Lax,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// Seconds of inactivity after which a session ends (ASVS 7.3.1).
    pub idle_timeout_secs: u64,
    /// Seconds after sign-in after which a session ends whatever the activity (ASVS 7.3.2).
    pub absolute_timeout_secs: u64,
    /// Minimum seconds between two writes of an unchanged session.
    pub touch_interval_secs: u64,
    pub same_site: SameSitePolicy,
    /// 0 = unlimited concurrent sessions per user.
    pub max_per_user: u32,
    pub cleanup_interval_secs: u64,
    pub cleanup_batch_size: u32,
    /// Seconds before the idle deadline at which the browser warns.
    pub warn_before_secs: u64,
    /// Live sessions kept in memory (0 = read every request's session from
    /// the database).
    pub cache_max_entries: u32,
    /// On PostgreSQL (several servers): how long after a write committed on
    /// another server this one may still answer from its cache, at worst,
    /// if a notification is late or lost (`session::cross_server`).
    pub cache_staleness_ms: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 30 * 60,
            absolute_timeout_secs: 8 * 60 * 60,
            touch_interval_secs: 60,
            same_site: SameSitePolicy::Strict,
            max_per_user: 0,
            cleanup_interval_secs: 300,
            cleanup_batch_size: 500,
            warn_before_secs: 120,
            cache_max_entries: 100_000,
            cache_staleness_ms: 1_000,
        }
    }
}

impl SessionSettings {
    /// The first problem with these settings, if any.
    pub fn problem(&self) -> Option<&'static str> {
        let too_long = |secs: u64| secs > MAX_DURATION_SECS;
        let s = self;
        [
            (
                s.idle_timeout_secs == 0,
                "session.idle_timeout_secs must be > 0",
            ),
            (
                too_long(s.idle_timeout_secs) || too_long(s.absolute_timeout_secs),
                "session.idle_timeout_secs and absolute_timeout_secs must be at most \
                 31536000 (one year)",
            ),
            (
                s.absolute_timeout_secs < s.idle_timeout_secs,
                "session.absolute_timeout_secs must be >= idle_timeout_secs",
            ),
            (
                s.touch_interval_secs >= s.idle_timeout_secs,
                "session.touch_interval_secs must be < idle_timeout_secs",
            ),
            (
                s.warn_before_secs >= s.idle_timeout_secs,
                "session.warn_before_secs must be < idle_timeout_secs (the warning \
                 would come before the session starts)",
            ),
            (
                s.cleanup_interval_secs == 0 || too_long(s.cleanup_interval_secs),
                "session.cleanup_interval_secs must be 1 to 31536000",
            ),
            (
                s.cleanup_batch_size == 0,
                "session.cleanup_batch_size must be > 0",
            ),
            (
                !(50..=60_000).contains(&s.cache_staleness_ms),
                "session.cache_staleness_ms must be 50 to 60000",
            ),
        ]
        .into_iter()
        .find_map(|(bad, message)| bad.then_some(message))
    }
}
