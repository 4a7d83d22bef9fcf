//! The two-step flows, as the server functions run them: enrolment,
//! completing a sign-in with a code, step-up for sensitive actions, and
//! turning MFA off or renewing recovery codes.
//!
//! Rules (ASVS 5.0):
//! - 7.2.4: every (re-)authentication moves the session to a new ID.
//! - 7.5.1: changing how the user authenticates needs a fresh step-up.
//! - 7.4.3: after a factor changes, the user's other sessions end.
//! - 6.5.1: a TOTP step and a recovery code each work once.

use crate::api::{AppError, SecondFactorMethod};
use crate::ssr::accounts;
use crate::ssr::audit::{Event, Outcome};
use crate::ssr::config::MfaRequirement;
use crate::ssr::error::internal;
use crate::ssr::mfa::factors::{self, TypedFactor};
use crate::ssr::mfa::recovery::{self, RecoveryCode};
use crate::ssr::mfa::totp::TotpSecret;
use crate::ssr::password::Password;
use crate::ssr::session::{
    new_sign_in_id, AuthState, Held, PendingSignIn, SealedInSession, SessionBackend,
};
use crate::ssr::state::AppState;
use crate::ssr::web::{CurrentUser, RequestContext};

/// How long an unconfirmed enrolment stays usable.
const ENROLMENT_TTL_SECS: i64 = 15 * 60;

/// Whether a moment `at` lies within the last `window_secs` (one dated in
/// the future, after a clock moved back, does not count).
pub fn within_window(at: Option<i64>, now: i64, window_secs: u64) -> bool {
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    at.is_some_and(|at| at <= now && now.saturating_sub(at) < window)
}

/// Whether `auth` stepped up within the last `window_secs`.
pub fn step_up_is_fresh(auth: &AuthState, now: i64, window_secs: u64) -> bool {
    within_window(auth.stepped_up_at, now, window_secs)
}

/// How much longer the step-up of `auth` holds, ms (0 if it does not).
pub fn step_up_fresh_for_ms(auth: &AuthState, now: i64, window_secs: u64) -> i64 {
    if !step_up_is_fresh(auth, now, window_secs) {
        return 0;
    }
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    auth.stepped_up_at
        .map_or(0, |at| at.saturating_add(window).saturating_sub(now))
        .saturating_mul(1000)
}

/// The signed-in user, if they stepped up recently; otherwise
/// `StepUpRequired` and nothing is changed. A plain form post (no
/// JavaScript) is sent to the step-up page, which returns to the form.
pub fn require_step_up(ctx: &RequestContext) -> Result<&CurrentUser, AppError> {
    let user = ctx.require_user()?;
    let now = ctx.state.clock.now();
    if step_up_is_fresh(
        &user.session.auth,
        now,
        ctx.state.settings.mfa.step_up_window_secs,
    ) {
        return Ok(user);
    }
    if ctx.is_plain_form_post() {
        let back = ctx.referer_path().unwrap_or("/account/security");
        leptos_axum::redirect(&format!(
            "/step-up?next={}",
            crate::urls::percent_encode(back)
        ));
    }
    Err(AppError::StepUpRequired)
}

/// Records a second-factor check (a sign-in's second step or a step-up),
/// and a recovery code's use as an event of its own.
async fn audit_factor(
    ctx: &RequestContext,
    event: Event,
    user_id: i64,
    outcome: Result<factors::Proof, SecondFactorMethod>,
) {
    match outcome {
        Ok(proof) => {
            let details = serde_json::json!({ "method": proof.method() });
            ctx.audit(
                event,
                Outcome::Success,
                Some(user_id),
                None,
                details.clone(),
            )
            .await;
            if let Some(left) = proof.codes_left() {
                let details = serde_json::json!({ "codes_left": left });
                ctx.audit(
                    Event::RecoveryCodeUsed,
                    Outcome::Success,
                    Some(user_id),
                    None,
                    details,
                )
                .await;
            }
        }
        Err(method) => {
            let method = match method {
                SecondFactorMethod::Totp => "otp",
                SecondFactorMethod::RecoveryCode => "rec",
            };
            let details = serde_json::json!({ "method": method, "reason": "invalid_code" });
            ctx.audit(event, Outcome::Failure, Some(user_id), None, details)
                .await;
        }
    }
}

fn session_failed(error: tower_sessions::session::Error) -> AppError {
    internal(error)
}

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
        };
        auth.begin_second_factor(&pending, &ctx.client())
            .await
            .map_err(session_failed)?;
        return Ok("/login/verify".to_owned());
    }
    auth.log_in(user.id, user.credential_epoch, &["pwd"], &ctx.client())
        .await
        .map_err(session_failed)?;
    if mfa_required(ctx.state.settings.mfa.require, user.is_admin) {
        // The password was just proven: that is the step-up the enrolment
        // needs. Until MFA is on, the session reaches nothing else.
        let now = ctx.state.clock.now();
        auth.mark_enrolment_required(now)
            .await
            .map_err(session_failed)?;
        return Ok(ENROLMENT_PAGE.to_owned());
    }
    Ok(next)
}

