//! The database side of two-step verification: enrolment, verification
//! with single use of TOTP steps and recovery codes, and the per-account
//! limit on wrong codes.

use crate::ssr::db::Pool;

use super::recovery::{self, RecoveryCode};
use super::sealing::SealingKey;
use super::totp::TotpSecret;
use crate::api::{AppError, SecondFactorMethod};
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
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM totp_factors WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
        .map_err(internal)?;
    Ok(found.is_some())
}

/// Whether any user has MFA on: start-up refuses to run without a key then.
pub async fn any_enrolled(db: &Pool) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM totp_factors LIMIT 1")
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

pub async fn remaining_recovery_codes(db: &Pool, user_id: i64) -> Result<i64, AppError> {
    sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(db)
        .await
        .map_err(internal)
}

/// Whether the user still holds unused recovery codes of the older, shorter
/// kind (below ASVS 6.5.2's 112 bits): the security page asks for new ones.
pub async fn has_short_recovery_codes(db: &Pool, user_id: i64) -> Result<bool, AppError> {
    let short: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL AND bits < $2",
    )
    .bind(user_id)
    .bind(recovery::MIN_BITS_FOR_PLAIN_HASH)
    .fetch_one(db)
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
    let inserted = sqlx::query(
        "INSERT INTO totp_factors (user_id, secret_sealed, enabled_at, last_step) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(&sealed)
    .bind(state.clock.now())
    .bind(confirmed_step)
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    if inserted.rows_affected() == 0 {
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
    tx: &mut sqlx::Transaction<'_, crate::ssr::db::Db>,
    user_id: i64,
    codes: &[RecoveryCode],
) -> Result<(), AppError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .map_err(internal)?;
    for code in codes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, bits) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(&code.hash()[..])
            .bind(recovery::BITS)
            .execute(&mut **tx)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Turns MFA off: the secret and every recovery code are deleted.
pub async fn disable(state: &AppState, user_id: i64) -> Result<(), AppError> {
    let mut tx = crate::ssr::db::write_transaction(&state.db)
        .await
        .map_err(internal)?;
    for statement in [
        "DELETE FROM totp_factors WHERE user_id = $1",
        "DELETE FROM recovery_codes WHERE user_id = $1",
        // Passkeys need two-step verification on (`passkeys::ceremonies`).
        "DELETE FROM passkeys WHERE user_id = $1",
    ] {
        sqlx::query(statement)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
    }
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
    let attempt = crate::ssr::auth::throttle::reserve(
        &mut *state.db.acquire().await.map_err(internal)?,
        &[(&limit_key, mfa.max_failures_per_account)],
        None,
        mfa.failure_window_secs,
        state.clock.now(),
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
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT secret_sealed FROM totp_factors WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&state.db)
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
    let accepted =
        sqlx::query("UPDATE totp_factors SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
            .bind(user_id)
            .bind(step)
            .execute(&state.db)
            .await
            .map_err(internal)?;
    Ok((accepted.rows_affected() == 1).then_some(Proof::Totp))
}

async fn check_recovery_code(
    state: &AppState,
    user_id: i64,
    code: &str,
) -> Result<Option<Proof>, AppError> {
    let Some(hash) = recovery::hash_typed(code) else {
        return Ok(None);
    };
    let used = sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(&hash[..])
    .bind(state.clock.now())
    .execute(&state.db)
    .await
    .map_err(internal)?;
    if used.rows_affected() != 1 {
        return Ok(None);
    }
    let remaining = remaining_recovery_codes(&state.db, user_id).await?;
    Ok(Some(Proof::RecoveryCode { remaining }))
}

/// Key rotation: every stored secret opened with `old` and sealed again
/// with `new`, in one transaction (all or nothing). Returns how many.
pub async fn reseal_all(db: &Pool, old: &SealingKey, new: &SealingKey) -> Result<u64, String> {
    let mut tx = crate::ssr::db::write_transaction(db)
        .await
        .map_err(|e| e.to_string())?;
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT user_id, secret_sealed FROM totp_factors")
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
    for (user_id, sealed) in &rows {
        let secret = old.open(*user_id, sealed).map_err(|_| {
            format!("the secret of user {user_id} does not open with the current key: nothing was changed")
        })?;
        sqlx::query("UPDATE totp_factors SET secret_sealed = $2 WHERE user_id = $1")
            .bind(user_id)
            .bind(new.seal(*user_id, &secret))
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(rows.len() as u64)
}
