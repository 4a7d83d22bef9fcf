//! The session timing rules as pure functions: no I/O, no clock reads.

use crate::ssr::clock::UnixTime;
use crate::ssr::session::settings::SessionSettings;

/// The times that decide whether a session is alive, as stored in its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub created_at: UnixTime,
    pub last_seen_at: UnixTime,
    /// Sliding: moved forward by activity (ASVS 7.3.1).
    pub idle_expires_at: UnixTime,
    /// Fixed at sign-in, never extended (ASVS 7.3.2).
    pub absolute_expires_at: UnixTime,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    idle_secs: i64,
    absolute_secs: i64,
    touch_interval_secs: i64,
}

impl SessionPolicy {
    pub fn new(settings: &SessionSettings) -> Self {
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        Self {
            idle_secs: secs(settings.idle_timeout_secs),
            absolute_secs: secs(settings.absolute_timeout_secs),
            touch_interval_secs: secs(settings.touch_interval_secs),
        }
    }

    /// Deadlines of a session that starts now.
    pub fn start(&self, now: UnixTime) -> Deadlines {
        let absolute_expires_at = now.saturating_add(self.absolute_secs);
        Deadlines {
            created_at: now,
            last_seen_at: now,
            idle_expires_at: self.idle_deadline(now, absolute_expires_at),
            absolute_expires_at,
        }
    }

    /// Deadlines after activity now: the idle deadline slides, the absolute
    /// one does not, and the idle one never passes the absolute one. The
    /// store applies this rule inside its conditional UPDATE (`touch`) and
    /// to a session whose ID rotates without a new sign-in (a step-up, an
    /// admin elevation): a new ID never buys a longer life (issue 10).
    pub fn touch(&self, deadlines: Deadlines, now: UnixTime) -> Deadlines {
        Deadlines {
            last_seen_at: now,
            idle_expires_at: self.idle_deadline(now, deadlines.absolute_expires_at),
            ..deadlines
        }
    }

    fn idle_deadline(&self, now: UnixTime, absolute_expires_at: UnixTime) -> UnixTime {
        self.sliding_idle_deadline(now).min(absolute_expires_at)
    }

    /// The idle deadline that activity now sets, before capping it by the
    /// absolute deadline (the store caps it in SQL).
    pub fn sliding_idle_deadline(&self, now: UnixTime) -> UnixTime {
        now.saturating_add(self.idle_secs)
    }

    /// Both timeouts are enforced on every request: a row is alive only
    /// strictly before both deadlines.
    pub fn is_alive(deadlines: &Deadlines, now: UnixTime) -> bool {
        now < deadlines.idle_expires_at && now < deadlines.absolute_expires_at
    }

    /// Whether activity now should be written: at most once per touch
    /// interval, so that reads do not cost writes.
    pub fn touch_is_due(&self, deadlines: &Deadlines, now: UnixTime) -> bool {
        now.saturating_sub(deadlines.last_seen_at) >= self.touch_interval_secs
    }

    /// The latest `last_seen_at` at which activity now is due: the same
    /// rule as `touch_is_due`, as a bound the store's conditional write
    /// can check.
    pub fn touch_due_at_or_before(&self, now: UnixTime) -> UnixTime {
        now.saturating_sub(self.touch_interval_secs)
    }

    /// The cookie lifetime that matches the server's idle deadline, so the
    /// browser never drops a session the server still honours, nor keeps one
    /// the server has ended.
    pub fn cookie_max_age_secs(deadlines: &Deadlines, now: UnixTime) -> i64 {
        deadlines.idle_expires_at.saturating_sub(now).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SessionPolicy {
        SessionPolicy::new(&SessionSettings {
            idle_timeout_secs: 1800,
            absolute_timeout_secs: 8 * 3600,
            touch_interval_secs: 60,
            ..SessionSettings::default()
        })
    }

    #[test]
    fn a_new_session_expires_after_the_idle_timeout() {
        let d = policy().start(1000);
        assert_eq!(d.idle_expires_at, 2800);
        assert_eq!(d.absolute_expires_at, 1000 + 8 * 3600);
        assert!(SessionPolicy::is_alive(&d, 2799));
        assert!(!SessionPolicy::is_alive(&d, 2800));
    }

    #[test]
    fn activity_slides_the_idle_deadline_but_never_past_the_absolute_one() {
        let p = policy();
        let d = p.start(0);
        let d = p.touch(d, 1000);
        assert_eq!(d.idle_expires_at, 2800);
        let late = p.touch(d, 8 * 3600 - 100);
        assert_eq!(late.idle_expires_at, 8 * 3600);
        assert_eq!(late.absolute_expires_at, 8 * 3600);
        assert!(!SessionPolicy::is_alive(&late, 8 * 3600));
    }

    #[test]
    fn touches_are_throttled_to_the_interval() {
        let p = policy();
        let d = p.start(0);
        assert!(!p.touch_is_due(&d, 59));
        assert!(p.touch_is_due(&d, 60));
        // The bound the store's write checks says the same.
        assert!(d.last_seen_at > p.touch_due_at_or_before(59));
        assert!(d.last_seen_at <= p.touch_due_at_or_before(60));
    }

    #[test]
    fn the_cookie_lives_exactly_as_long_as_the_idle_deadline() {
        let p = policy();
        let d = p.start(0);
        assert_eq!(SessionPolicy::cookie_max_age_secs(&d, 0), 1800);
        assert_eq!(SessionPolicy::cookie_max_age_secs(&d, 1800), 0);
        assert_eq!(SessionPolicy::cookie_max_age_secs(&d, 5000), 0);
    }
}
