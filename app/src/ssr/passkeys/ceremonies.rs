//! The passkey ceremonies as the server functions run them (issue 11).
//!
//! Rules:
//! - Which proof confirms what: any second factor the account has (a
//!   passkey, a TOTP code, a recovery code) completes a password sign-in
//!   and confirms any sensitive action; the password alone confirms only
//!   for an account without a second factor. A passkey with user
//!   verification (required here) is two factors on its own: it signs in
//!   without the password and without a code.
//! - A passkey can be added once two-step verification (TOTP) is on: the
//!   recovery codes stay the way back in when a device is lost. Turning
//!   two-step verification off removes the passkeys too.
//! - Every success that proves the user moves the session to a new ID
//!   (ASVS 7.2.4) and records the method (`amr`: `hwk` for a device-bound
//!   key, `swk` for a syncable one).
//! - Each challenge is answered at most once (removed at the finish) and
//!   only within `challenge_timeout_secs`; a credential must belong to the
//!   account the ceremony is for; the sign counter must move forward.

use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use super::credentials::{self as passkeys, Challenge, Purpose};
use crate::shared::AppError;
use crate::ssr::auth::accounts;
use crate::ssr::context::RequestContext;
use crate::ssr::error::internal;
use crate::ssr::mfa::factors;
use crate::ssr::mfa::step_up::require_step_up;

fn session_failed(error: tower_sessions::session::Error) -> AppError {
    internal(error)
}

/// webauthn-rs' reason, kept in the server log; the user gets one message.
fn refused(what: &str, error: impl std::fmt::Display) -> AppError {
    tracing::info!(%error, "passkey {what} refused");
    AppError::PasskeyRefused
}

/// Starts a ceremony for `purpose`; returns the browser's options (JSON).
pub async fn begin(ctx: &RequestContext, purpose: Purpose) -> Result<String, AppError> {
    let state = &ctx.state;
    let webauthn = &state.webauthn;
    let auth = ctx.auth_session()?;
    let (options, ceremony, user_id) = match purpose {
        Purpose::Register => {
            let user = require_step_up(ctx)?;
            if !factors::is_enrolled(&state.db, user.user_id).await? {
                return Err(AppError::Invalid(
                    "Turn on two-step verification first: its recovery codes are your way back in \
                     if you lose the device with your passkey."
                        .to_owned(),
                ));
            }
            let existing = passkeys::list(&state.db, user.user_id).await?;
            let exclude = existing
                .iter()
                .map(|p| p.passkey.cred_id().clone())
                .collect();
            let handle = passkeys::user_handle(&state.db, &*state.sessions, user.user_id).await?;
            let (options, registration) = webauthn
                .start_passkey_registration(handle, &user.username, &user.username, Some(exclude))
                .map_err(internal)?;
            // A discoverable credential, so that it can sign in without a
            // username (webauthn-rs asks for none by default, and does not
            // export the type that says so: the JSON is edited).
            let mut options = serde_json::to_value(&options).map_err(internal)?;
            if let Some(selection) = options
                .pointer_mut("/publicKey/authenticatorSelection")
                .and_then(|s| s.as_object_mut())
            {
                selection.insert("residentKey".to_owned(), "required".into());
                selection.insert("requireResidentKey".to_owned(), true.into());
            }
            (
                options.to_string(),
                serde_json::to_value(&registration).map_err(internal)?,
                Some(user.user_id),
            )
        }
        Purpose::SignIn => {
            // The one ceremony a visitor may start: no password, no argon2
            // in front of its writes (a ticket, a visitor's session row).
            // Counted per address like sign-in attempts, so one client
            // cannot keep the database's writer busy (review E1).
            let login = &state.settings.login;
            let key = format!("passkey-sign-in:{}", ctx.address());
            // Never given back: every begin counts, whatever follows.
            let _counted = crate::ssr::auth::throttle::reserve_one(
                &state.db,
                &key,
                login.max_failures_per_address,
                login.failure_window_secs,
                crate::ssr::auth::throttle::AttemptTime::of(state.clock.as_ref()),
            )
            .await
            .map_err(internal)?
            .map_err(|wait_secs| {
                tracing::warn!(address = %ctx.address(), "passkey sign-ins throttled");
                AppError::TooManyAttempts(wait_secs)
            })?;
            let (mut options, authentication) = webauthn
                .start_discoverable_authentication()
                .map_err(internal)?;
            // The browser's own account chooser, on a button press (not
            // the autofill UI that webauthn-rs prepares this for).
            options.mediation = None;
            (
                serde_json::to_string(&options).map_err(internal)?,
                serde_json::to_value(&authentication).map_err(internal)?,
                None,
            )
        }
        Purpose::SecondFactor | Purpose::StepUp => {
            let user_id = match purpose {
                Purpose::SecondFactor => pending_user(ctx).await?,
                _ => ctx.require_user()?.user_id,
            };
            let keys: Vec<_> = passkeys::list(&state.db, user_id)
                .await?
                .into_iter()
                .map(|p| p.passkey)
                .collect();
            if keys.is_empty() {
                return Err(AppError::Invalid(
                    "This account has no passkey. Please use a code instead.".to_owned(),
                ));
            }
            let (options, authentication) = webauthn
                .start_passkey_authentication(&keys)
                .map_err(internal)?;
            (
                serde_json::to_string(&options).map_err(internal)?,
                serde_json::to_value(&authentication).map_err(internal)?,
                Some(user_id),
            )
        }
    };
    let now = state.clock.now();
    let nonce = passkeys::open_ceremony(
        &state.db,
        now,
        state.settings.webauthn.challenge_timeout_secs,
    )
    .await?;
    auth.put_passkey_challenge(&Challenge {
        purpose,
        state: ceremony,
        user_id,
        started_at: now,
        nonce,
    })
    .await
    .map_err(session_failed)?;
    Ok(options)
}

