//! Times as people read them (issue 27): "3 minutes ago", "today at
//! 14:05", "until 14:40", in the reader's own time zone.
//!
//! Plain Rust shared by both sides. The server renders every timestamp as
//! `<time datetime="2026-12-05T01:30:43Z">` with a text that holds in any
//! zone ("3 minutes ago", "5 Dec 2026, 01:30 UTC") and the exact UTC time
//! as its title; in the browser the countdown island rewrites the text
//! and title in the browser's zone (`Zone::Local`). Without JavaScript the
//! UTC text stays, and the `datetime` attribute keeps the exact instant
//! for screen readers, copies and scripts either way.

/// What a timestamp is to its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    /// Something that happened: "just now", "3 minutes ago", "today at
    /// 14:05", "3 Dec at 09:12".
    Past,
    /// A deadline ahead: "14:40", "tomorrow at 08:00".
    Deadline,
}

impl TimeKind {
    /// The `data-time` attribute that tells the browser which it is.
    pub fn attribute(self) -> &'static str {
        match self {
            TimeKind::Past => "past",
            TimeKind::Deadline => "deadline",
        }
    }

    pub fn from_attribute(value: &str) -> TimeKind {
        match value {
            "deadline" => TimeKind::Deadline,
            _ => TimeKind::Past,
        }
    }
}

/// Whose clock the words are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The reader's zone is not known (the server): only words true in
    /// every zone, or the time in UTC, said so.
    Utc,
    /// The reader's zone, as its offset from UTC in seconds at the time
    /// shown and at now (they differ across a daylight-saving change).
    Local { at_offset: i64, now_offset: i64 },
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    days: i64,
    year: i64,
    month: i64,
    day: i64,
    second_of_day: i64,
}

impl Civil {
    fn of(unix: i64) -> Civil {
        let days = unix.div_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            days,
            year,
            month,
            day,
            second_of_day: unix.rem_euclid(86_400),
        }
    }

    /// "14:05"
    fn clock(&self) -> String {
        let mut out = String::with_capacity(5);
        self.push_clock(&mut out, false);
        out
    }

    /// "14:05", or "14:05:43" `with_seconds`.
    fn push_clock(&self, out: &mut String, with_seconds: bool) {
        let s = self.second_of_day;
        push_padded(out, s / 3600, 2);
        out.push(':');
        push_padded(out, s / 60 % 60, 2);
        if with_seconds {
            out.push(':');
            push_padded(out, s % 60, 2);
        }
    }

    /// "3 Dec", or "3 Dec 2025" when `with_year`.
    fn date(&self, with_year: bool) -> String {
        let mut out = String::with_capacity(11);
        self.push_date(&mut out, with_year);
        out
    }

    fn push_date(&self, out: &mut String, with_year: bool) {
        push_padded(out, self.day, if self.day < 10 { 1 } else { 2 });
        out.push(' ');
        out.push_str(MONTHS[(self.month - 1).clamp(0, 11) as usize]);
        if with_year {
            out.push(' ');
            push_padded(out, self.year, 4);
        }
    }

    fn weekday(&self) -> &'static str {
        // 1970-01-01 was a Thursday.
        WEEKDAYS[(self.days + 3).rem_euclid(7) as usize]
    }
}

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01
/// in the proleptic Gregorian calendar (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
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

