//! The admin area (issue 10). Every function answers 403 to a non-admin.

use crate::shared::*;
use leptos::prelude::*;

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
