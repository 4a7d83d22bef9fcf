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

/// A unix time as "2026-11-27 17:42:05 UTC".
///
/// Every signed-in page shows one (the account page's "signed in at"), so
/// the years 0 to 9999 are written by hand into one buffer: `format!` with
/// six padded fields cost 0.8% of W1's CPU (perf, `make bench`). Other
/// years take the general path.
pub fn format_time(unix: i64) -> String {
    // 0000-01-01 00:00:00 and 9999-12-31 23:59:59 UTC.
    const FIRST: i64 = -62_167_219_200;
    const LAST: i64 = 253_402_300_799;
    if !(FIRST..=LAST).contains(&unix) {
        return format_time_general(unix);
    }
    let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
    let second_of_day = unix.rem_euclid(86_400);
    let mut out = String::with_capacity(23);
    for (n, width, after) in [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, ' '),
        (second_of_day / 3600, 2, ':'),
        (second_of_day / 60 % 60, 2, ':'),
        (second_of_day % 60, 2, ' '),
    ] {
        for place in (0..width).rev() {
            let digit = (n / 10_i64.pow(place)) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
        out.push(after);
    }
    out.push_str("UTC");
    out
}

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01
/// in the proleptic Gregorian calendar (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn format_time_general(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "unknown".to_owned(),
    }
}

/// "30 minutes", "8 hours", "1 hour", "45 seconds".
pub fn describe_duration(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_the_calendar_says() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_801_325), "2026-11-27 17:42:05 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_time(-1), "1969-12-31 23:59:59 UTC");
        assert_eq!(format_time(i64::MAX), "unknown");
        // The hand-written path agrees with the general one everywhere it
        // is used: both ends, and a spread of times between them.
        let (first, last) = (-62_167_219_200_i64, 253_402_300_799_i64);
        let mut probes = vec![first, first + 1, last - 1, last, last + 1, first - 1];
        let mut t = first;
        while t < last {
            probes.push(t);
            t += 7_777_777 + t.rem_euclid(86_399);
        }
        for t in probes {
            assert_eq!(format_time(t), format_time_general(t), "{t}");
        }
    }
}
