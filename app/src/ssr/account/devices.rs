//! The user's sessions and devices (issue 12; ASVS 7.5.2): list them,
//! end one, end all but this one. And the user's own activity, read from
//! the audit log.
//!
//! Sessions are named in pages and forms by a handle: a keyed hash of the
//! storage key, so the page never shows what would find a session row.

use crate::shared::{ActivityItem, ActivityView, AppError, SessionItem, SessionsView};
use crate::ssr::audit;
use crate::ssr::audit::Event;
use crate::ssr::audit::Outcome;
use crate::ssr::context::CurrentUser;
use crate::ssr::context::RequestContext;
use crate::ssr::error::internal;
use crate::ssr::mfa::factors;
use crate::ssr::passkeys::credentials;
use crate::ssr::session::cache::StorageKey;
use crate::ssr::session::SessionBackend;
use crate::ssr::state::AppState;

/// Events per page of `/account/activity`.
pub const ACTIVITY_PAGE: i64 = 20;

pub fn handle_of(key: &[u8; 32], id_hash: &[u8]) -> String {
    let digest = crate::ssr::keyed_hash::hmac_sha256(key, &[b"session handle", id_hash]);
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// `/account/sessions`' data; `current` is this request's storage key.
pub async fn sessions_view(
    state: &AppState,
    user: &CurrentUser,
    current: Option<StorageKey>,
) -> Result<SessionsView, AppError> {
    let rows = state
        .sessions
        .live_sessions_of(user.user_id)
        .await
        .map_err(internal)?;
    let unknown = || "unknown".to_owned();
    let sessions = rows
        .into_iter()
        .map(|row| SessionItem {
            handle: handle_of(&state.audit_key, &row.id_hash),
            device: audit::describe_user_agent(row.user_agent_last.as_deref()),
            place_first: state.place_name(row.ip_first.as_deref()),
            place_last: state.place_name(row.ip_last.as_deref()),
            ip_first: row.ip_first.unwrap_or_else(unknown),
            ip_last: row.ip_last.unwrap_or_else(unknown),
            started: row.created_at,
            last_active: row.last_seen_at,
            this_device: current.is_some_and(|key| key[..] == row.id_hash[..]),
            device_bound: row.device_bound == 1,
        })
        .collect();
    let now = state.clock.now();
    Ok(SessionsView {
        sessions,
        mfa_enabled: factors::is_enrolled(&state.db, user.user_id).await?,
        has_passkey: credentials::count(&state.db, user.user_id).await? > 0,
        step_up_fresh_for_ms: crate::ssr::mfa::step_up::step_up_fresh_for_ms(
            &user.session.auth,
            now,
            state.settings.mfa.step_up_window_secs,
        ),
    })
}

/// The storage key of `user_id`'s live session named `handle`; a stale or
/// foreign handle is "already ended" (nothing of another user is found).
pub async fn session_named(
    state: &AppState,
    user_id: i64,
    handle: &str,
) -> Result<StorageKey, AppError> {
    let rows = state
        .sessions
        .live_sessions_of(user_id)
        .await
        .map_err(internal)?;
    let row = rows
        .into_iter()
        .find(|row| handle_of(&state.audit_key, &row.id_hash) == handle)
        .ok_or_else(|| AppError::Invalid("That session has already ended.".to_owned()))?;
    row.id_hash[..].try_into().map_err(internal)
}

/// Ends one of the user's other sessions.
pub async fn revoke(ctx: &RequestContext, handle: &str) -> Result<(), AppError> {
    let user = crate::ssr::mfa::step_up::require_confirmed(ctx)?;
    let state = &ctx.state;
    let key = session_named(state, user.user_id, handle).await?;
    if ctx.auth_session()?.storage_key() == Some(key) {
        return Err(AppError::Invalid(
            "That is the session you are using now: use Sign out instead.".to_owned(),
        ));
    }
    let ended = state
        .sessions
        .delete_one_for_user(user.user_id, &key)
        .await
        .map_err(internal)?;
    if ended {
        let details = serde_json::json!({ "by": "user", "session": handle });
        ctx.audit(
            Event::SessionRevoked,
            Outcome::Success,
            Some(user.user_id),
            None,
            details,
        )
        .await;
    }
    Ok(())
}

/// "Sign out everywhere else" (ASVS 7.5.2), after a step-up.
pub async fn end_others(ctx: &RequestContext) -> Result<u64, AppError> {
    let user = crate::ssr::mfa::step_up::require_step_up(ctx)?;
    let Some(current) = ctx.auth_session()?.storage_key() else {
        return Err(AppError::Unauthenticated);
    };
    let ended = ctx
        .state
        .sessions
        .delete_others_for_user(user.user_id, &current)
        .await
        .map_err(internal)?;
    let details = serde_json::json!({ "by": "user", "everywhere_else": true, "sessions": ended });
    ctx.audit(
        Event::SessionRevoked,
        Outcome::Success,
        Some(user.user_id),
        None,
        details,
    )
    .await;
    Ok(ended)
}

/// "Secure my account" (the impossible-travel notice, issue 25): after a
/// step-up, signs out everywhere else and clears the notice; the password
/// form comes next (its change starts a new credential epoch).
pub async fn secure_account(ctx: &RequestContext) -> Result<u64, AppError> {
    let ended = end_others(ctx).await?;
    let user = ctx.require_user()?;
    crate::ssr::audit::alerts::set_device_notice(&ctx.state, user.user_id, None)
        .await
        .map_err(internal)?;
    Ok(ended)
}

/// `/account/activity`'s page `page` (from 1).
pub async fn activity_view(
    state: &AppState,
    user_id: i64,
    page: i64,
) -> Result<ActivityView, AppError> {
    let page = page.clamp(1, 10_000);
    let mut rows = audit::events_of(
        &state.db,
        user_id,
        (page - 1) * ACTIVITY_PAGE,
        ACTIVITY_PAGE + 1,
    )
    .await
    .map_err(internal)?;
    let has_next = rows.len() as i64 > ACTIVITY_PAGE;
    rows.truncate(ACTIVITY_PAGE as usize);
    Ok(ActivityView {
        items: rows
            .into_iter()
            .map(|row| {
                let succeeded = row.outcome == "success";
                let words = audit::words::describe(&row.event, succeeded, &row.details);
                ActivityItem {
                    when: row.at,
                    what: words.what,
                    severity: words.severity,
                    succeeded,
                    device: audit::describe_user_agent(row.user_agent.as_deref()),
                    place: state.place_name_of_event(row.ip.as_deref(), &row.details),
                    ip: row.ip.unwrap_or_else(|| "unknown".to_owned()),
                }
            })
            .collect(),
        page,
        has_next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_keyed_and_do_not_show_the_storage_key() {
        let id_hash = [7u8; 32];
        let handle = handle_of(&[1; 32], &id_hash);
        assert_eq!(handle.len(), 24);
        assert_ne!(handle, handle_of(&[2; 32], &id_hash));
        assert!(!handle.contains("0707"));
    }
}
