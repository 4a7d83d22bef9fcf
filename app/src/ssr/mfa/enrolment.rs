//! Turning two-step verification on and off, and renewing recovery codes.
//! Each needs a fresh step-up (ASVS 7.5.1) and ends the user's other
//! sessions (ASVS 7.4.3). An enrolment's secret and new recovery codes are
//! held sealed in the session until confirmed or saved.

use crate::shared::AppError;
use crate::ssr::auth::credential_change::end_other_sessions;
use crate::ssr::context::RequestContext;
use crate::ssr::error::internal;
use crate::ssr::mfa::factors;
use crate::ssr::mfa::recovery;
use crate::ssr::mfa::recovery::RecoveryCode;
use crate::ssr::mfa::sign_in::must_have_mfa;
use crate::ssr::mfa::step_up::require_step_up;
use crate::ssr::mfa::totp::TotpSecret;
use crate::ssr::session::Held;
use crate::ssr::session::SealedInSession;
use crate::ssr::state::AppState;

/// How long an unconfirmed enrolment stays usable.
const ENROLMENT_TTL_SECS: i64 = 15 * 60;

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
        .map_err(internal)
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
    let held = auth.sealed(Held::Enrolment).await.map_err(internal)?;
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
    auth.forget(Held::Enrolment).await.map_err(internal)?;
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
        .map_err(internal)
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
    // A change of factors, audited like the others (review E5).
    ctx.audit(
        crate::ssr::audit::Event::RecoveryCodesRenewed,
        crate::ssr::audit::Outcome::Success,
        Some(user.user_id),
        None,
        serde_json::json!({}),
    )
    .await;
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
        .map_err(internal)?;
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
        .map_err(internal)
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
        .map_err(internal)
}