/// Where a user who must turn MFA on is held.
pub const ENROLMENT_PAGE: &str = "/account/security";

/// What a session that must enrol may reach: the enrolment, the countdown's
/// status and extend, sign-out.
pub const ENROLMENT_PATHS: &[&str] = &[
    ENROLMENT_PAGE,
    "/account/security/recovery-codes.txt",
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
    let is_admin = crate::ssr::admin::is_admin(&state.db, user_id).await?;
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
    let Some(mut pending) = auth.pending_sign_in().await.map_err(session_failed)? else {
        return Err(AppError::SignInExpired);
    };
    let now = state.clock.now();
    let timeout = i64::try_from(state.settings.mfa.pending_timeout_secs).unwrap_or(i64::MAX);
    if now.saturating_sub(pending.started_at) >= timeout {
        auth.log_out().await.map_err(session_failed)?;
        return Err(AppError::SignInExpired);
    }
    match factors::verify(state, pending.user_id, TypedFactor::of(method, code)).await? {
        Some(proof) => {
            // The password may have changed (or the account gone) since it
            // was checked.
            let epoch = pending.credential_epoch;
            if accounts::credential_epoch(state, pending.user_id).await? != Some(epoch) {
                auth.log_out().await.map_err(session_failed)?;
                return Err(AppError::SignInExpired);
            }
            auth.log_in(
                pending.user_id,
                epoch,
                &["pwd", proof.method()],
                &ctx.client(),
            )
            .await
            .map_err(session_failed)?;
            tracing::info!(
                user_id = pending.user_id,
                method = proof.method(),
                "signed in with a second factor"
            );
            audit_factor(ctx, Event::SecondFactor, pending.user_id, Ok(proof)).await;
            Ok((pending.next, proof.codes_left()))
        }
        None => {
            pending.wrong_codes += 1;
            tracing::info!(user_id = pending.user_id, "wrong second-factor code");
            audit_factor(ctx, Event::SecondFactor, pending.user_id, Err(method)).await;
            if pending.wrong_codes >= state.settings.mfa.max_codes_per_sign_in {
                auth.log_out().await.map_err(session_failed)?;
                return Err(AppError::SignInExpired);
            }
            auth.update_pending_sign_in(&pending)
                .await
                .map_err(session_failed)?;
            Err(AppError::InvalidCode)
        }
    }
}

/// Step-up: the user proves it is them again. With MFA on, a code (TOTP or
/// recovery); without, the password (throttled like sign-in). Success
/// records the time and moves the session to a new ID, keeping its
/// deadlines.
pub async fn step_up(
    ctx: &RequestContext,
    method: SecondFactorMethod,
    secret: &str,
) -> Result<Option<i64>, AppError> {
    let state = &ctx.state;
    let user = ctx.require_user()?;
    let enrolled = factors::is_enrolled(&state.db, user.user_id).await?;
    let (method_name, remaining) = if enrolled {
        match factors::verify(state, user.user_id, TypedFactor::of(method, secret)).await? {
            Some(proof) => {
                audit_factor(ctx, Event::StepUp, user.user_id, Ok(proof)).await;
                (proof.method(), proof.codes_left())
            }
            None => {
                audit_factor(ctx, Event::StepUp, user.user_id, Err(method)).await;
                return Err(AppError::InvalidCode);
            }
        }
    } else {
        let proven = accounts::authenticate(
            state,
            &user.username,
            Password::new(secret.to_owned()),
            &ctx.address(),
            ctx.client_gone(),
        )
        .await
        .map_err(|e| match e {
            AppError::InvalidCredentials => {
                AppError::Invalid("That password is not right.".to_owned())
            }
            other => other,
        });
        let proven = match proven {
            Ok(proven) if proven.id == user.user_id => proven,
            other => {
                let reason = other
                    .err()
                    .map_or("invalid_credentials", |e| crate::ssr::web::reason_of(&e));
                let details = serde_json::json!({ "method": "pwd", "reason": reason });
                ctx.audit(
                    Event::StepUp,
                    Outcome::Failure,
                    Some(user.user_id),
                    None,
                    details,
                )
                .await;
                return Err(AppError::Invalid("That password is not right.".to_owned()));
            }
        };
        let details = serde_json::json!({ "method": "pwd" });
        ctx.audit(
            Event::StepUp,
            Outcome::Success,
            Some(proven.id),
            None,
            details,
        )
        .await;
        ("pwd", None)
    };
    let now = state.clock.now();
    ctx.auth_session()?
        .reauthenticate(&user.session, |auth| {
            auth.stepped_up_at = Some(now);
            if !auth.amr.iter().any(|m| m == method_name) {
                auth.amr.push(method_name.to_owned());
            }
        })
        .await
        .map_err(session_failed)?;
    tracing::info!(user_id = user.user_id, method = method_name, "stepped up");
    Ok(remaining)
}

