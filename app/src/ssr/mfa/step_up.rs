//! Step-up: proving again who you are before a sensitive action (ASVS 5.0
//! 7.5.1, re-authentication). With two-step verification on, a code (TOTP
//! or recovery) or a passkey; without, the password. Success is recorded in
//! the session (`stepped_up_at`) for `[mfa] step_up_window_secs`, and moves
//! the session to a new ID (ASVS 7.2.4).

use crate::shared::{AppError, SecondFactorMethod};
use crate::ssr::audit::Event;
use crate::ssr::audit::Outcome;
use crate::ssr::auth::accounts;
use crate::ssr::auth::password::Password;
use crate::ssr::context::CurrentUser;
use crate::ssr::context::RequestContext;
use crate::ssr::error::internal;
use crate::ssr::mfa::factors;
use crate::ssr::mfa::factors::TypedFactor;
use crate::ssr::session::AuthState;

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

/// The signed-in user, unless the session is held for confirmation after
/// impossible travel (issue 25): then as `require_step_up`. For actions
/// that need no step-up otherwise (ending one other session, the profile,
/// dismissing a notice): a session from an impossible place must prove it
/// is the user before it changes anything, so a stolen password used far
/// away cannot hide the warning or end the owner's sessions. A challenge,
/// never a denial (a VPN must not lock anyone out).
pub fn require_confirmed(ctx: &RequestContext) -> Result<&CurrentUser, AppError> {
    let user = ctx.require_user()?;
    if user.session.auth.travel_unconfirmed {
        return require_step_up(ctx);
    }
    Ok(user)
}

/// Records a second-factor check (a sign-in's second step or a step-up),
/// and a recovery code's use as an event of its own.
/// `factors::verify`'s answer, with a refusal for too many wrong codes
/// audited as `throttled` (review E5: it returned before any audit).
pub(crate) async fn verify_audited(
    ctx: &RequestContext,
    user_id: i64,
    typed: factors::TypedFactor<'_>,
) -> Result<Option<factors::Proof>, AppError> {
    let verified = factors::verify(&ctx.state, user_id, typed).await;
    if let Err(AppError::TooManyCodes(wait_secs)) = &verified {
        let details = serde_json::json!({ "reason": "too_many_codes", "wait_secs": wait_secs });
        ctx.audit(
            Event::Throttled,
            Outcome::Failure,
            Some(user_id),
            None,
            details,
        )
        .await;
    }
    verified
}

pub(crate) async fn audit_factor(
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
            crate::ssr::audit::alerts::after_failed_code(&ctx.state, user_id, &ctx.client()).await;
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
        match verify_audited(ctx, user.user_id, TypedFactor::of(method, secret)).await? {
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
                let reason = other.err().map_or("invalid_credentials", |e| e.kind());
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
        .reauthenticate(&user.session, &ctx.client(), |auth| {
            auth.stepped_up_at = Some(now);
            auth.travel_unconfirmed = false;
            if !auth.amr.iter().any(|m| m == method_name) {
                auth.amr.push(method_name.to_owned());
            }
        })
        .await
        .map_err(internal)?;
    ctx.offer_device_binding().await;
    tracing::info!(user_id = user.user_id, method = method_name, "stepped up");
    Ok(remaining)
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
            travel_unconfirmed: false,
            device_offer: None,
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
}
