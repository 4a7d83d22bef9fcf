//! The database side of two-step verification: enrolment, verification
//! with single use of TOTP steps and recovery codes, and the per-account
//! limit on wrong codes.

use crate::ssr::db::{passkeys, recovery_codes, totp_factors, Pool};

use super::recovery::{self, RecoveryCode};
use super::sealing::SealingKey;
use super::totp::TotpSecret;
use crate::shared::{AppError, SecondFactorMethod};
use crate::ssr::error::internal;
use crate::ssr::state::AppState;

/// What the user typed as a second factor.
#[derive(Debug, Clone, Copy)]
pub enum TypedFactor<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
}

impl<'a> TypedFactor<'a> {
    /// `code` read as the kind the form says it is.
    pub fn of(method: SecondFactorMethod, code: &'a str) -> Self {
        match method {
            SecondFactorMethod::Totp => TypedFactor::Totp(code),
            SecondFactorMethod::RecoveryCode => TypedFactor::RecoveryCode(code),
        }
    }
}

/// A second factor that checked out, and what is worth telling the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Totp,
    RecoveryCode { remaining: i64 },
}

impl Proof {
    /// The `amr` value (RFC 8176) recorded in the session.
    pub fn method(&self) -> &'static str {
        match self {
            Proof::Totp => "otp",
            Proof::RecoveryCode { .. } => "rec",
        }
    }

    /// Unused recovery codes left, when one was just used.
    pub fn codes_left(&self) -> Option<i64> {
        match self {
            Proof::RecoveryCode { remaining } => Some(*remaining),
            Proof::Totp => None,
        }
    }
}

pub fn key(state: &AppState) -> Result<&SealingKey, AppError> {
    state.mfa_key.as_ref().ok_or(AppError::MfaUnavailable)
}

pub async fn is_enrolled(db: &Pool, user_id: i64) -> Result<bool, AppError> {
    totp_factors::exists_for(db, user_id)
        .await
        .map_err(internal)
}

/// Whether any user has MFA on: start-up refuses to run without a key then.
pub async fn any_enrolled(db: &Pool) -> Result<bool, sqlx::Error> {
    totp_factors::any(db).await
}

pub async fn remaining_recovery_codes(db: &Pool, user_id: i64) -> Result<i64, AppError> {
    recovery_codes::unused(db, user_id).await.map_err(internal)
}

/// Whether the user still holds unused recovery codes of the older, shorter
/// kind (below ASVS 6.5.2's 112 bits): the security page asks for new ones.
pub async fn has_short_recovery_codes(db: &Pool, user_id: i64) -> Result<bool, AppError> {
    let short = recovery_codes::unused_weaker_than(db, user_id, recovery::MIN_BITS_FOR_PLAIN_HASH)
        .await
        .map_err(internal)?;
    Ok(short > 0)
}

/// Turns MFA on with `secret`, whose code of `confirmed_step` the user just
/// typed (that step is used up), and `codes` as the recovery codes.
/// `false` if MFA was already on (a second enrolment in another tab).
pub async fn enable(
    state: &AppState,
    user_id: i64,
    secret: &TotpSecret,
    confirmed_step: i64,
    codes: &[RecoveryCode],
) -> Result<bool, AppError> {
    let sealed = key(state)?.seal(user_id, secret.as_bytes());
    let mut tx = crate::ssr::db::write_transaction(&state.db)
        .await
        .map_err(internal)?;
    let inserted =
        totp_factors::insert(&mut tx, user_id, &sealed, state.clock.now(), confirmed_step)
            .await
            .map_err(internal)?;
    if !inserted {
        return Ok(false);
    }
    store_codes(&mut tx, user_id, codes).await?;
    tx.commit().await.map_err(internal)?;
    Ok(true)
}

/// Replaces every recovery code of the user with `codes`.
pub async fn replace_recovery_codes(
    state: &AppState,
    user_id: i64,
    codes: &[RecoveryCode],
) -> Result<(), AppError> {
    let mut tx = crate::ssr::db::write_transaction(&state.db)
        .await
        .map_err(internal)?;
    store_codes(&mut tx, user_id, codes).await?;
    tx.commit().await.map_err(internal)
}

async fn store_codes(
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
    codes: &[RecoveryCode],
) -> Result<(), AppError> {
    let hashes: Vec<[u8; 32]> = codes.iter().map(RecoveryCode::hash).collect();
    recovery_codes::replace_all(tx, user_id, &hashes, recovery::BITS)
        .await
        .map_err(internal)
}

/// Turns MFA off: the secret and every recovery code are deleted.
pub async fn disable(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let mut tx = crate::ssr::db::write_transaction(&state.db)
        .await
        .map_err(internal)?;
    totp_factors::delete_for(&mut tx, user_id)
        .await
        .map_err(internal)?;
    recovery_codes::delete_for(&mut tx, user_id)
        .await
        .map_err(internal)?;
    // Passkeys need two-step verification on (`passkeys::ceremonies`).
    passkeys::delete_all_of_user(&mut tx, user_id)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)
}

