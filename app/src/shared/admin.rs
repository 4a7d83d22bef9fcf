//! The types of `api::admin`'s server functions, shared with the pages
//! and the core (`crate::shared`).

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminView {
    pub is_admin: bool,
    /// What the step-up dialog asks for (a code, or the password).
    pub mfa_enabled: bool,
    /// How long the current step-up still holds, ms.
    pub step_up_fresh_for_ms: i64,
    /// Entered within the step-up window (the list is shown only then).
    pub elevated: bool,
    pub users: Vec<AdminUserRow>,
    pub page: i64,
    pub has_next: bool,
    pub search: String,
    /// The latest alerts (issue 12).
    pub alerts: Vec<AdminEvent>,
    /// Live sessions of all users, most recently active first.
    pub sessions: Vec<AdminSession>,
    /// Live signed-in sessions, and how many are bound to a device (DBSC).
    pub live_sessions: i64,
    pub bound_sessions: i64,
    /// The audit log, filtered by `filter`.
    pub events: Vec<AdminEvent>,
    pub filter: AuditFilter,
    /// The event names the filter offers, with their labels.
    pub event_names: Vec<(String, String)>,
}

/// The audit log's filter on `/admin`: a username, an event type, and how
/// many hours back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    pub user: String,
    pub event: String,
    pub hours: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEvent {
    /// Unix seconds.
    pub when: i64,
    /// The event's machine name (`step_up`), as stored and filtered on.
    pub event: String,
    /// What happened, in words (`ssr::audit::words`).
    pub what: String,
    /// An alert's severity ("info", "warning", "high").
    pub severity: Option<String>,
    pub succeeded: bool,
    pub user: String,
    pub ip: String,
    /// "London, GB", when known (issue 25).
    pub place: Option<String>,
    pub device: String,
    /// The event's details as stored (JSON; never a secret), for the
    /// admin's disclosure.
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub user_id: i64,
    pub username: String,
    pub handle: String,
    pub device: String,
    pub ip: String,
    /// "London, GB", when known (issue 25).
    pub place: Option<String>,
    /// Unix seconds.
    pub last_active: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUserRow {
    pub id: i64,
    pub username: String,
    /// Unix seconds; `None` if not in the audit log (kept for
    /// `[audit] retention_days`).
    pub last_sign_in: Option<i64>,
    pub is_admin: bool,
    pub mfa_enabled: bool,
    pub active_sessions: i64,
}