/// The user of the sign-in waiting for its second factor, while it lasts.
async fn pending_user(ctx: &RequestContext) -> Result<i64, AppError> {
    let auth = ctx.auth_session()?;
    let pending = auth
        .pending_sign_in()
        .await
        .map_err(session_failed)?
        .ok_or(AppError::SignInExpired)?;
    let now = ctx.state.clock.now();
    let timeout = i64::try_from(ctx.state.settings.mfa.pending_timeout_secs).unwrap_or(i64::MAX);
    if now.saturating_sub(pending.started_at) >= timeout {
        return Err(AppError::SignInExpired);
    }
    Ok(pending.user_id)
}

/// What a successful finish did, for the audit log.
struct Finished {
    next: String,
    user_id: i64,
    method: &'static str,
}

/// Checks the browser's answer to the waiting ceremony; returns where the
/// browser goes next. Every finish is audited, success or not.
pub async fn finish(
    ctx: &RequestContext,
    purpose: Purpose,
    credential: &str,
    name: Option<&str>,
) -> Result<String, AppError> {
    use crate::ssr::audit::Event;
    use crate::ssr::audit::Outcome;
    let result = check_answer(ctx, purpose, credential, name).await;
    let event = match purpose {
        Purpose::Register => Event::PasskeyAdded,
        Purpose::SignIn => Event::SignIn,
        Purpose::SecondFactor => Event::SecondFactor,
        Purpose::StepUp => Event::StepUp,
    };
    match &result {
        Ok(done) => {
            let details = serde_json::json!({ "method": done.method, "passkey": true });
            ctx.audit(event, Outcome::Success, Some(done.user_id), None, details)
                .await;
            // A passkey as the second step completes a sign-in (its
            // password step was `password_verified`, review E6).
            if purpose == Purpose::SecondFactor {
                let details = serde_json::json!({ "method": ["pwd", done.method] });
                ctx.audit(
                    Event::SignIn,
                    Outcome::Success,
                    Some(done.user_id),
                    None,
                    details,
                )
                .await;
            }
        }
        Err(error) => {
            let details = serde_json::json!({
                "passkey": true,
                "reason": error.kind(),
            });
            let user_id = ctx.current_user().map(|u| u.user_id);
            ctx.audit(event, Outcome::Failure, user_id, None, details)
                .await
        }
    }
    result.map(|done| done.next)
}