/// Starts an enrolment: a fresh secret, sealed in the session until the
/// user confirms it with a code. Needs a step-up (ASVS 7.5.1).
pub async fn begin_enrolment(ctx: &RequestContext) -> Result<(), AppError> {
    let user = require_step_up(ctx)?;
    let key = factors::key(&ctx.state)?;
    if factors::is_enrolled(&ctx.state.db, user.user_id).await? {
        return Err(AppError::Invalid(
            "Two-step verification is already on.".to_owned(),
        ));
    }
    let secret = TotpSecret::generate();
    let held = SealedInSession {
        sealed: key.seal(user.user_id, secret.as_bytes()),
        created_at: ctx.state.clock.now(),
    };
    ctx.auth_session()?
        .put_sealed(Held::Enrolment, &held)
        .await
        .map_err(session_failed)
}

/// The secret of the enrolment in progress, if there is one and it is not
/// stale.
pub fn open_enrolment(
    state: &AppState,
    user_id: i64,
    held: &SealedInSession,
) -> Result<Option<TotpSecret>, AppError> {
    if state.clock.now().saturating_sub(held.created_at) >= ENROLMENT_TTL_SECS {
        return Ok(None);
    }
    // Sealed under a key rotated since: the setup starts again.
    let Ok(opened) = factors::key(state)?.open(user_id, &held.sealed) else {
        tracing::warn!(user_id, "a held enrolment does not open (key rotated?)");
        return Ok(None);
    };
    Ok(TotpSecret::from_bytes(opened.to_vec()))
}

/// Confirms the enrolment with a code from the app: MFA is on only now.
/// The recovery codes are made and held (sealed) in the session to be
/// shown once; the user's other sessions end (ASVS 7.4.3).
pub async fn confirm_enrolment(ctx: &RequestContext, code: &str) -> Result<(), AppError> {
    let state = &ctx.state;
    let user = require_step_up(ctx)?;
    let auth = ctx.auth_session()?;
    let held = auth.sealed(Held::Enrolment).await.map_err(session_failed)?;
    let secret = match held {
        Some(held) => open_enrolment(state, user.user_id, &held)?,
        None => None,
    };
    let Some(secret) = secret else {
        return Err(AppError::Invalid(
            "This setup has expired. Please start again.".to_owned(),
        ));
    };
    let Some(step) = secret.matching_step(code, state.clock.now()) else {
        return Err(AppError::InvalidCode);
    };
    let codes = recovery::generate();
    if !factors::enable(state, user.user_id, &secret, step, &codes).await? {
        return Err(AppError::Invalid(
            "Two-step verification is already on.".to_owned(),
        ));
    }
    auth.forget(Held::Enrolment).await.map_err(session_failed)?;
    hold_codes_to_show(ctx, user.user_id, &codes).await?;
    end_other_sessions(ctx, user).await?;
    tracing::info!(user_id = user.user_id, "two-step verification turned on");
    Ok(())
}

/// Drops an unconfirmed enrolment.
pub async fn cancel_enrolment(ctx: &RequestContext) -> Result<(), AppError> {
    ctx.require_user()?;
    ctx.auth_session()?
        .forget(Held::Enrolment)
        .await
        .map_err(session_failed)
}

/// New recovery codes (the old ones stop working). Needs a step-up; ends
/// the other sessions.
pub async fn regenerate_recovery_codes(ctx: &RequestContext) -> Result<(), AppError> {
    let user = require_step_up(ctx)?;
    factors::key(&ctx.state)?;
    if !factors::is_enrolled(&ctx.state.db, user.user_id).await? {
        return Err(AppError::Invalid(
            "Two-step verification is off.".to_owned(),
        ));
    }
    let codes = recovery::generate();
    factors::replace_recovery_codes(&ctx.state, user.user_id, &codes).await?;
    hold_codes_to_show(ctx, user.user_id, &codes).await?;
    end_other_sessions(ctx, user).await?;
    tracing::info!(user_id = user.user_id, "recovery codes renewed");
    Ok(())
}

