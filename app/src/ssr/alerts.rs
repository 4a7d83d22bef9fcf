//! Alerts (issue 12): abnormal behaviour worth a person's attention. Each
//! is an audit event (`alert`, with its kind and severity in the details),
//! and a `warn` log line for whoever watches the logs.
//!
//! Raised for: a burst of failed sign-ins (a throttle engaging), a sign-in
//! from a browser and system the account has not used before, a session
//! whose browser or system changed (revoked as stolen), a sign-in that
//! succeeds right after many failures.

use serde_json::{json, Value};

use crate::ssr::audit::{self, Event, Outcome};
use crate::ssr::session::ClientInfo;
use crate::ssr::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// Failed sign-ins hit a throttle (one account, or one address).
    FailedSignInBurst,
    /// A sign-in from a browser and system not seen for the account.
    NewDevice,
    /// A session presented another browser or system: revoked.
    SessionBrowserChanged,
    /// A sign-in succeeded after several failures for the account.
    SuccessAfterFailures,
}

impl Alert {
    pub fn kind(self) -> &'static str {
        match self {
            Alert::FailedSignInBurst => "failed_sign_in_burst",
            Alert::NewDevice => "new_device",
            Alert::SessionBrowserChanged => "session_browser_changed",
            Alert::SuccessAfterFailures => "success_after_failures",
        }
    }

    pub fn severity(self) -> &'static str {
        match self {
            Alert::NewDevice => "info",
            Alert::FailedSignInBurst | Alert::SuccessAfterFailures => "warning",
            Alert::SessionBrowserChanged => "high",
        }
    }
}

/// Records `alert` (audit event + `warn` log). Never fails the caller.
pub async fn raise(
    state: &AppState,
    alert: Alert,
    user_id: Option<i64>,
    client: &ClientInfo,
    session_hash: Option<[u8; 32]>,
    details: Value,
) {
    tracing::warn!(
        alert = alert.kind(),
        severity = alert.severity(),
        user_id,
        ip = client.ip.as_deref().unwrap_or("unknown"),
        "alert"
    );
    let entry = audit::Entry {
        event: Event::Alert,
        outcome: Outcome::Success,
        user_id,
        username: None,
        session_hash,
        client: client.clone(),
        details: json!({ "kind": alert.kind(), "severity": alert.severity(), "details": details }),
    };
    audit::record(&state.db, state.clock.now(), entry).await;
}