async fn check_answer(
    ctx: &RequestContext,
    purpose: Purpose,
    credential: &str,
    name: Option<&str>,
) -> Result<Finished, AppError> {
    let state = &ctx.state;
    let auth = ctx.auth_session()?;
    // Removed first: whatever happens below, this challenge is spent.
    let challenge = auth
        .take_passkey_challenge()
        .await
        .map_err(session_failed)?
        .filter(|c| c.purpose == purpose)
        .filter(|c| {
            c.is_fresh(
                state.clock.now(),
                state.settings.webauthn.challenge_timeout_secs,
            )
        })
        .ok_or(AppError::PasskeyExpired)?;
    let now = state.clock.now();
    // The session alone cannot tell two parallel finishes apart (both may
    // have loaded it before either saved): the ticket can.
    if !passkeys::consume_ceremony(&state.db, &challenge.nonce, now).await? {
        return Err(AppError::PasskeyExpired);
    }
    match purpose {
        Purpose::Register => {
            let user = require_step_up(ctx)?;
            if challenge.user_id != Some(user.user_id) {
                return Err(AppError::PasskeyExpired);
            }
            let name = passkeys::clean_name(name.unwrap_or_default())?;
            let registration: PasskeyRegistration =
                serde_json::from_value(challenge.state).map_err(internal)?;
            let answer: RegisterPublicKeyCredential =
                serde_json::from_str(credential).map_err(|_| AppError::BadRequest)?;
            let passkey = state
                .webauthn
                .finish_passkey_registration(&answer, &registration)
                .map_err(|e| refused("registration", e))?;
            passkeys::insert(&state.db, user.user_id, &passkey, &name, now).await?;
            // A new way in is a change of factors (ASVS 7.4.3): every other
            // session ends, and the tokens of this one.
            crate::ssr::auth::credential_change::end_other_sessions(ctx, user).await?;
            tracing::info!(user_id = user.user_id, "passkey added");
            // And worth a person's attention: a passkey signs in with no
            // password, so one an attacker added would outlive a password
            // change (the security page lists them after one).
            crate::ssr::audit::alerts::raise(
                state,
                crate::ssr::audit::alerts::Alert::PasskeyAdded,
                Some(user.user_id),
                &ctx.client(),
                None,
                serde_json::json!({ "name": name }),
            )
            .await;
            Ok(Finished {
                next: "/account/security?passkey=added".to_owned(),
                user_id: user.user_id,
                method: "new",
            })
        }
        Purpose::SignIn => {
            let answer: PublicKeyCredential =
                serde_json::from_str(credential).map_err(|_| AppError::BadRequest)?;
            let (handle, credential_id) = state
                .webauthn
                .identify_discoverable_authentication(&answer)
                .map_err(|e| refused("sign-in", e))?;
            let user_id = passkeys::user_of_handle(&state.db, handle)
                .await?
                .ok_or(AppError::PasskeyRefused)?;
            let stored = owned_passkey(ctx, credential_id, user_id).await?;
            let ceremony: DiscoverableAuthentication =
                serde_json::from_value(challenge.state).map_err(internal)?;
            let result = state
                .webauthn
                .finish_discoverable_authentication_v2(&answer, ceremony, &stored.passkey)
                .map_err(|e| refused("sign-in", e))?;
            let method = passkeys::amr_of(&result);
            passkeys::record_use(&state.db, stored, &result, now).await?;
            let epoch = accounts::credential_epoch(state, user_id)
                .await?
                .ok_or(AppError::PasskeyRefused)?;
            auth.log_in(user_id, epoch, &[method], &ctx.client())
                .await
                .map_err(session_failed)?;
            tracing::info!(user_id, method, "signed in with a passkey");
            Ok(Finished {
                next: "/account".to_owned(),
                user_id,
                method,
            })
        }
        Purpose::SecondFactor => {
            let Some(pending) = auth.pending_sign_in().await.map_err(session_failed)? else {
                return Err(AppError::SignInExpired);
            };
            pending_user(ctx).await?;
            if challenge.user_id != Some(pending.user_id) {
                return Err(AppError::PasskeyExpired);
            }
            let result = authenticate(ctx, challenge, credential, pending.user_id, now).await?;
            let epoch = pending.credential_epoch;
            if accounts::credential_epoch(state, pending.user_id).await? != Some(epoch) {
                auth.log_out().await.map_err(session_failed)?;
                return Err(AppError::SignInExpired);
            }
            auth.log_in(pending.user_id, epoch, &["pwd", result], &ctx.client())
                .await
                .map_err(session_failed)?;
            tracing::info!(
                user_id = pending.user_id,
                method = result,
                "signed in with a password and a passkey"
            );
            Ok(Finished {
                next: pending.next,
                user_id: pending.user_id,
                method: result,
            })
        }
        Purpose::StepUp => {
            let user = ctx.require_user()?;
            if challenge.user_id != Some(user.user_id) {
                return Err(AppError::PasskeyExpired);
            }
            let method = authenticate(ctx, challenge, credential, user.user_id, now).await?;
            auth.reauthenticate(&user.session, &ctx.client(), |auth| {
                auth.stepped_up_at = Some(now);
                auth.travel_unconfirmed = false;
                if !auth.amr.iter().any(|m| m == method) {
                    auth.amr.push(method.to_owned());
                }
            })
            .await
            .map_err(session_failed)?;
            ctx.offer_device_binding().await;
            tracing::info!(user_id = user.user_id, method, "stepped up with a passkey");
            Ok(Finished {
                next: String::new(),
                user_id: user.user_id,
                method,
            })
        }
    }
}