/// Turns MFA off. Needs a step-up; ends the other sessions.
pub async fn disable(ctx: &RequestContext) -> Result<(), AppError> {
    let user = require_step_up(ctx)?;
    if must_have_mfa(&ctx.state, user.user_id).await? {
        return Err(AppError::Invalid(
            "Two-step verification is required for your account and cannot be turned off."
                .to_owned(),
        ));
    }
    factors::disable(&ctx.state, user.user_id).await?;
    let auth = ctx.auth_session()?;
    auth.forget(Held::RecoveryCodesToShow)
        .await
        .map_err(session_failed)?;
    end_other_sessions(ctx, user).await?;
    tracing::info!(user_id = user.user_id, "two-step verification turned off");
    Ok(())
}

/// The user has saved the codes: they are no longer held anywhere.
pub async fn recovery_codes_saved(ctx: &RequestContext) -> Result<(), AppError> {
    ctx.require_user()?;
    ctx.auth_session()?
        .forget(Held::RecoveryCodesToShow)
        .await
        .map_err(session_failed)
}

/// The recovery codes held for showing, if any.
pub fn open_codes_to_show(
    state: &AppState,
    user_id: i64,
    held: &SealedInSession,
) -> Result<Vec<String>, AppError> {
    let Ok(opened) = factors::key(state)?.open(user_id, &held.sealed) else {
        tracing::warn!(user_id, "held recovery codes do not open (key rotated?)");
        return Ok(Vec::new());
    };
    let text = String::from_utf8(opened.to_vec()).map_err(internal)?;
    Ok(text.lines().map(str::to_owned).collect())
}

async fn hold_codes_to_show(
    ctx: &RequestContext,
    user_id: i64,
    codes: &[RecoveryCode],
) -> Result<(), AppError> {
    let joined = zeroize::Zeroizing::new(
        codes
            .iter()
            .map(RecoveryCode::as_str)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let held = SealedInSession {
        sealed: factors::key(&ctx.state)?.seal(user_id, joined.as_bytes()),
        created_at: ctx.state.clock.now(),
    };
    ctx.auth_session()?
        .put_sealed(Held::RecoveryCodesToShow, &held)
        .await
        .map_err(session_failed)
}

/// ASVS 7.4.3: after a change of factors every other session of the user
/// ends (a new credential epoch, and their rows deleted); this one moves to
/// a new ID under the new epoch and keeps its step-up and deadlines.
///
/// It also becomes a new sign-in (a fresh `sign_in_id`): the access tokens
/// minted before the change name the old one in their `sid`, so they stop
/// working at once, this session's own included (ASVS 7.4.3 covers every
/// session token the user holds, not only cookies).
pub async fn end_other_sessions(ctx: &RequestContext, user: &CurrentUser) -> Result<(), AppError> {
    let epoch = accounts::bump_credential_epoch(&ctx.state, user.user_id).await?;
    ctx.state
        .sessions
        .delete_all_for_user(user.user_id)
        .await
        .map_err(internal)?;
    ctx.auth_session()?
        .reauthenticate(&user.session, |auth| {
            auth.credential_epoch = epoch;
            auth.sign_in_id = Some(new_sign_in_id());
            // Any change of factors happens with MFA settled: a session held
            // for enrolment is free once MFA is on.
            auth.must_enrol = false;
        })
        .await
        .map_err(session_failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(stepped_up_at: Option<i64>) -> AuthState {
        AuthState {
            user_id: 1,
            authenticated_at: 0,
            credential_epoch: 0,
            amr: vec!["pwd".to_owned()],
            stepped_up_at,
            elevated_at: None,
            must_enrol: false,
            sign_in_id: None,
        }
    }

    #[test]
    fn a_step_up_holds_for_its_window_only() {
        assert!(!step_up_is_fresh(&auth(None), 1_000, 600));
        assert!(step_up_is_fresh(&auth(Some(1_000)), 1_000, 600));
        assert!(step_up_is_fresh(&auth(Some(1_000)), 1_599, 600));
        assert!(!step_up_is_fresh(&auth(Some(1_000)), 1_600, 600));
        // A step-up dated in the future (a clock moved back) is not trusted.
        assert!(!step_up_is_fresh(&auth(Some(2_000)), 1_000, 600));
        assert_eq!(
            step_up_fresh_for_ms(&auth(Some(1_000)), 1_100, 600),
            500_000
        );
        assert_eq!(step_up_fresh_for_ms(&auth(Some(1_000)), 1_600, 600), 0);
    }

    #[test]
    fn who_must_have_mfa() {
        assert!(!mfa_required(MfaRequirement::None, true));
        assert!(mfa_required(MfaRequirement::Admins, true));
        assert!(!mfa_required(MfaRequirement::Admins, false));
        assert!(mfa_required(MfaRequirement::All, false));
    }
}
