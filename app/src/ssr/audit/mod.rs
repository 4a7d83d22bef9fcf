//! The audit log (issue 12): every authentication event, with who, from
//! where, and how it ended (ASVS 16.3.1), without the session token in
//! clear (16.2.5): sessions appear only as a keyed hash.
//!
//! A failed audit write never fails the request: it is logged as an error
//! and the user gets their answer.

pub mod alerts;
pub mod settings;
pub mod travel;
pub mod webhook;
pub mod words;

use crate::ssr::db::{audit_events, Pool};
use serde_json::Value;

use crate::ssr::session::ClientInfo;

/// What happened. The names are stored as they are here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Registered,
    SignIn,
    /// The password step of a sign-in that asks for a second factor next:
    /// not a sign-in yet (review E6: it no longer counts as a success).
    PasswordVerified,
    SecondFactor,
    RecoveryCodeUsed,
    /// New recovery codes replaced the old ones (review E5).
    RecoveryCodesRenewed,
    StepUp,
    AdminElevation,
    SignOut,
    SessionRevoked,
    PasswordChanged,
    MfaEnabled,
    MfaDisabled,
    PasskeyAdded,
    PasskeyRemoved,
    AccountDeleted,
    Throttled,
    /// The session's browser version changed (an update): noted, not fatal.
    UserAgentChanged,
    /// The session is used from another IP address: noted, not fatal
    /// (phones and laptops move between networks).
    AddressChanged,
    /// The idle or absolute deadline passed; recorded by the clean-up
    /// that deletes the row.
    SessionExpired,
    /// See `crate::ssr::audit::alerts`.
    Alert,
    /// An API access token was minted (issue 14); details name its `jti`.
    AccessTokenIssued,
    /// The browser bound the session to its device (DBSC, issue 26), or a
    /// registration was refused.
    DeviceBound,
    /// The device renewed its bound cookie (the first renewal and every
    /// 50th are written; all are counted in the binding's row).
    DeviceRefreshed,
    /// A device binding ended: a proof that was not the device's (the
    /// sign-in ended with it), or an identifier this session does not hold.
    DeviceBindingEnded,
    /// A bound session's cookie came without a live bound cookie: the
    /// request was answered as a visitor's (at most one event a minute per
    /// sign-in).
    BoundCookieMissing,
}

impl Event {
    /// Every event, in the order `/admin`'s filter offers them.
    pub const ALL: [Event; 26] = [
        Event::SignIn,
        Event::PasswordVerified,
        Event::SecondFactor,
        Event::StepUp,
        Event::AdminElevation,
        Event::SignOut,
        Event::SessionRevoked,
        Event::SessionExpired,
        Event::Alert,
        Event::Throttled,
        Event::Registered,
        Event::PasswordChanged,
        Event::MfaEnabled,
        Event::MfaDisabled,
        Event::RecoveryCodeUsed,
        Event::RecoveryCodesRenewed,
        Event::PasskeyAdded,
        Event::PasskeyRemoved,
        Event::AccountDeleted,
        Event::UserAgentChanged,
        Event::AddressChanged,
        Event::AccessTokenIssued,
        Event::DeviceBound,
        Event::DeviceRefreshed,
        Event::DeviceBindingEnded,
        Event::BoundCookieMissing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::Registered => "registered",
            Event::SignIn => "sign_in",
            Event::PasswordVerified => "password_verified",
            Event::SecondFactor => "second_factor",
            Event::RecoveryCodeUsed => "recovery_code_used",
            Event::RecoveryCodesRenewed => "recovery_codes_renewed",
            Event::StepUp => "step_up",
            Event::AdminElevation => "admin_elevation",
            Event::SignOut => "sign_out",
            Event::SessionRevoked => "session_revoked",
            Event::PasswordChanged => "password_changed",
            Event::MfaEnabled => "mfa_enabled",
            Event::MfaDisabled => "mfa_disabled",
            Event::PasskeyAdded => "passkey_added",
            Event::PasskeyRemoved => "passkey_removed",
            Event::AccountDeleted => "account_deleted",
            Event::Throttled => "throttled",
            Event::UserAgentChanged => "user_agent_changed",
            Event::AddressChanged => "address_changed",
            Event::SessionExpired => "session_expired",
            Event::Alert => "alert",
            Event::AccessTokenIssued => "access_token_issued",
            Event::DeviceBound => "device_bound",
            Event::DeviceRefreshed => "device_refreshed",
            Event::DeviceBindingEnded => "device_binding_ended",
            Event::BoundCookieMissing => "bound_cookie_missing",
        }
    }

    /// A short label for the kind of event (`/admin`'s filter); a single
    /// event's own words, with its details, are `words::describe`.
    pub fn label(name: &str) -> &'static str {
        match name {
            "registered" => "Account created",
            "sign_in" => "Sign-in",
            "password_verified" => "Password accepted, code asked",
            "second_factor" => "Second step of a sign-in",
            "recovery_code_used" => "Recovery code used",
            "recovery_codes_renewed" => "New recovery codes made",
            "step_up" => "Confirmed it was you",
            "admin_elevation" => "Entered the admin area",
            "sign_out" => "Signed out",
            "session_revoked" => "Session ended from another device",
            "password_changed" => "Password changed",
            "mfa_enabled" => "Two-step verification turned on",
            "mfa_disabled" => "Two-step verification turned off",
            "passkey_added" => "Passkey added",
            "passkey_removed" => "Passkey removed",
            "account_deleted" => "Account deleted",
            "throttled" => "Sign-in attempts paused",
            "user_agent_changed" => "Browser updated",
            "address_changed" => "Used from another network",
            "session_expired" => "Session expired",
            "alert" => "Security alert",
            "access_token_issued" => "API access token created",
            "device_bound" => "Session bound to a device",
            "device_refreshed" => "Device proved itself again",
            "device_binding_ended" => "Device binding ended",
            "bound_cookie_missing" => "Session used without its device",
            _ => "Other",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

/// One event to write.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event: Event,
    pub outcome: Outcome,
    pub user_id: Option<i64>,
    /// The username typed, for a failed sign-in (who was targeted).
    pub username: Option<String>,
    pub session_hash: Option<[u8; 32]>,
    pub client: ClientInfo,
    pub details: Value,
}

