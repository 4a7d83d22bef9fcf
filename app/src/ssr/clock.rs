//! Time as a dependency, so that timeouts are tested by moving a clock rather
//! than by sleeping.

use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Unix time in whole seconds: the unit every session deadline is stored in.
pub type UnixTime = i64;

pub trait Clock: Debug + Send + Sync + 'static {
    fn now(&self) -> UnixTime;

    /// Milliseconds, for the browser's skew correction.
    fn now_ms(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
            .unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to (tests and benchmarks).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn starting_now() -> Self {
        Self::starting_at(SystemClock.now())
    }
    pub fn starting_at(now: UnixTime) -> Self {
        Self(Arc::new(AtomicI64::new(now)))
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.0.load(Ordering::SeqCst)
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The longest timeout or window a setting may have: one year. Longer ones
/// are mistakes, and beyond about 10^11 s the deadlines no longer fit the
/// date types the cookie and the database use.
pub const MAX_DURATION_SECS: u64 = 365 * 24 * 3600;

/// "30 minutes", "8 hours", "1 hour", "45 seconds".
pub fn describe_duration(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
