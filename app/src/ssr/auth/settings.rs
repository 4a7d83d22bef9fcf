//! `[password]` (hashing and the rules for new passwords) and `[login]`
//! (the throttle's limits), and what makes a valid set of them.

use serde::{Deserialize, Serialize};

use crate::ssr::clock::MAX_DURATION_SECS;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    /// Concurrent argon2 computations (each needs 19 MiB of memory).
    pub hash_concurrency: u32,
    /// CPU priority of the hashing threads: a nice value, 0 (normal) to 19
    /// (lowest). Higher keeps page requests fast during a sign-in storm at
    /// the cost of slower sign-ins while pages are busy.
    pub hash_thread_nice: i32,
    pub min_length: u32,
    pub max_length: u32,
    /// zxcvbn score from 0 to 4 that a new password must reach.
    pub min_strength: u8,
    /// Requests that may wait for a hashing slot at once; beyond it, 503.
    pub hash_queue_max: u32,
    /// Seconds a request may wait for a hashing slot before it gets 503.
    pub hash_queue_timeout_secs: u64,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            hash_concurrency: 2,
            hash_thread_nice: 10,
            min_length: 8,
            max_length: 128,
            min_strength: 3,
            hash_queue_max: 64,
            hash_queue_timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    /// Per account and address: past it, each attempt waits a doubling
    /// delay (1 s, 2 s ... 15 min).
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    /// Per account from all addresses but those it signed in from before.
    pub max_failures_per_account_everywhere: u32,
    /// Registrations per address per window (each costs an argon2 run).
    pub max_registrations_per_address: u32,
    pub failure_window_secs: u64,
    /// How many leading bits of an IPv6 address name one client for every
    /// per-address limit (one host or subscriber gets a whole /64).
    pub ipv6_prefix: u8,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            max_failures_per_account: 10,
            max_failures_per_address: 50,
            max_failures_per_account_everywhere: 100,
            max_registrations_per_address: 20,
            failure_window_secs: 900,
            ipv6_prefix: 64,
        }
    }
}

impl PasswordSettings {
    /// The first problem with these settings, if any.
    pub fn problem(&self) -> Option<&'static str> {
        let p = self;
        [
            (
                p.hash_concurrency == 0,
                "password.hash_concurrency must be > 0",
            ),
            (
                !(0..=19).contains(&p.hash_thread_nice),
                "password.hash_thread_nice is 0 to 19",
            ),
            (
                p.min_length < 8 || p.max_length < 64,
                "password lengths: min_length >= 8 and max_length >= 64 (ASVS 6.2.1, 6.2.9)",
            ),
            (p.min_strength > 4, "password.min_strength is 0 to 4"),
            (p.hash_queue_max == 0, "password.hash_queue_max must be > 0"),
            (
                p.hash_queue_timeout_secs == 0 || p.hash_queue_timeout_secs > 3600,
                "password.hash_queue_timeout_secs must be 1 to 3600",
            ),
        ]
        .into_iter()
        .find_map(|(bad, message)| bad.then_some(message))
    }
}

impl LoginSettings {
    /// The first problem with these settings, if any.
    pub fn problem(&self) -> Option<&'static str> {
        if self.failure_window_secs == 0 || self.failure_window_secs > MAX_DURATION_SECS {
            return Some("login.failure_window_secs must be 1 to 31536000");
        }
        if !(32..=128).contains(&self.ipv6_prefix) {
            return Some("login.ipv6_prefix must be 32 to 128");
        }
        let no_limit = self.max_failures_per_account == 0
            || self.max_failures_per_address == 0
            || self.max_failures_per_account_everywhere == 0
            || self.max_registrations_per_address == 0;
        no_limit.then_some(
            "login.max_failures_per_account, max_failures_per_address, \
             max_failures_per_account_everywhere and max_registrations_per_address must be > 0",
        )
    }
}
