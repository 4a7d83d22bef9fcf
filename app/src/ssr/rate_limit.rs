//! Brute-force throttle for sign-in (ASVS 6.3.1; OWASP Authentication
//! Cheat Sheet, "Protect Against Automated Attacks").
//!
//! Attempts are counted per key (username + address, and address alone) in
//! a fixed window. An attempt is counted *before* argon2 runs, in the same
//! locked step that checks the limit (`reserve`): a burst of parallel
//! guesses cannot all pass the check before the first failure is recorded
//! (issue 8). Over the limit, attempts are refused with 429 without hashing,
//! so guessing costs the attacker time and costs us nothing. A correct
//! password gives its attempt back and clears the username + address count.
//! Keying by username + address rather than username alone means an
//! attacker elsewhere cannot lock a user out.
//!
//! Memory is bounded: keys are stored as SHA-256 digests (32 bytes however
//! long the username a client sends), and at most `max_keys` windows are
//! kept; when full, ended windows go first, then the oldest.
//!
//! In memory: it resets on restart, and a multi-instance deployment needs a
//! shared store (the monitoring and scale-out issues).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::ssr::clock::UnixTime;

type KeyDigest = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Window {
    start: UnixTime,
    count: u32,
}

#[derive(Debug)]
pub struct FailureLimiter {
    window_secs: i64,
    max_keys: usize,
    windows: Mutex<HashMap<KeyDigest, Window>>,
}

/// Windows kept at most (about 60 bytes each).
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// An attempt counted against some keys, until it proves not to be a
/// failure (`FailureLimiter::refund`).
#[derive(Debug)]
#[must_use = "an attempt that succeeded must be refunded"]
pub struct Attempt {
    keys: Vec<(KeyDigest, UnixTime)>,
}

fn digest(key: &str) -> KeyDigest {
    Sha256::digest(key.as_bytes()).into()
}

impl FailureLimiter {
    pub fn new(window_secs: u64) -> Self {
        Self::with_max_keys(window_secs, DEFAULT_MAX_KEYS)
    }

    pub fn with_max_keys(window_secs: u64, max_keys: usize) -> Self {
        Self {
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX).max(1),
            max_keys: max_keys.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn ends(&self, window: &Window) -> UnixTime {
        window.start.saturating_add(self.window_secs)
    }

    /// Counts one attempt against every `(key, limit)` at once, or refuses
    /// it with the seconds to wait when any key has reached its limit in its
    /// current window. Check and count happen under one lock.
    pub fn reserve(&self, limits: &[(&str, u32)], now: UnixTime) -> Result<Attempt, u64> {
        let keys: Vec<(KeyDigest, u32)> = limits.iter().map(|(k, l)| (digest(k), *l)).collect();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let wait = keys
            .iter()
            .filter_map(|(key, limit)| {
                let window = windows.get(key)?;
                let ends = self.ends(window);
                (now < ends && window.count >= *limit).then_some(ends - now)
            })
            .max();
        if let Some(wait) = wait {
            return Err(u64::try_from(wait).unwrap_or(0));
        }
        let mut counted = Vec::with_capacity(keys.len());
        for (key, _) in keys {
            if !windows.contains_key(&key) {
                self.make_room(&mut windows, now);
            }
            let window = windows.entry(key).or_insert(Window {
                start: now,
                count: 0,
            });
            if now >= self.ends(window) {
                *window = Window {
                    start: now,
                    count: 0,
                };
            }
            window.count = window.count.saturating_add(1);
            counted.push((key, window.start));
        }
        Ok(Attempt { keys: counted })
    }

    /// Gives an attempt back: it was not a failure (the password was right)
    /// or it was never judged (the server was too busy, the client left).
    pub fn refund(&self, attempt: Attempt) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        for (key, start) in attempt.keys {
            if let Some(window) = windows.get_mut(&key) {
                // A window that has restarted since holds other attempts.
                if window.start == start {
                    window.count = window.count.saturating_sub(1);
                }
            }
        }
    }

