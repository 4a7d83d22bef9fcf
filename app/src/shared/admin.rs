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
    /// The audit log, filtered by `filter`.
    pub events: Vec<AdminEvent>,
    pub filter: AuditFilter,
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
    pub when: String,
    pub event: String,
    pub succeeded: bool,
    pub user: String,
    pub ip: String,
    pub device: String,
    /// The event's details (JSON; never a secret).
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub user_id: i64,
    pub username: String,
    pub handle: String,
    pub device: String,
    pub ip: String,
    pub last_active: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUserRow {
    pub id: i64,
    pub username: String,
    pub last_sign_in: String,
    pub is_admin: bool,
    pub mfa_enabled: bool,
    pub active_sessions: i64,
}
