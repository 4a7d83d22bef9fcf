//! The types of `api::devices`'s server functions, shared with the pages
//! and the core (`crate::shared`).

/// `/account/sessions`, as rendered on the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionsView {
    pub sessions: Vec<SessionItem>,
    pub mfa_enabled: bool,
    pub has_passkey: bool,
    pub step_up_fresh_for_ms: i64,
}

/// One live session. `handle` names it in forms: a keyed hash, neither the
/// session ID nor its storage key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionItem {
    pub handle: String,
    pub device: String,
    pub ip_first: String,
    pub ip_last: String,
    /// "London, GB" beside each address, when `[geoip]` knows it (issue 25).
    pub place_first: Option<String>,
    pub place_last: Option<String>,
    /// Unix seconds.
    pub started: i64,
    pub last_active: i64,
    pub this_device: bool,
    /// Bound to its device's key (DBSC, issue 26): its cookie alone,
    /// copied elsewhere, does not sign anyone in.
    pub device_bound: bool,
}

/// `/account/activity`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityView {
    pub items: Vec<ActivityItem>,
    pub page: i64,
    pub has_next: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityItem {
    /// Unix seconds.
    pub when: i64,
    /// What happened, in words (`ssr::audit::words`).
    pub what: String,
    /// An alert's severity ("info", "warning", "high").
    pub severity: Option<String>,
    pub succeeded: bool,
    pub device: String,
    pub ip: String,
    /// "London, GB", when known (issue 25).
    pub place: Option<String>,
}
