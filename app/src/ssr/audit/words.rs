//! Audit events and alerts in words (issue 27): "Confirmed it was you with
//! an authenticator code", "New browser: Firefox 128 on Windows 10". One
//! place for the activity page, `/admin` and the alert webhook's
//! `summary`, so they never say the same event two ways.
//!
//! Built from what is stored: the event's name, its outcome and its
//! details (JSON). Details never hold a secret (`audit::Entry`); a detail
//! this code does not know is left out of the words (the admin still sees
//! the raw record), and an unknown event reads as its name in words.

use serde_json::Value;

use super::alerts::{change, text, Alert};
use super::Event;
use crate::ssr::audit::describe_user_agent;

/// An event as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub what: String,
    /// An alert's severity ("info", "warning", "high").
    pub severity: Option<String>,
}

/// Words for the stored event `event` (its name), `succeeded` or not, with
/// `details` as stored.
pub fn describe(event: &str, succeeded: bool, details: &str) -> Described {
    let details: Value = serde_json::from_str(details).unwrap_or(Value::Null);
    if event == Event::Alert.name() {
        let kind = text(&details, "kind").unwrap_or_default();
        return Described {
            what: alert(kind, details.get("details").unwrap_or(&Value::Null)),
            severity: Some(text(&details, "severity").unwrap_or("warning").to_owned()),
        };
    }
    let what = match succeeded {
        true => success(event, &details),
        false => failure(event, &details),
    };
    Described {
        what,
        severity: None,
    }
}

/// An alert's words from its kind (`Alert::kind`) and its own details.
pub fn alert(kind: &str, details: &Value) -> String {
    match Alert::from_kind(kind) {
        Some(alert) => alert.describe(details),
        None => format!("Security alert: {}", spaced(kind)),
    }
}

fn success(event: &str, details: &Value) -> String {
    let how = method(details);
    match event {
        "registered" => "Created the account".to_owned(),
        "sign_in" => format!("Signed in{}", how.map(with).unwrap_or_default()),
        "password_verified" => "Password accepted; the second step was asked for".to_owned(),
        "second_factor" => format!(
            "Second step of a sign-in{}",
            how.map(with).unwrap_or_default()
        ),
        "recovery_code_used" => match details.get("codes_left").and_then(Value::as_i64) {
            Some(left) => format!("Used a recovery code ({left} left)"),
            None => "Used a recovery code".to_owned(),
        },
        "recovery_codes_renewed" => {
            "Made new recovery codes (the old ones no longer work)".to_owned()
        }
        "step_up" => format!("Confirmed it was you{}", how.map(with).unwrap_or_default()),
        "admin_elevation" => "Entered the admin area".to_owned(),
        "sign_out" => "Signed out".to_owned(),
        "session_revoked" => revoked(details),
        "password_changed" => "Changed the password (other sessions were signed out)".to_owned(),
        "mfa_enabled" => "Turned on two-step verification".to_owned(),
        "mfa_disabled" => "Turned off two-step verification".to_owned(),
        "passkey_added" => "Added a passkey".to_owned(),
        "passkey_removed" => "Removed a passkey".to_owned(),
        "account_deleted" => "Deleted the account".to_owned(),
        "user_agent_changed" => match text(details, "from") {
            Some(from) => format!("Browser updated (was {})", describe_user_agent(Some(from))),
            None => "Browser updated".to_owned(),
        },
        "address_changed" => match text(details, "from") {
            Some(from) => format!("Used from another network (was {from})"),
            None => "Used from another network".to_owned(),
        },
        "session_expired" => match text(details, "reason") {
            Some("absolute") => "Session reached its longest allowed time and ended".to_owned(),
            _ => "Session ended after a time without activity".to_owned(),
        },
        "access_token_issued" => "Created an API access token".to_owned(),
        "device_bound" => {
            "Bound the session to this device's key (device-bound session)".to_owned()
        }
        "device_refreshed" => match details.get("renewals").and_then(Value::as_i64) {
            Some(n) => {
                format!("The device proved itself and renewed its bound cookie ({n} renewals)")
            }
            None => "The device proved itself and renewed its bound cookie".to_owned(),
        },
        "device_binding_ended" => "The session's device binding ended".to_owned(),
        "bound_cookie_missing" => {
            "The session's cookie came without its device's proof: refused".to_owned()
        }
        other => spaced(other),
    }
}

