//! The admin area (issue 10). Every function answers 403 to a non-admin.

use leptos::prelude::*;

use super::AppError;

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

/// `POST /api/admin_enter`: an admin with a fresh step-up enters the
/// admin area; the session ID rotates.
#[server(endpoint = "admin_enter")]
pub async fn admin_enter() -> Result<(), AppError> {
    use crate::ssr::admin;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let result = admin::enter(&ctx).await;
    ctx.audit_result(
        crate::ssr::audit::Event::AdminElevation,
        None,
        &result,
        serde_json::json!({}),
    )
    .await;
    result?;
    leptos_axum::redirect("/admin");
    Ok(())
}

/// `POST /api/admin_revoke_session` with `user_id` and `handle` (from the
/// admin page's session list): ends that one session.
#[server(endpoint = "admin_revoke_session")]
pub async fn admin_revoke_session(user_id: i64, handle: String) -> Result<(), AppError> {
    use crate::ssr::admin;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let result = admin::revoke_session(&ctx, user_id, &handle).await;
    let by = ctx.current_user().map(|u| u.user_id);
    ctx.audit_result(
        crate::ssr::audit::Event::SessionRevoked,
        Some(user_id),
        &result,
        serde_json::json!({ "by": by, "by_admin": true, "session": handle }),
    )
    .await;
    result?;
    leptos_axum::redirect("/admin?ended=1");
    Ok(())
}

/// `POST /api/admin_end_sessions` with `user_id`: ends all of that user's
/// sessions (ASVS 7.4.5).
#[server(endpoint = "admin_end_sessions")]
pub async fn admin_end_sessions(user_id: i64) -> Result<(), AppError> {
    use crate::ssr::admin;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let result = admin::end_sessions_of(&ctx, user_id).await;
    // Recorded against the user whose sessions ended, naming who did it.
    let by = ctx.current_user().map(|u| u.user_id);
    let ended_count = result.as_ref().ok().copied();
    ctx.audit_result(
        crate::ssr::audit::Event::SessionRevoked,
        Some(user_id),
        &result,
        serde_json::json!({ "by": by, "by_admin": true, "sessions": ended_count }),
    )
    .await;
    let ended = result?;
    leptos_axum::redirect(&format!("/admin?ended={ended}"));
    Ok(())
}
