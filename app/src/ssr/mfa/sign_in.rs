//! Signing in with two-step verification on: the password leads to a
//! pending sign-in that grants nothing (`PendingSignIn`), and a right code
//! completes it on a new session ID (ASVS 7.2.4). Also who must have MFA
//! (`[mfa] require`) and what a session held for enrolment may reach.

use crate::shared::{AppError, SecondFactorMethod};
use crate::ssr::audit::Event;
use crate::ssr::auth::accounts;
use crate::ssr::context::RequestContext;
use crate::ssr::error::internal;
use crate::ssr::mfa::factors::TypedFactor;
use crate::ssr::mfa::settings::MfaRequirement;
use crate::ssr::mfa::step_up::audit_factor;
use crate::ssr::session::PendingSignIn;
use crate::ssr::state::AppState;

/// After a correct password: a user with MFA on gets a pending sign-in and
/// is sent to the code page; anyone else is signed in. Returns where to go.
pub async fn after_password(
    ctx: &RequestContext,
    user: &accounts::UserRecord,
    next: String,
) -> Result<String, AppError> {
    let auth = ctx.auth_session()?;
    if user.mfa_enabled {
        let pending = PendingSignIn {
            user_id: user.id,
            credential_epoch: user.credential_epoch,
            started_at: ctx.state.clock.now(),
            wrong_codes: 0,
            next,
            attempt_id: Some(crate::ssr::session::auth::new_sign_in_id()),
        };
        auth.begin_second_factor(&pending, &ctx.client())
            .await
            .map_err(internal)?;
        return Ok("/login/verify".to_owned());
    }
    auth.log_in(user.id, user.credential_epoch, &["pwd"], &ctx.client())
        .await
        .map_err(internal)?;
    if mfa_required(ctx.state.settings.mfa.require, user.is_admin) {
        // The password was just proven: that is the step-up the enrolment
        // needs. Until MFA is on, the session reaches nothing else.
        let now = ctx.state.clock.now();
        auth.mark_enrolment_required(now).await.map_err(internal)?;
        return Ok(ENROLMENT_PAGE.to_owned());
    }
    Ok(next)
}

/// Where a user who must turn MFA on is held.
pub const ENROLMENT_PAGE: &str = "/account/security";

/// The endpoints a session that must enrol may reach besides its pages
/// (`page_data::PAGES` marks those): the enrolment, the step-up it needs
/// when the password's credit has lapsed (with the password: such a user
/// has no second factor yet), the countdown's status and extend, sign-out.
pub const ENROLMENT_ENDPOINTS: &[&str] = &[
    "/api/step_up",
    "/api/mfa_begin",
    "/api/mfa_confirm",
    "/api/mfa_cancel",
    "/api/recovery_codes_saved",
    "/api/session_status",
    "/api/extend_session",
    "/api/logout",
];

/// Whether `[mfa] require` covers a user.
pub fn mfa_required(requirement: MfaRequirement, is_admin: bool) -> bool {
    match requirement {
        MfaRequirement::None => false,
        MfaRequirement::All => true,
        MfaRequirement::Admins => is_admin,
    }
}

/// `mfa_required`, reading the user's admin flag.
pub async fn must_have_mfa(state: &AppState, user_id: i64) -> Result<bool, AppError> {
    let is_admin = accounts::is_admin(&state.db, user_id).await?;
    Ok(mfa_required(state.settings.mfa.require, is_admin))
}

/// The code page's form: a right code completes the sign-in on a new ID.
/// Wrong codes count per sign-in (`max_codes_per_sign_in`, then the
/// sign-in ends) and per account (`factors::verify`).
pub async fn complete_sign_in(
    ctx: &RequestContext,
    method: SecondFactorMethod,
    code: &str,
) -> Result<(String, Option<i64>), AppError> {
    let state = &ctx.state;
    let auth = ctx.auth_session()?;
    let Some(mut pending) = auth.pending_sign_in().await.map_err(internal)? else {
        return Err(AppError::SignInExpired);
    };
    let now = state.clock.now();
    let timeout = i64::try_from(state.settings.mfa.pending_timeout_secs).unwrap_or(i64::MAX);
    if now.saturating_sub(pending.started_at) >= timeout {
        auth.log_out().await.map_err(internal)?;
        return Err(AppError::SignInExpired);
    }
    // ASVS 6.3.1: at most `max_codes_per_sign_in` codes per pending
    // sign-in, counted atomically in the database (the session's own count
    // is a snapshot that parallel requests all read alike, review E7).
    // Past the limit the sign-in is over.
    if let Some(attempt_id) = &pending.attempt_id {
        let key = format!("pending-sign-in:{attempt_id}");
        let counted = crate::ssr::auth::throttle::reserve_one(
            &state.db,
            &key,
            state.settings.mfa.max_codes_per_sign_in,
            state.settings.mfa.pending_timeout_secs,
            crate::ssr::auth::throttle::AttemptTime::of(state.clock.as_ref()),
        )
        .await
        .map_err(internal)?;
        // The attempt is never given back: a right code ends this pending
        // sign-in, and its id is never used again.
        if counted.is_err() {
            tracing::info!(user_id = pending.user_id, "codes per sign-in used up");
            auth.log_out().await.map_err(internal)?;
            return Err(AppError::SignInExpired);
        }
    }
    let typed = TypedFactor::of(method, code);
    match super::step_up::verify_audited(ctx, pending.user_id, typed).await? {
        Some(proof) => {
            // The password may have changed (or the account gone) since it
            // was checked.
            let epoch = pending.credential_epoch;
            if accounts::credential_epoch(state, pending.user_id).await? != Some(epoch) {
                auth.log_out().await.map_err(internal)?;
                return Err(AppError::SignInExpired);
            }
            auth.log_in(
                pending.user_id,
                epoch,
                &["pwd", proof.method()],
                &ctx.client(),
            )
            .await
            .map_err(internal)?;
            tracing::info!(
                user_id = pending.user_id,
                method = proof.method(),
                "signed in with a second factor"
            );
            audit_factor(ctx, Event::SecondFactor, pending.user_id, Ok(proof)).await;
            // The sign-in is complete: recorded as one, with the rules that
            // look at sign-ins (the password step was `password_verified`).
            ctx.audit(
                Event::SignIn,
                crate::ssr::audit::Outcome::Success,
                Some(pending.user_id),
                None,
                serde_json::json!({ "method": ["pwd", proof.method()] }),
            )
            .await;
            Ok((pending.next, proof.codes_left()))
        }
        None => {
            pending.wrong_codes += 1;
            tracing::info!(user_id = pending.user_id, "wrong second-factor code");
            audit_factor(ctx, Event::SecondFactor, pending.user_id, Err(method)).await;
            if pending.wrong_codes >= state.settings.mfa.max_codes_per_sign_in {
                auth.log_out().await.map_err(internal)?;
                return Err(AppError::SignInExpired);
            }
            auth.update_pending_sign_in(&pending)
                .await
                .map_err(internal)?;
            Err(AppError::InvalidCode)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_must_have_mfa() {
        assert!(!mfa_required(MfaRequirement::None, true));
        assert!(mfa_required(MfaRequirement::Admins, true));
        assert!(!mfa_required(MfaRequirement::Admins, false));
        assert!(mfa_required(MfaRequirement::All, false));
    }
}