/// The keyed hash a session appears under in the log: HMAC-SHA256 of the
/// session's storage key (SHA-256 of the ID) under the audit key, so that
/// the clean-up task, which sees only storage keys, can name the sessions
/// it ends. Without the audit key it cannot be linked to the ID or to the
/// storage key (ASVS 16.2.5: no token in the log).
pub fn session_hash(key: &[u8; 32], storage_key: &[u8]) -> [u8; 32] {
    crate::ssr::keyed_hash::hmac_sha256(key, &[b"audit session", storage_key])
}

/// The keyed hash a sign-in appears under in the log's details (`sign_in`,
/// 32 hex digits): the sign-in's random id survives every rotation of the
/// session ID, so it links a sign-in to all its session's later events,
/// including those written right after a rotation, when the new ID does not
/// exist yet (review E5). Keyed like `session_hash`: the id itself (an
/// access token's `sid`) never reaches the log.
pub fn sign_in_hash(key: &[u8; 32], sign_in_id: &str) -> String {
    crate::ssr::keyed_hash::hmac_sha256(key, &[b"audit sign-in", sign_in_id.as_bytes()])[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A key for this process only, when there is no MFA key to derive one
/// from.
pub fn ephemeral_key() -> [u8; 32] {
    rand::random()
}

impl Entry {
    /// The row this entry is written as at `now`, client-supplied text cut
    /// to its column's bound.
    pub fn row(&self, now: i64) -> audit_events::NewEvent {
        audit_events::NewEvent {
            at: now,
            event: self.event.name(),
            outcome: match self.outcome {
                Outcome::Success => "success",
                Outcome::Failure => "failure",
            },
            user_id: self.user_id,
            username: self.username.as_deref().map(|u| bounded(u, 64)),
            session_hash: self.session_hash.map(|h| h.to_vec()),
            ip: self.client.ip.as_deref().map(|ip| bounded(ip, 64)),
            user_agent: self.client.user_agent.as_deref().map(|ua| bounded(ua, 512)),
            details: self.details.to_string(),
        }
    }
}

/// Writes `entry` at `now`; a failure is logged, never returned.
pub async fn record(db: &Pool, now: i64, entry: Entry) {
    if let Err(error) = audit_events::insert(db, &entry.row(now)).await {
        tracing::error!(%error, event = entry.event.name(), "audit event not written");
    }
}

/// Records the signed-in sessions the clean-up found expired (visitors'
/// sessions are not authentication events), a thousand to a statement.
/// The time is the deadline that passed, not the clean-up's.
pub async fn record_expired(
    db: &Pool,
    key: &[u8; 32],
    expired: &[crate::ssr::session::ExpiredSession],
) {
    let events: Vec<audit_events::ExpiredEvent> = expired
        .iter()
        .filter(|session| session.user_id.is_some())
        .map(|session| {
            (
                session.idle_expires_at.min(session.absolute_expires_at),
                session.user_id,
                session_hash(key, &session.id_hash).to_vec(),
                session.ip_last.clone(),
                session.user_agent_last.clone(),
                serde_json::json!({ "reason": session.reason() }).to_string(),
            )
        })
        .collect();
    if let Err(error) = audit_events::insert_expired_sessions(db, &events).await {
        tracing::error!(%error, count = events.len(), "expired sessions not audited");
    }
}

fn bounded(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Whether the client's address was recorded as throttled within the
/// throttle's window (`[login] failure_window_secs`): the first refusal is
/// the news, the next ones are not. An address that cannot be read counts
/// as not recorded.
pub async fn throttled_recently(state: &crate::ssr::state::AppState, client: &ClientInfo) -> bool {
    let Some(ip) = client.ip.as_deref() else {
        return false;
    };
    let window = i64::try_from(state.settings.login.failure_window_secs).unwrap_or(i64::MAX);
    let since = state.clock.now().saturating_sub(window);
    audit_events::throttled_from_since(&state.db, &bounded(ip, 64), since)
        .await
        .unwrap_or(false)
}

/// Deletes up to `batch` events older than `retention_days`; returns how
/// many.
pub async fn delete_expired(
    db: &Pool,
    now: i64,
    retention_days: u64,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    let cutoff = now
        .saturating_sub(i64::try_from(retention_days.saturating_mul(86_400)).unwrap_or(i64::MAX));
    audit_events::delete_before(db, cutoff, batch).await
}

/// A user's own events, newest first.
pub use audit_events::UserEvent;

pub async fn events_of(
    db: &Pool,
    user_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<UserEvent>, sqlx::Error> {
    audit_events::of_user(db, user_id, offset, limit).await
}

/// "Firefox 128 on Linux", or "Unknown browser" (woothee: a user-agent
/// parser with its rules compiled in, no data file).
pub fn describe_user_agent(user_agent: Option<&str>) -> String {
    let parser = woothee::parser::Parser::new();
    let Some(parsed) = user_agent.and_then(|ua| parser.parse(ua)) else {
        return "Unknown browser".to_owned();
    };
    let browser = if parsed.name == "UNKNOWN" {
        "Unknown browser"
    } else {
        parsed.name
    };
    let version = parsed.version.split('.').next().unwrap_or_default();
    let os = if parsed.os == "UNKNOWN" {
        "an unknown system"
    } else {
        parsed.os
    };
    if version.is_empty() || version == "UNKNOWN" {
        format!("{browser} on {os}")
    } else {
        format!("{browser} {version} on {os}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Event::ALL` (the admin's filter, the words' test) lists every
    /// event once: a new variant does not compile here until it is given
    /// a place, and the count then fails until it is listed.
    #[test]
    fn all_lists_every_event_and_alert_once() {
        fn place(event: Event) -> usize {
            match event {
                Event::SignIn => 0,
                Event::PasswordVerified => 1,
                Event::SecondFactor => 2,
                Event::StepUp => 3,
                Event::AdminElevation => 4,
                Event::SignOut => 5,
                Event::SessionRevoked => 6,
                Event::SessionExpired => 7,
                Event::Alert => 8,
                Event::Throttled => 9,
                Event::Registered => 10,
                Event::PasswordChanged => 11,
                Event::MfaEnabled => 12,
                Event::MfaDisabled => 13,
                Event::RecoveryCodeUsed => 14,
                Event::RecoveryCodesRenewed => 15,
                Event::PasskeyAdded => 16,
                Event::PasskeyRemoved => 17,
                Event::AccountDeleted => 18,
                Event::UserAgentChanged => 19,
                Event::AddressChanged => 20,
                Event::AccessTokenIssued => 21,
                Event::DeviceBound => 22,
                Event::DeviceRefreshed => 23,
                Event::DeviceBindingEnded => 24,
                Event::BoundCookieMissing => 25,
            }
        }
        let places: Vec<usize> = Event::ALL.iter().map(|e| place(*e)).collect();
        assert_eq!(places, (0..Event::ALL.len()).collect::<Vec<_>>());
        use alerts::Alert;
        fn alert_place(alert: Alert) -> usize {
            match alert {
                Alert::FailedSignInBurst => 0,
                Alert::NewDevice => 1,
                Alert::SessionBrowserChanged => 2,
                Alert::SuccessAfterFailures => 3,
                Alert::RapidSessions => 4,
                Alert::PasskeyAdded => 5,
                Alert::CodeGuessing => 6,
                Alert::ImpossibleTravel => 7,
            }
        }
        let places: Vec<usize> = Alert::ALL.iter().map(|a| alert_place(*a)).collect();
        assert_eq!(places, (0..Alert::ALL.len()).collect::<Vec<_>>());
        for alert in Alert::ALL {
            assert_eq!(Alert::from_kind(alert.kind()), Some(alert));
        }
    }

    #[test]
    fn session_hashes_are_keyed() {
        let storage_key = [7u8; 32];
        let a = session_hash(&[1; 32], &storage_key);
        assert_eq!(a, session_hash(&[1; 32], &storage_key));
        assert_ne!(
            a,
            session_hash(&[2; 32], &storage_key),
            "another key, another hash"
        );
        assert_ne!(a, session_hash(&[1; 32], &[8u8; 32]));
        assert_ne!(a, storage_key, "never the storage key itself");
    }

    #[test]
    fn user_agents_read_as_browser_and_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(describe_user_agent(Some(chrome)), "Chrome 131 on Linux");
        assert_eq!(describe_user_agent(None), "Unknown browser");
        assert_eq!(describe_user_agent(Some("x")), "Unknown browser");
    }
}