fn failure(event: &str, details: &Value) -> String {
    let reason = text(details, "reason").map(reason);
    let because = reason.map(|r| format!(": {r}")).unwrap_or_default();
    let how = method(details).map(with).unwrap_or_default();
    match event {
        "sign_in" => format!("Sign-in failed{how}{because}"),
        "second_factor" => format!("Second step of a sign-in failed{how}{because}"),
        "step_up" => format!("Could not confirm it was you{how}{because}"),
        "throttled" => match text(details, "reason") {
            Some("too_many_codes") => match details.get("wait_secs").and_then(Value::as_i64) {
                Some(wait) => format!(
                    "Codes refused for {} after too many wrong ones",
                    crate::ssr::clock::describe_duration(wait.max(0) as u64)
                ),
                None => "Codes refused after too many wrong ones".to_owned(),
            },
            _ => "Sign-ins paused after too many failed attempts".to_owned(),
        },
        "passkey_added" => format!("Adding a passkey failed{because}"),
        "access_token_issued" => format!("No API access token was created{because}"),
        "device_bound" => format!("The browser's device binding was refused{because}"),
        "device_binding_ended" => match text(details, "reason") {
            Some("bad_proof") => {
                "A proof that was not this device's: the sign-in was ended".to_owned()
            }
            _ => format!("A device binding ended{because}"),
        },
        "bound_cookie_missing" => {
            "The session's cookie came without its device's proof: refused".to_owned()
        }
        other => format!("{} failed{because}", spaced(other)),
    }
}

/// "by user" or "by admin", one session or several, or a stolen cookie.
fn revoked(details: &Value) -> String {
    if text(details, "reason") == Some("browser_or_system_changed") {
        return format!(
            "Session ended: it was used from another browser or system{}",
            change(details)
        );
    }
    let by_admin = details.get("by_admin").and_then(Value::as_bool) == Some(true);
    let count = details.get("sessions").and_then(Value::as_i64);
    let everywhere_else = details.get("everywhere_else").and_then(Value::as_bool) == Some(true);
    match (by_admin, everywhere_else, count) {
        (true, _, Some(n)) => format!("An administrator ended all sessions ({n})"),
        (true, _, None) => "An administrator ended a session".to_owned(),
        (false, true, Some(n)) => format!("Signed out everywhere else ({n} sessions)"),
        (false, true, None) => "Signed out everywhere else".to_owned(),
        (false, false, _) => "Ended a session from the sessions page".to_owned(),
    }
}

/// How it was proven, from `method` (RFC 8176 `amr` values, one or a list)
/// and `passkey`.
fn method(details: &Value) -> Option<String> {
    let name = |m: &str| match m {
        "pwd" => Some("the password"),
        "otp" => Some("an authenticator code"),
        "rec" => Some("a recovery code"),
        "hwk" | "swk" => Some("a passkey"),
        _ => None,
    };
    let words: Vec<&str> = match details.get("method") {
        Some(Value::String(m)) => name(m).into_iter().collect(),
        Some(Value::Array(ms)) => ms
            .iter()
            .filter_map(Value::as_str)
            .filter_map(name)
            .collect(),
        _ => Vec::new(),
    };
    match (
        words.as_slice(),
        details.get("passkey").and_then(Value::as_bool),
    ) {
        ([], Some(true)) => Some("a passkey".to_owned()),
        ([], _) => None,
        (words, _) => Some(words.join(" and ")),
    }
}

fn with(how: String) -> String {
    format!(" with {how}")
}

/// An error kind (`AppError::kind`) in words.
fn reason(kind: &str) -> &str {
    match kind {
        "invalid_credentials" => "wrong username or password",
        "invalid_code" => "wrong code",
        "throttled" => "too many attempts",
        "too_many_codes" => "too many wrong codes",
        "sign_in_expired" => "took too long",
        "passkey_refused" => "the passkey was not accepted",
        "passkey_expired" => "the passkey prompt expired",
        "step_up_required" => "needed a fresh confirmation",
        "forbidden" => "not allowed",
        "unauthenticated" => "not signed in",
        "invalid" => "the input was refused",
        "mfa_unavailable" => "two-step verification is not available on this server",
        "access_tokens_unavailable" => "access tokens are not set up on this server",
        "bad_proof" => "the proof did not check out",
        "no_open_offer" => "no open offer for that challenge",
        "unknown_identifier" => "an identifier this server does not know",
        "another_sign_in" => "another sign-in's identifier",
        "busy" | "unreachable" | "internal" | "timed_out" => "the server could not finish",
        other => other,
    }
}