/// The stored passkey `credential_id`, if it is `user_id`'s: a credential
/// of another account is refused like an unknown one.
async fn owned_passkey(
    ctx: &RequestContext,
    credential_id: &[u8],
    user_id: i64,
) -> Result<passkeys::StoredPasskey, AppError> {
    match passkeys::find(&ctx.state.db, credential_id).await? {
        Some((owner, stored)) if owner == user_id => Ok(stored),
        Some((owner, _)) => {
            tracing::warn!(
                user_id,
                owner,
                "passkey of another account offered: refused"
            );
            Err(AppError::PasskeyRefused)
        }
        None => Err(AppError::PasskeyRefused),
    }
}

/// A passkey assertion for `user_id`'s ceremony: verified, counter moved
/// forward. Returns the `amr` method.
async fn authenticate(
    ctx: &RequestContext,
    challenge: Challenge,
    credential: &str,
    user_id: i64,
    now: i64,
) -> Result<&'static str, AppError> {
    let answer: PublicKeyCredential =
        serde_json::from_str(credential).map_err(|_| AppError::BadRequest)?;
    let stored = owned_passkey(ctx, answer.get_credential_id(), user_id).await?;
    let ceremony: PasskeyAuthentication =
        serde_json::from_value(challenge.state).map_err(internal)?;
    let result = ctx
        .state
        .webauthn
        .finish_passkey_authentication(&answer, &ceremony)
        .map_err(|e| refused("authentication", e))?;
    let method = passkeys::amr_of(&result);
    passkeys::record_use(&ctx.state.db, stored, &result, now).await?;
    Ok(method)
}
