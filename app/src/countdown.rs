//! The expiry countdown's arithmetic, as pure functions: no browser, no
//! clock reads. The wasm component feeds it `Date.now()` and the server's
//! answer; the unit tests feed it numbers.
//!
//! Everything is scheduled from the server's deadlines, corrected for the
//! difference between the browser's clock and the server's, never from a
//! polling period: a tab that slept or was throttled in the background
//! computes the right state the moment it runs again.

use crate::api::SessionDeadlines;

/// Why a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The idle timeout: the user can extend.
    Idle,
    /// The absolute timeout: nothing extends it.
    Absolute,
}

impl EndReason {
    /// The `reason` query parameter of the sign-in page.
    pub fn as_query(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Absolute => "absolute",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing to show; warn after `warn_in_ms`.
    Quiet { warn_in_ms: i64 },
    /// Show the dialog: the session ends in `remaining_ms`.
    Warning {
        remaining_ms: i64,
        reason: EndReason,
    },
    /// The session has ended.
    Ended { reason: EndReason },
}

/// How far the server's clock is ahead of the browser's, in ms, from one
/// request: the server read its clock roughly halfway through the round trip.
pub fn clock_offset_ms(server_now_ms: i64, sent_at_ms: i64, received_at_ms: i64) -> i64 {
    let midpoint = sent_at_ms + (received_at_ms - sent_at_ms) / 2;
    server_now_ms - midpoint
}

/// Which deadline comes first, and when (server time, ms).
pub fn next_end(d: &SessionDeadlines) -> (i64, EndReason) {
    // The server never lets the idle deadline pass the absolute one, so
    // equal deadlines mean the absolute timeout is what ends the session.
    if d.absolute_expires_at <= d.idle_expires_at {
        (d.absolute_expires_at * 1000, EndReason::Absolute)
    } else {
        (d.idle_expires_at * 1000, EndReason::Idle)
    }
}

/// The state at browser time `browser_now_ms`.
pub fn phase(d: &SessionDeadlines, offset_ms: i64, browser_now_ms: i64) -> Phase {
    let server_now = browser_now_ms + offset_ms;
    let (ends_at, reason) = next_end(d);
    let remaining_ms = ends_at - server_now;
    let warn_ms = d.warn_before_secs * 1000;
    if remaining_ms <= 0 {
        Phase::Ended { reason }
    } else if remaining_ms <= warn_ms {
        Phase::Warning {
            remaining_ms,
            reason,
        }
    } else {
        Phase::Quiet {
            warn_in_ms: remaining_ms - warn_ms,
        }
    }
}

/// "1:59": minutes and seconds left, rounded up so that "0:00" only shows
/// when the time is really up.
pub fn format_remaining(remaining_ms: i64) -> String {
    let secs = (remaining_ms.max(0) + 999) / 1000;
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// "17:42" from local hours and minutes.
pub fn format_clock(hours: u32, minutes: u32) -> String {
    format!("{hours:02}:{minutes:02}")
}

/// What the dialog says.
pub fn warning_text(remaining_ms: i64, reason: EndReason, ends_at_local: &str) -> String {
    match reason {
        EndReason::Idle => format!(
            "Your session will end in {} because of inactivity.",
            format_remaining(remaining_ms)
        ),
        EndReason::Absolute => format!(
            "Your session reaches its maximum length and will end in {}. You will have to sign in again at {ends_at_local}.",
            format_remaining(remaining_ms)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadlines(idle: i64, absolute: i64) -> SessionDeadlines {
        SessionDeadlines {
            server_now_ms: 0,
            idle_expires_at: idle,
            absolute_expires_at: absolute,
            warn_before_secs: 120,
        }
    }

    #[test]
    fn quiet_until_the_warning_time_then_warning_then_ended() {
        let d = deadlines(1800, 28_800);
        assert_eq!(
            phase(&d, 0, 0),
            Phase::Quiet {
                warn_in_ms: 1_680_000
            }
        );
        assert_eq!(
            phase(&d, 0, 1_680_000),
            Phase::Warning {
                remaining_ms: 120_000,
                reason: EndReason::Idle
            }
        );
        assert_eq!(
            phase(&d, 0, 1_800_000),
            Phase::Ended {
                reason: EndReason::Idle
            }
        );
    }

    #[test]
    fn a_browser_clock_an_hour_fast_is_corrected() {
        let d = deadlines(1800, 28_800);
        let browser_ahead = 3_600_000;
        let offset = clock_offset_ms(0, browser_ahead - 100, browser_ahead + 100);
        assert_eq!(offset, -browser_ahead);
        assert_eq!(
            phase(&d, offset, browser_ahead),
            Phase::Quiet {
                warn_in_ms: 1_680_000
            }
        );
    }

    #[test]
    fn the_offset_assumes_the_server_answered_mid_round_trip() {
        assert_eq!(clock_offset_ms(10_500, 10_000, 11_000), 0);
        assert_eq!(clock_offset_ms(12_500, 10_000, 11_000), 2_000);
    }

    #[test]
    fn the_absolute_deadline_wins_when_it_comes_first_or_together() {
        let d = deadlines(1000, 1000);
        assert_eq!(next_end(&d), (1_000_000, EndReason::Absolute));
        assert_eq!(
            phase(&d, 0, 900_000),
            Phase::Warning {
                remaining_ms: 100_000,
                reason: EndReason::Absolute
            }
        );
        assert_eq!(next_end(&deadlines(999, 1000)).1, EndReason::Idle);
    }

    #[test]
    fn remaining_time_rounds_up_to_whole_seconds() {
        assert_eq!(format_remaining(119_001), "2:00");
        assert_eq!(format_remaining(119_000), "1:59");
        assert_eq!(format_remaining(1), "0:01");
        assert_eq!(format_remaining(0), "0:00");
        assert_eq!(format_remaining(-5), "0:00");
        assert_eq!(format_remaining(3_600_000), "60:00");
    }

    #[test]
    fn the_dialog_text_names_the_reason() {
        assert_eq!(
            warning_text(119_000, EndReason::Idle, "17:42"),
            "Your session will end in 1:59 because of inactivity."
        );
        let absolute = warning_text(60_000, EndReason::Absolute, &format_clock(17, 42));
        assert!(absolute.contains("at 17:42"), "{absolute}");
        assert_eq!(format_clock(7, 5), "07:05");
    }
}

/// What tabs tell each other over the `BroadcastChannel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabMessage {
    /// A tab learned new deadlines (activity, or Stay signed in).
    Deadlines(SessionDeadlines),
    /// A tab signed out: every tab goes to the sign-in page.
    SignedOut,
}

impl TabMessage {
    /// The message as name/value pairs. Tabs exchange them as a URL query
    /// string that the browser encodes and decodes (`URLSearchParams`), so
    /// the Wasm bundle carries no JSON serialiser for them (issue 9's
    /// budget: -3 KB brotli with the tab envelope and the drafts).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        match self {
            TabMessage::SignedOut => vec![("kind", "signed_out".to_owned())],
            TabMessage::Deadlines(d) => vec![
                ("kind", "deadlines".to_owned()),
                ("server_now_ms", d.server_now_ms.to_string()),
                ("idle_expires_at", d.idle_expires_at.to_string()),
                ("absolute_expires_at", d.absolute_expires_at.to_string()),
                ("warn_before_secs", d.warn_before_secs.to_string()),
            ],
        }
    }

    /// The message in name/value pairs, or `None` if they are not one.
    pub fn from_pairs(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let number = |name: &str| get(name)?.parse::<i64>().ok();
        match get("kind")?.as_str() {
            "signed_out" => Some(TabMessage::SignedOut),
            "deadlines" => Some(TabMessage::Deadlines(SessionDeadlines {
                server_now_ms: number("server_now_ms")?,
                idle_expires_at: number("idle_expires_at")?,
                absolute_expires_at: number("absolute_expires_at")?,
                warn_before_secs: number("warn_before_secs")?,
            })),
            _ => None,
        }
    }
}

/// Where the browser goes when the session has ended.
pub fn sign_in_url(current_path: &str, reason: Option<EndReason>) -> String {
    let reason = reason.map(EndReason::as_query).unwrap_or("ended");
    format!(
        "/login?next={}&reason={reason}",
        crate::urls::percent_encode(current_path)
    )
}

#[cfg(test)]
mod tab_tests {
    use super::*;

    #[test]
    fn tab_messages_round_trip() {
        let d = SessionDeadlines {
            server_now_ms: 1,
            idle_expires_at: 2,
            absolute_expires_at: -3,
            warn_before_secs: 4,
        };
        for m in [TabMessage::Deadlines(d), TabMessage::SignedOut] {
            let pairs = m.to_pairs();
            let get = |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(TabMessage::from_pairs(get), Some(m));
        }
        let other = |name: &str| (name == "kind").then(|| "other".to_owned());
        assert_eq!(TabMessage::from_pairs(other), None);
        let broken = |name: &str| match name {
            "kind" => Some("deadlines".to_owned()),
            _ => Some("soon".to_owned()),
        };
        assert_eq!(TabMessage::from_pairs(broken), None);
    }

    #[test]
    fn the_sign_in_url_keeps_the_page_and_says_why() {
        assert_eq!(
            sign_in_url("/account?tab=a b", Some(EndReason::Idle)),
            "/login?next=/account%3Ftab%3Da%20b&reason=idle"
        );
        assert_eq!(
            sign_in_url("/account", None),
            "/login?next=/account&reason=ended"
        );
    }
}