/// `n` in decimal, zero-padded to `width` digits (years 0 to 9999 fit;
/// others are written unpadded).
/// Written by hand: every signed-in page shows times, and `format!` with
/// padded fields cost 0.8% of W1's CPU (perf, `make bench`).
fn push_padded(out: &mut String, n: i64, width: u32) {
    if !(0..10_i64.pow(width)).contains(&n) {
        out.push_str(&n.to_string());
        return;
    }
    for place in (0..width).rev() {
        let digit = (n / 10_i64.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// The `datetime` attribute: "2026-12-05T01:30:43Z".
pub fn machine_readable(unix: i64) -> String {
    let c = Civil::of(unix);
    let mut out = String::with_capacity(20);
    push_padded(&mut out, c.year, 4);
    out.push('-');
    push_padded(&mut out, c.month, 2);
    out.push('-');
    push_padded(&mut out, c.day, 2);
    out.push('T');
    c.push_clock(&mut out, true);
    out.push('Z');
    out
}

/// The exact time, for a title: "Sat 5 Dec 2026, 01:30:43 UTC", or with
/// `offset` seconds east of UTC "Sat 5 Dec 2026, 02:30:43 (UTC+01:00)".
pub fn exact(unix: i64, offset: Option<i64>) -> String {
    let c = Civil::of(unix.saturating_add(offset.unwrap_or(0)));
    let mut out = String::with_capacity(40);
    out.push_str(c.weekday());
    out.push(' ');
    c.push_date(&mut out, true);
    out.push_str(", ");
    c.push_clock(&mut out, true);
    match offset {
        None => out.push_str(" UTC"),
        Some(offset) => {
            let minutes = offset.abs() / 60;
            out.push_str(if offset < 0 { " (UTC-" } else { " (UTC+" });
            push_padded(&mut out, minutes / 60, 2);
            out.push(':');
            push_padded(&mut out, minutes % 60, 2);
            out.push(')');
        }
    }
    out
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The words for `unix` read at `now` (unix seconds).
pub fn readable(unix: i64, now: i64, kind: TimeKind, zone: Zone) -> String {
    match kind {
        TimeKind::Past => past(unix, now, zone),
        TimeKind::Deadline => deadline(unix, now, zone),
    }
}

fn past(unix: i64, now: i64, zone: Zone) -> String {
    let ago = now.saturating_sub(unix);
    // A clock a little ahead of the server's, or a row written this
    // second: both "just now".
    if ago < 60 && ago > -300 {
        return "just now".to_owned();
    }
    if (60..3600).contains(&ago) {
        return format!("{} ago", plural(ago / 60, "minute"));
    }
    match zone {
        Zone::Utc if (3600..86_400).contains(&ago) => {
            format!("{} ago", plural(ago / 3600, "hour"))
        }
        Zone::Utc => {
            let c = Civil::of(unix);
            format!("{}, {} UTC", c.date(true), c.clock())
        }
        Zone::Local {
            at_offset,
            now_offset,
        } => {
            let at = Civil::of(unix.saturating_add(at_offset));
            let today = Civil::of(now.saturating_add(now_offset));
            match today.days - at.days {
                0 => format!("today at {}", at.clock()),
                1 => format!("yesterday at {}", at.clock()),
                _ => format!("{} at {}", at.date(at.year != today.year), at.clock()),
            }
        }
    }
}

fn deadline(unix: i64, now: i64, zone: Zone) -> String {
    match zone {
        Zone::Utc => {
            // Every signed-in page's deadlines: written by hand (W1).
            let c = Civil::of(unix);
            let mut out = String::with_capacity(22);
            if !(0..86_400).contains(&unix.saturating_sub(now)) {
                c.push_date(&mut out, true);
                out.push_str(", ");
            }
            c.push_clock(&mut out, false);
            out.push_str(" UTC");
            out
        }
        Zone::Local {
            at_offset,
            now_offset,
        } => {
            let at = Civil::of(unix.saturating_add(at_offset));
            let today = Civil::of(now.saturating_add(now_offset));
            match at.days - today.days {
                0 => at.clock(),
                1 => format!("tomorrow at {}", at.clock()),
                _ => format!("{} at {}", at.date(at.year != today.year), at.clock()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-05 01:30:43 UTC, a Saturday.
    const AT: i64 = 1_796_434_243;

    fn local(offset: i64) -> Zone {
        Zone::Local {
            at_offset: offset,
            now_offset: offset,
        }
    }

    #[test]
    fn the_machine_readable_and_exact_forms() {
        assert_eq!(machine_readable(AT), "2026-12-05T01:30:43Z");
        assert_eq!(machine_readable(0), "1970-01-01T00:00:00Z");
        assert_eq!(exact(AT, None), "Sat 5 Dec 2026, 01:30:43 UTC");
        assert_eq!(
            exact(AT, Some(3600)),
            "Sat 5 Dec 2026, 02:30:43 (UTC+01:00)"
        );
        assert_eq!(
            exact(AT, Some(-(5 * 3600))),
            "Fri 4 Dec 2026, 20:30:43 (UTC-05:00)"
        );
        assert_eq!(
            exact(AT, Some(5 * 3600 + 1800)),
            "Sat 5 Dec 2026, 07:00:43 (UTC+05:30)"
        );
    }

    #[test]
    fn recent_past_reads_the_same_in_every_zone() {
        for zone in [Zone::Utc, local(3600), local(-8 * 3600)] {
            assert_eq!(readable(AT, AT, TimeKind::Past, zone), "just now");
            assert_eq!(readable(AT, AT + 59, TimeKind::Past, zone), "just now");
            assert_eq!(
                readable(AT, AT - 20, TimeKind::Past, zone),
                "just now",
                "skew"
            );
            assert_eq!(readable(AT, AT + 60, TimeKind::Past, zone), "1 minute ago");
            assert_eq!(
                readable(AT, AT + 3599, TimeKind::Past, zone),
                "59 minutes ago"
            );
        }
    }

    #[test]
    fn older_past_is_a_date_in_utc_on_the_server() {
        assert_eq!(
            readable(AT, AT + 3600, TimeKind::Past, Zone::Utc),
            "1 hour ago"
        );
        assert_eq!(
            readable(AT, AT + 7 * 3600, TimeKind::Past, Zone::Utc),
            "7 hours ago"
        );
        assert_eq!(
            readable(AT, AT + 86_400, TimeKind::Past, Zone::Utc),
            "5 Dec 2026, 01:30 UTC"
        );
    }

    #[test]
    fn older_past_is_today_yesterday_or_a_date_in_the_readers_zone() {
        // 02:30 in UTC+1; now 12:30 there.
        let zone = local(3600);
        assert_eq!(
            readable(AT, AT + 10 * 3600, TimeKind::Past, zone),
            "today at 02:30"
        );
        assert_eq!(
            readable(AT, AT + 30 * 3600, TimeKind::Past, zone),
            "yesterday at 02:30"
        );
        assert_eq!(
            readable(AT, AT + 5 * 86_400, TimeKind::Past, zone),
            "5 Dec at 02:30"
        );
        assert_eq!(
            readable(AT, AT + 40 * 86_400, TimeKind::Past, zone),
            "5 Dec 2026 at 02:30",
            "another year"
        );
        // In UTC-5 the same instant was the evening before: two hours
        // later it is still that day there, six hours later the next.
        let west = local(-5 * 3600);
        assert_eq!(
            readable(AT, AT + 2 * 3600, TimeKind::Past, west),
            "today at 20:30"
        );
        assert_eq!(
            readable(AT, AT + 6 * 3600, TimeKind::Past, west),
            "yesterday at 20:30"
        );
    }

    #[test]
    fn deadlines_read_as_a_clock_time() {
        assert_eq!(
            readable(AT, AT - 600, TimeKind::Deadline, Zone::Utc),
            "01:30 UTC"
        );
        assert_eq!(
            readable(AT, AT - 3 * 86_400, TimeKind::Deadline, Zone::Utc),
            "5 Dec 2026, 01:30 UTC"
        );
        let zone = local(3600);
        assert_eq!(readable(AT, AT - 600, TimeKind::Deadline, zone), "02:30");
        assert_eq!(
            readable(AT, AT - 8 * 3600, TimeKind::Deadline, zone),
            "tomorrow at 02:30"
        );
        assert_eq!(
            readable(AT, AT - 3 * 86_400, TimeKind::Deadline, zone),
            "5 Dec at 02:30"
        );
    }

    #[test]
    fn a_daylight_saving_change_between_then_and_now_uses_each_ones_offset() {
        // Shown in UTC+1 (winter), read in UTC+2 (summer) a day later.
        let zone = Zone::Local {
            at_offset: 3600,
            now_offset: 7200,
        };
        assert_eq!(
            readable(AT, AT + 86_400, TimeKind::Past, zone),
            "yesterday at 02:30"
        );
    }

    #[test]
    fn the_calendar_is_right_across_centuries() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(machine_readable(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(TimeKind::from_attribute("deadline"), TimeKind::Deadline);
        assert_eq!(TimeKind::from_attribute("nonsense"), TimeKind::Past);
    }

    /// The hand-written digits agree with the `time` crate across the
    /// years 0 to 9999.
    #[cfg(feature = "ssr")]
    #[test]
    fn the_hand_written_form_agrees_with_the_time_crate() {
        let (first, last) = (-62_167_219_200_i64, 253_402_300_799_i64);
        let mut t = first;
        while t < last {
            let general = time::OffsetDateTime::from_unix_timestamp(t).expect("in range");
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                general.year(),
                u8::from(general.month()),
                general.day(),
                general.hour(),
                general.minute(),
                general.second()
            );
            assert_eq!(machine_readable(t), expected, "{t}");
            t += 7_777_777 + t.rem_euclid(86_399);
        }
    }
}
