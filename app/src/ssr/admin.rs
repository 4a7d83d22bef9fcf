//! The admin area. Admins are made on the command line (`server admin
//! grant NAME`), never from the web. Entering the area needs a fresh
//! step-up and is a privilege change: the session moves to a new ID and
//! records the elevation, which lapses with the step-up window (ASVS
//! 7.2.4, 7.5.1). An admin can end all sessions of a user (ASVS 7.4.5).

use crate::ssr::db::{users, Pool};

use crate::shared::{AdminEvent, AdminSession, AdminUserRow, AdminView, AppError, AuditFilter};
use crate::ssr::auth::accounts;
use crate::ssr::context::CurrentUser;
use crate::ssr::context::RequestContext;
use crate::ssr::error::internal;
use crate::ssr::session::AuthState;
use crate::ssr::session::SessionBackend;
use crate::ssr::state::AppState;

pub const PAGE_SIZE: i64 = 50;

/// Grants or revokes admin rights; `false` if there is no such user.
///
/// A change of rights is a change of privilege (review E3): every session
/// of the user ends (a new credential epoch, rows deleted), so the user
/// signs in again under the rights and the `[mfa] require` policy that now
/// apply (an admin without two-step verification is held at enrolment).
pub async fn set_admin(
    db: &Pool,
    cache: &impl users::UserCache,
    username: &str,
    admin: bool,
) -> Result<bool, sqlx::Error> {
    let Some(user_id) = users::id_of_name(db, username.trim()).await? else {
        return Ok(false);
    };
    users::set_admin(db, user_id, admin).await?;
    users::bump_credential_epoch(db, cache, user_id).await?;
    crate::ssr::db::sessions::delete_all_of_user(db, user_id).await?;
    Ok(true)
}

/// Whether the session entered the admin area within the step-up window.
pub fn is_elevated(auth: &AuthState, now: i64, window_secs: u64) -> bool {
    crate::ssr::mfa::step_up::within_window(auth.elevated_at, now, window_secs)
}

/// An admin, whatever the elevation: else `Forbidden` (a visitor gets
/// `Unauthenticated`).
async fn require_admin(ctx: &RequestContext) -> Result<&CurrentUser, AppError> {
    let user = ctx.require_user()?;
    let state = &ctx.state;
    if !accounts::is_admin(&state.db, user.user_id).await? {
        tracing::warn!(
            user_id = user.user_id,
            "admin function refused to a non-admin"
        );
        return Err(AppError::Forbidden);
    }
    // `[mfa] require` is applied at sign-in; a session from before the
    // rights or the policy changed is held to it here too (review E3):
    // with the password alone it never reaches the admin area.
    let required = crate::ssr::mfa::sign_in::mfa_required(state.settings.mfa.require, true);
    if required && !crate::ssr::mfa::factors::is_enrolled(&state.db, user.user_id).await? {
        tracing::warn!(
            user_id = user.user_id,
            "admin area refused: two-step verification is required and off"
        );
        return Err(AppError::Invalid(
            "The admin area needs two-step verification on your account: turn it on under \
             Security first."
                .to_owned(),
        ));
    }
    Ok(user)
}

/// An admin in an elevated session: what every admin action needs.
pub async fn require_elevated_admin(ctx: &RequestContext) -> Result<&CurrentUser, AppError> {
    let user = require_admin(ctx).await?;
    let state = &ctx.state;
    if !is_elevated(
        &user.session.auth,
        state.clock.now(),
        state.settings.mfa.step_up_window_secs,
    ) {
        return Err(AppError::StepUpRequired);
    }
    Ok(user)
}

/// Enters the admin area: an admin with a fresh step-up; the ID rotates.
pub async fn enter(ctx: &RequestContext) -> Result<(), AppError> {
    require_admin(ctx).await?;
    let user = crate::ssr::mfa::step_up::require_step_up(ctx)?;
    let now = ctx.state.clock.now();
    ctx.auth_session()?
        .reauthenticate(&user.session, &ctx.client(), |auth| {
            auth.elevated_at = Some(now)
        })
        .await
        .map_err(internal)?;
    tracing::info!(user_id = user.user_id, "entered the admin area");
    Ok(())
}

/// Ends every session of `user_id` (a new credential epoch, rows deleted).
pub async fn end_sessions_of(ctx: &RequestContext, user_id: i64) -> Result<u64, AppError> {
    let admin = require_elevated_admin(ctx).await?;
    accounts::bump_credential_epoch(&ctx.state, user_id).await?;
    let ended = ctx
        .state
        .sessions
        .delete_all_for_user(user_id)
        .await
        .map_err(internal)?;
    tracing::info!(
        admin_id = admin.user_id,
        user_id,
        ended,
        "admin ended a user's sessions"
    );
    Ok(ended)
}

/// Ends one session of `user_id`, named by its handle (admins in the admin
/// area only).
pub async fn revoke_session(
    ctx: &RequestContext,
    user_id: i64,
    handle: &str,
) -> Result<(), AppError> {
    let _admin = require_elevated_admin(ctx).await?;
    let state = &ctx.state;
    let key = crate::ssr::account::devices::session_named(state, user_id, handle).await?;
    state
        .sessions
        .delete_one_for_user(user_id, &key)
        .await
        .map_err(internal)?;
    Ok(())
}

