//! The user's sessions and devices (issue 12; ASVS 7.5.2): list them,
//! end one, end all but this one. And the user's own activity, read from
//! the audit log.
//!
//! Sessions are named in pages and forms by a handle: a keyed hash of the
//! storage key, so the page never shows what would find a session row.

use crate::api::{ActivityItem, ActivityView, AppError, SessionItem, SessionsView};
use crate::ssr::audit::{self, Event, Outcome};
use crate::ssr::error::internal;
use crate::ssr::mfa::{factors, flows, passkeys};
use crate::ssr::session::cache::StorageKey;
use crate::ssr::session::SessionBackend;
use crate::ssr::state::AppState;
use crate::ssr::web::{format_time, CurrentUser, RequestContext};

/// How the browser of a request compares with the one its session
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserAgentCheck {
    /// The same, or nothing recorded to compare with.
    Same,
    /// Same browser family and system, another version: browsers update
    /// themselves. Noted, not fatal.
    Updated,
    /// Another browser family or system: the cookie is being used
    /// elsewhere. The session is revoked as stolen (OWASP Session
    /// Management Cheat Sheet, "Binding the Session ID to Other User
    /// Properties").
    Changed { from: String, to: String },
}

/// Compares a request's user agent with the session's. Plain string
/// equality first: the parser only runs when they differ.
pub fn compare_user_agents(recorded: Option<&str>, now: Option<&str>) -> UserAgentCheck {
    let Some(recorded) = recorded else {
        return UserAgentCheck::Same;
    };
    if now == Some(recorded) {
        return UserAgentCheck::Same;
    }
    let parser = woothee::parser::Parser::new();
    let family = |ua: Option<&str>| {
        ua.and_then(|ua| parser.parse(ua))
            .map(|p| (p.name.to_owned(), p.os.to_owned()))
            .unwrap_or_else(|| ("UNKNOWN".to_owned(), "UNKNOWN".to_owned()))
    };
    if family(Some(recorded)) == family(now) {
        UserAgentCheck::Updated
    } else {
        UserAgentCheck::Changed {
            from: audit::describe_user_agent(Some(recorded)),
            to: audit::describe_user_agent(now),
        }
    }
}

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
            ip_first: row.ip_first.unwrap_or_else(unknown),
            ip_last: row.ip_last.unwrap_or_else(unknown),
            started: format_time(row.created_at),
            last_active: format_time(row.last_seen_at),
            this_device: current.is_some_and(|key| key[..] == row.id_hash[..]),
        })
        .collect();
    let now = state.clock.now();
    Ok(SessionsView {
        sessions,
        mfa_enabled: factors::is_enrolled(&state.db, user.user_id).await?,
        has_passkey: passkeys::count(&state.db, user.user_id).await? > 0,
        step_up_fresh_for_ms: flows::step_up_fresh_for_ms(
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
    let user = ctx.require_user()?;
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
    let user = flows::require_step_up(ctx)?;
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
            .map(|row| ActivityItem {
                when: format_time(row.at),
                what: Event::describe(&row.event).to_owned(),
                succeeded: row.outcome == "success",
                device: audit::describe_user_agent(row.user_agent.as_deref()),
                ip: row.ip.unwrap_or_else(|| "unknown".to_owned()),
            })
            .collect(),
        page,
        has_next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_130: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like \
                              Gecko) Chrome/130.0.0.0 Safari/537.36";
    const CHROME_131: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like \
                              Gecko) Chrome/131.0.0.0 Safari/537.36";
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                                  (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    #[test]
    fn a_version_change_is_an_update_and_a_family_or_system_change_is_not() {
        assert_eq!(
            compare_user_agents(Some(CHROME_130), Some(CHROME_130)),
            UserAgentCheck::Same
        );
        assert_eq!(
            compare_user_agents(None, Some(FIREFOX)),
            UserAgentCheck::Same
        );
        assert_eq!(
            compare_user_agents(Some(CHROME_130), Some(CHROME_131)),
            UserAgentCheck::Updated
        );
        assert!(matches!(
            compare_user_agents(Some(CHROME_131), Some(FIREFOX)),
            UserAgentCheck::Changed { .. }
        ));
        assert!(matches!(
            compare_user_agents(Some(CHROME_131), Some(CHROME_WINDOWS)),
            UserAgentCheck::Changed { .. }
        ));
        assert!(matches!(
            compare_user_agents(Some(CHROME_131), None),
            UserAgentCheck::Changed { .. }
        ));
    }

    #[test]
    fn handles_are_keyed_and_do_not_show_the_storage_key() {
        let id_hash = [7u8; 32];
        let handle = handle_of(&[1; 32], &id_hash);
        assert_eq!(handle.len(), 24);
        assert_ne!(handle, handle_of(&[2; 32], &id_hash));
        assert!(!handle.contains("0707"));
    }
}
