//! The user's sessions and devices, and their account activity (issue 12;
//! ASVS 7.5.2: users can see and end their sessions).

use leptos::prelude::*;

use super::AppError;

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
    pub started: String,
    pub last_active: String,
    pub this_device: bool,
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
    pub when: String,
    pub what: String,
    pub succeeded: bool,
    pub device: String,
    pub ip: String,
}

/// `POST /api/session_revoke` with `handle`: ends one of the user's other
/// sessions; it is refused on its very next request.
#[server(endpoint = "session_revoke")]
pub async fn session_revoke(handle: String) -> Result<(), AppError> {
    use crate::ssr::account::devices;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    devices::revoke(&ctx, &handle).await?;
    leptos_axum::redirect("/account/sessions?ended=1");
    Ok(())
}

/// `POST /api/sessions_end_others`: "Sign out everywhere else"; needs a
/// recent step-up.
#[server(endpoint = "sessions_end_others")]
pub async fn sessions_end_others() -> Result<(), AppError> {
    use crate::ssr::account::devices;
    use crate::ssr::context::RequestContext;
    let ctx = RequestContext::get()?;
    let ended = devices::end_others(&ctx).await?;
    leptos_axum::redirect(&format!("/account/sessions?ended={ended}"));
    Ok(())
}