type EventRow = crate::ssr::db::audit_events::AdminEventRow;

fn admin_event(state: &AppState, row: EventRow) -> AdminEvent {
    let (at, event, outcome, user, ip, user_agent, details) = row;
    let succeeded = outcome == "success";
    let words = crate::ssr::audit::words::describe(&event, succeeded, &details);
    AdminEvent {
        when: at,
        event,
        what: words.what,
        severity: words.severity,
        succeeded,
        user: user.unwrap_or_else(|| "-".to_owned()),
        place: state.place_name_of_event(ip.as_deref(), &details),
        ip: ip.unwrap_or_else(|| "unknown".to_owned()),
        device: crate::ssr::audit::describe_user_agent(user_agent.as_deref()),
        details,
    }
}

/// The audit log for the admin: newest first, at most 50, filtered.
async fn audit_log(
    state: &AppState,
    filter: &AuditFilter,
    only_alerts: bool,
    limit: i64,
) -> Result<Vec<AdminEvent>, AppError> {
    let since = state
        .clock
        .now()
        .saturating_sub(filter.hours.clamp(1, 24 * 3650) * 3600);
    let event = if only_alerts {
        "alert"
    } else {
        filter.event.as_str()
    };
    let rows =
        crate::ssr::db::audit_events::search(&state.db, filter.user.trim(), event, since, limit)
            .await
            .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|row| admin_event(state, row))
        .collect())
}

/// Live sessions of all users, most recently active first (at most 50).
async fn live_sessions(state: &AppState) -> Result<Vec<AdminSession>, AppError> {
    let rows = crate::ssr::db::sessions::live_of_everyone(&state.db, state.clock.now(), 50)
        .await
        .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(
            |(id_hash, user_id, username, user_agent, ip, last)| AdminSession {
                user_id,
                username,
                handle: crate::ssr::account::devices::handle_of(&state.audit_key, &id_hash),
                device: crate::ssr::audit::describe_user_agent(user_agent.as_deref()),
                place: state.place_name(ip.as_deref()),
                ip: ip.unwrap_or_else(|| "unknown".to_owned()),
                last_active: last,
            },
        )
        .collect())
}

/// The admin page's data: `None` fields mean "not allowed to see".
pub async fn view(
    state: &AppState,
    user: &CurrentUser,
    search: &str,
    page: i64,
    filter: AuditFilter,
) -> Result<AdminView, AppError> {
    let now = state.clock.now();
    let mut view = AdminView {
        is_admin: accounts::is_admin(&state.db, user.user_id).await?,
        ..AdminView::default()
    };
    view.mfa_enabled = crate::ssr::mfa::factors::is_enrolled(&state.db, user.user_id).await?;
    view.step_up_fresh_for_ms = crate::ssr::mfa::step_up::step_up_fresh_for_ms(
        &user.session.auth,
        now,
        state.settings.mfa.step_up_window_secs,
    );
    view.elevated = view.is_admin
        && is_elevated(
            &user.session.auth,
            now,
            state.settings.mfa.step_up_window_secs,
        );
    if !view.elevated {
        return Ok(view);
    }
    let search = search.trim();
    // LIKE with the wildcards in the search escaped: a search is text.
    let pattern = format!(
        "%{}%",
        search
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    // Clamped like the activity page's: a huge number would overflow the
    // offset (a 500 from input).
    let page = page.clamp(1, 10_000);
    let rows = crate::ssr::db::users::admin_list(
        &state.db,
        &pattern,
        now,
        PAGE_SIZE + 1,
        (page - 1) * PAGE_SIZE,
    )
    .await
    .map_err(internal)?;
    view.has_next = rows.len() as i64 > PAGE_SIZE;
    view.users = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(|(id, username, last, admin, mfa, sessions)| AdminUserRow {
            id,
            username,
            // From the audit log (no write per sign-in for it): within
            // `[audit] retention_days`.
            last_sign_in: last,
            is_admin: admin == 1,
            mfa_enabled: mfa == 1,
            active_sessions: sessions,
        })
        .collect();
    view.page = page;
    view.search = search.to_owned();
    let filter = AuditFilter {
        hours: if filter.hours <= 0 { 24 } else { filter.hours },
        ..filter
    };
    view.alerts = audit_log(
        state,
        &AuditFilter {
            hours: 24 * 7,
            ..AuditFilter::default()
        },
        true,
        20,
    )
    .await?;
    view.sessions = live_sessions(state).await?;
    (view.live_sessions, view.bound_sessions) =
        crate::ssr::db::sessions::bound_share(&state.db, now)
            .await
            .map_err(internal)?;
    view.events = audit_log(state, &filter, false, 50).await?;
    view.filter = filter;
    view.event_names = crate::ssr::audit::Event::ALL
        .iter()
        .map(|e| {
            (
                e.name().to_owned(),
                crate::ssr::audit::Event::label(e.name()).to_owned(),
            )
        })
        .collect();
    Ok(view)
}