/// Checks a second factor of `user_id`. A wrong code counts against the
/// account's limit (whatever session it came from: an attacker holding the
/// password does not get fresh guesses per sign-in); a right one is used
/// up, so the same code never works twice.
///
/// `Ok(None)`: wrong, malformed, replayed or already used (one answer for
/// all). `Err(TooManyCodes)`: the account's limit is reached.
pub async fn verify(
    state: &AppState,
    user_id: i64,
    typed: TypedFactor<'_>,
) -> Result<Option<Proof>, AppError> {
    let limit_key = format!("second-factor:{user_id}");
    let mfa = &state.settings.mfa;
    let attempt = crate::ssr::auth::throttle::reserve_one(
        &state.db,
        &limit_key,
        mfa.max_failures_per_account,
        mfa.failure_window_secs,
        crate::ssr::auth::throttle::AttemptTime::of(state.clock.as_ref()),
    )
    .await
    .map_err(internal)?
    .map_err(|wait| {
        tracing::warn!(user_id, "second-factor codes throttled");
        AppError::TooManyCodes(wait)
    })?;
    let checked = match typed {
        TypedFactor::Totp(code) => check_totp(state, user_id, code).await,
        TypedFactor::RecoveryCode(code) => check_recovery_code(state, user_id, code).await,
    };
    match checked {
        Ok(Some(proof)) => {
            crate::ssr::auth::throttle::refund(
                &mut *state.db.acquire().await.map_err(internal)?,
                attempt,
            )
            .await
            .map_err(internal)?;
            Ok(Some(proof))
        }
        Ok(None) => Ok(None),
        Err(error) => {
            crate::ssr::auth::throttle::refund(
                &mut *state.db.acquire().await.map_err(internal)?,
                attempt,
            )
            .await
            .map_err(internal)?;
            Err(error)
        }
    }
}

async fn check_totp(state: &AppState, user_id: i64, code: &str) -> Result<Option<Proof>, AppError> {
    let sealed = totp_factors::sealed_secret(&state.db, user_id)
        .await
        .map_err(internal)?;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let opened = key(state)?.open(user_id, &sealed).map_err(internal)?;
    let Some(secret) = TotpSecret::from_bytes(opened.to_vec()) else {
        tracing::error!(user_id, "stored TOTP secret has the wrong length");
        return Err(AppError::Internal);
    };
    let Some(step) = secret.matching_step(code, state.clock.now()) else {
        return Ok(None);
    };
    // Single use: only a step later than every step accepted before.
    let accepted = totp_factors::accept_step(&state.db, user_id, step)
        .await
        .map_err(internal)?;
    Ok(accepted.then_some(Proof::Totp))
}

async fn check_recovery_code(
    state: &AppState,
    user_id: i64,
    code: &str,
) -> Result<Option<Proof>, AppError> {
    let Some(hash) = recovery::hash_typed(code) else {
        return Ok(None);
    };
    let used = recovery_codes::use_up(&state.db, user_id, &hash[..], state.clock.now())
        .await
        .map_err(internal)?;
    if !used {
        return Ok(None);
    }
    let remaining = remaining_recovery_codes(&state.db, user_id).await?;
    Ok(Some(Proof::RecoveryCode { remaining }))
}

/// How many stored secrets do not open with `key`: start-up refuses to run
/// with such a key (review E11: a rotation while a server ran, or the wrong
/// key file), since every code of those users would fail.
pub async fn unopenable(db: &Pool, key: &SealingKey) -> Result<u64, sqlx::Error> {
    let mut conn = db.acquire().await?;
    let rows = totp_factors::all_sealed(&mut conn).await?;
    Ok(rows
        .iter()
        .filter(|(user_id, sealed)| key.open(*user_id, sealed).is_err())
        .count() as u64)
}

/// Key rotation: every stored secret opened with `old` and sealed again
/// with `new`, in one transaction (all or nothing). A secret that already
/// opens with `new` is left as it is, so a rotation that was interrupted,
/// or raced a running server's enrolments, can be run again to finish.
/// Returns how many were sealed again.
pub async fn reseal_all(db: &Pool, old: &SealingKey, new: &SealingKey) -> Result<u64, String> {
    let mut tx = crate::ssr::db::write_transaction(db)
        .await
        .map_err(|e| e.to_string())?;
    let rows = totp_factors::all_sealed(&mut tx)
        .await
        .map_err(|e| e.to_string())?;
    let mut resealed = 0;
    for (user_id, sealed) in &rows {
        let Ok(secret) = old.open(*user_id, sealed) else {
            if new.open(*user_id, sealed).is_ok() {
                continue;
            }
            return Err(format!(
                "the secret of user {user_id} opens with neither key: nothing was changed"
            ));
        };
        resealed += 1;
        totp_factors::set_sealed_secret(&mut tx, *user_id, &new.seal(*user_id, &secret))
            .await
            .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(resealed)
}