    /// Forgets every failure counted against `key`.
    pub fn clear(&self, key: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows.remove(&digest(key));
    }

    /// Keys currently kept (for tests of the memory bound).
    pub fn len(&self) -> usize {
        self.windows.lock().map(|w| w.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Before a new key goes in at the limit: drop the ended windows, and
    /// if none has ended, the oldest. Evicting a live window forgets some
    /// failures, so the bound is set far above what honest traffic needs;
    /// an attacker who fills it pays an argon2 run per key.
    fn make_room(&self, windows: &mut HashMap<KeyDigest, Window>, now: UnixTime) {
        if windows.len() < self.max_keys {
            return;
        }
        windows.retain(|_, window| now < window.start.saturating_add(self.window_secs));
        if windows.len() >= self.max_keys {
            if let Some(oldest) = windows
                .iter()
                .min_by_key(|(_, window)| window.start)
                .map(|(key, _)| *key)
            {
                windows.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_before_they_are_judged_and_refused_past_the_limit() {
        let limiter = FailureLimiter::new(900);
        for _ in 0..3 {
            let _failed = limiter.reserve(&[("k", 3)], 100).expect("under the limit");
        }
        assert_eq!(limiter.reserve(&[("k", 3)], 100).unwrap_err(), 900);
        assert_eq!(limiter.reserve(&[("k", 3)], 999).unwrap_err(), 1);
        assert!(limiter.reserve(&[("k", 3)], 1000).is_ok(), "a new window");
        assert!(limiter.reserve(&[("other", 3)], 100).is_ok());
    }

    #[test]
    fn a_refused_attempt_counts_nowhere_and_one_full_key_refuses_all() {
        let limiter = FailureLimiter::new(900);
        let _ = limiter.reserve(&[("account", 1), ("address", 5)], 0);
        assert!(limiter
            .reserve(&[("account", 1), ("address", 5)], 0)
            .is_err());
        // The refusal above did not count against the address.
        for _ in 0..4 {
            let _ = limiter.reserve(&[("address", 5)], 0).expect("4 more fit");
        }
        assert!(limiter.reserve(&[("address", 5)], 0).is_err());
    }

    #[test]
    fn a_refund_gives_the_attempt_back_and_clear_forgets_the_key() {
        let limiter = FailureLimiter::new(900);
        let attempt = limiter.reserve(&[("k", 1)], 0).expect("first");
        limiter.refund(attempt);
        let _failed = limiter.reserve(&[("k", 1)], 0).expect("refunded");
        assert!(limiter.reserve(&[("k", 1)], 0).is_err());
        limiter.clear("k");
        assert!(limiter.reserve(&[("k", 1)], 0).is_ok());
    }

    #[test]
    fn a_refund_after_the_window_restarted_does_not_touch_the_new_window() {
        let limiter = FailureLimiter::new(10);
        let old = limiter.reserve(&[("k", 1)], 0).expect("first");
        let _new = limiter.reserve(&[("k", 1)], 10).expect("new window");
        limiter.refund(old);
        assert!(limiter.reserve(&[("k", 1)], 10).is_err());
    }

    #[test]
    fn memory_is_bounded_in_keys_and_in_key_length() {
        let limiter = FailureLimiter::with_max_keys(900, 100);
        let long = "x".repeat(16 * 1024);
        for n in 0..1000 {
            let _ = limiter.reserve(&[(&format!("{long}{n}"), 3)], n);
        }
        assert_eq!(limiter.len(), 100);
        // The newest keys are the ones kept.
        let _ = limiter.reserve(&[(&format!("{long}999"), 3)], 1000);
        let _ = limiter.reserve(&[(&format!("{long}999"), 3)], 1000);
        assert!(limiter
            .reserve(&[(&format!("{long}999"), 3)], 1000)
            .is_err());
    }
}
