//! Brute-force throttle for sign-in (ASVS 6.3.1; OWASP Authentication
//! Cheat Sheet, "Protect Against Automated Attacks").
//!
//! Failures are counted per key (username + address, and address alone) in
//! a fixed window. Over the limit, attempts are refused with 429 *before*
//! argon2 runs, so guessing costs the attacker time and costs us nothing.
//! Keying by username + address rather than username alone means an attacker
//! elsewhere cannot lock a user out. In memory: it resets on restart, and a
//! multi-instance deployment needs a shared store (a later issue).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::ssr::clock::UnixTime;

#[derive(Debug)]
pub struct FailureLimiter {
    window_secs: i64,
    entries: Mutex<HashMap<String, (UnixTime, u32)>>,
}

/// Bound on tracked keys; beyond it, stale windows are dropped.
const MAX_KEYS: usize = 100_000;

impl FailureLimiter {
    pub fn new(window_secs: u64) -> Self {
        Self {
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX).max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when `key` has reached `limit` failures in
    /// the current window.
    pub fn blocked_for(&self, key: &str, limit: u32, now: UnixTime) -> Option<u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (start, count) = *entries.get(key)?;
        let ends = start.saturating_add(self.window_secs);
        (now < ends && count >= limit).then(|| u64::try_from(ends - now).unwrap_or(0))
    }

    pub fn record_failure(&self, key: &str, now: UnixTime) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_KEYS {
            let window = self.window_secs;
            entries.retain(|_, (start, _)| now < start.saturating_add(window));
        }
        let entry = entries.entry(key.to_owned()).or_insert((now, 0));
        if now >= entry.0.saturating_add(self.window_secs) {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    pub fn clear(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new(900);
        for _ in 0..3 {
            assert_eq!(limiter.blocked_for("k", 3, 100), None);
            limiter.record_failure("k", 100);
        }
        assert_eq!(limiter.blocked_for("k", 3, 100), Some(900));
        assert_eq!(limiter.blocked_for("k", 3, 999), Some(1));
        assert_eq!(limiter.blocked_for("k", 3, 1000), None);
        assert_eq!(limiter.blocked_for("other", 3, 100), None);
    }

    #[test]
    fn success_clears_the_count() {
        let limiter = FailureLimiter::new(900);
        limiter.record_failure("k", 0);
        limiter.clear("k");
        assert_eq!(limiter.blocked_for("k", 1, 0), None);
    }
}
