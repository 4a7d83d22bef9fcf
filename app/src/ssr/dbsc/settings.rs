//! `[dbsc]`: device-bound sessions (issue 26).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DbscSettings {
    /// Offer every sign-in a device binding (browsers without DBSC ignore
    /// the offer and keep working as before). Off: no offers, and existing
    /// bindings are no longer enforced.
    pub enabled: bool,
    /// The bound cookie's lifetime, s: a stolen session cookie and bound
    /// cookie together work at most this long. Above Chrome's proactive
    /// refresh (120 s before expiry).
    pub cookie_max_age_secs: u64,
}

impl Default for DbscSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            cookie_max_age_secs: 600,
        }
    }
}

impl DbscSettings {
    pub fn problem(&self) -> Option<&'static str> {
        (!(5..=86_400).contains(&self.cookie_max_age_secs))
            .then_some("dbsc.cookie_max_age_secs must be 5 to 86400 (above 120 in production)")
    }

    /// How long a challenge may be answered: longer than the cookie lives,
    /// so that a refresh near the cookie's end still finds its challenge.
    pub fn challenge_ttl_secs(&self) -> i64 {
        i64::try_from(self.cookie_max_age_secs.saturating_mul(2)).unwrap_or(i64::MAX)
    }
}