/// "user_agent_changed" as "User agent changed".
fn spaced(name: &str) -> String {
    let mut words = name.replace('_', " ");
    if let Some(first) = words.get(..1) {
        let upper = first.to_uppercase();
        words.replace_range(..1, &upper);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what(event: &str, succeeded: bool, details: &str) -> String {
        describe(event, succeeded, details).what
    }

    #[test]
    fn sign_ins_say_how() {
        assert_eq!(
            what("sign_in", true, r#"{"method":"pwd"}"#),
            "Signed in with the password"
        );
        assert_eq!(
            what(
                "sign_in",
                true,
                r#"{"method":["pwd","otp"],"sign_in":"ab"}"#
            ),
            "Signed in with the password and an authenticator code"
        );
        assert_eq!(
            what("sign_in", true, r#"{"method":"swk","passkey":true}"#),
            "Signed in with a passkey"
        );
        assert_eq!(
            what("sign_in", false, r#"{"reason":"invalid_credentials"}"#),
            "Sign-in failed: wrong username or password"
        );
        assert_eq!(
            what(
                "sign_in",
                false,
                r#"{"passkey":true,"reason":"passkey_refused"}"#
            ),
            "Sign-in failed with a passkey: the passkey was not accepted"
        );
    }

    #[test]
    fn step_ups_and_codes() {
        assert_eq!(
            what("step_up", true, r#"{"method":"otp"}"#),
            "Confirmed it was you with an authenticator code"
        );
        assert_eq!(
            what(
                "step_up",
                false,
                r#"{"method":"rec","reason":"invalid_code"}"#
            ),
            "Could not confirm it was you with a recovery code: wrong code"
        );
        assert_eq!(
            what("recovery_code_used", true, r#"{"codes_left":7}"#),
            "Used a recovery code (7 left)"
        );
        assert_eq!(
            what(
                "throttled",
                false,
                r#"{"reason":"too_many_codes","wait_secs":300}"#
            ),
            "Codes refused for 5 minutes after too many wrong ones"
        );
        assert_eq!(
            what("admin_elevation", true, "{}"),
            "Entered the admin area"
        );
    }

    #[test]
    fn alerts_say_what_and_how_bad() {
        let new_device = describe(
            "alert",
            true,
            r#"{"details":{"device":"Firefox 128 on Windows 10"},"kind":"new_device","severity":"info"}"#,
        );
        assert_eq!(new_device.what, "New browser: Firefox 128 on Windows 10");
        assert_eq!(new_device.severity.as_deref(), Some("info"));
        let burst = describe(
            "alert",
            true,
            r#"{"details":{"failures":5,"per":"address"},"kind":"failed_sign_in_burst","severity":"warning"}"#,
        );
        assert_eq!(burst.what, "Many failed sign-ins from one address (5)");
        assert_eq!(
            alert(
                "session_browser_changed",
                &serde_json::json!({"from": "Firefox 128 on Linux", "to": "Chrome 131 on Windows 10"})
            ),
            "A session was used from another browser or system and was ended \
             (Firefox 128 on Linux, then Chrome 131 on Windows 10)"
        );
    }

    #[test]
    fn every_alert_and_event_has_words_of_its_own() {
        for alert_kind in Alert::ALL {
            let words = alert(alert_kind.kind(), &Value::Null);
            assert!(!words.starts_with("Security alert"), "{words}");
            assert!(!words.contains('_'), "{words}");
        }
        for event in Event::ALL {
            // A throttle is only ever a refusal.
            let words = what(event.name(), event != Event::Throttled, "{}");
            assert!(!words.contains('_'), "{words}");
            assert_ne!(words, spaced(event.name()), "{} has words", event.name());
        }
    }

    #[test]
    fn unknown_or_broken_records_still_read() {
        assert_eq!(what("some_new_event", true, "not json"), "Some new event");
        assert_eq!(what("sign_out", true, ""), "Signed out");
        assert_eq!(what("some_new_event", false, "{}"), "Some new event failed");
    }

    #[test]
    fn sessions_ended_say_by_whom() {
        assert_eq!(
            what(
                "session_revoked",
                true,
                r#"{"by":"user","everywhere_else":true,"sessions":2}"#
            ),
            "Signed out everywhere else (2 sessions)"
        );
        assert_eq!(
            what(
                "session_revoked",
                true,
                r#"{"by":3,"by_admin":true,"session":"x"}"#
            ),
            "An administrator ended a session"
        );
        assert_eq!(
            what("session_expired", true, r#"{"reason":"absolute"}"#),
            "Session reached its longest allowed time and ended"
        );
    }
}
