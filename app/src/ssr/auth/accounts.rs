//! Accounts: registration and credential checks.

use std::future::Future;

use crate::shared::AppError;
use crate::ssr::auth::password::HashError;
use crate::ssr::auth::password::Password;
use crate::ssr::auth::password_rules::check_new_password;
use crate::ssr::auth::throttle;
use crate::ssr::db::{users, Pool};
use crate::ssr::error::internal;
use crate::ssr::session::SessionBackend;
use crate::ssr::state::AppState;

/// Seconds a client is asked to wait when the hashing queue is full.
const BUSY_RETRY_SECS: u64 = 2;

/// A hashing failure as the client sees it: a full or abandoned queue is
/// "busy, try again" (503); anything else is ours (500, logged).
fn hashing_failed(error: HashError) -> AppError {
    match error {
        HashError::Busy => {
            tracing::warn!(reason = %error, "password check not run");
            AppError::Busy(BUSY_RETRY_SECS)
        }
        // Nobody is waiting for this answer.
        HashError::Abandoned => {
            tracing::info!(reason = %error, "password check not run");
            AppError::Busy(BUSY_RETRY_SECS)
        }
        other => internal(other),
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub credential_epoch: i64,
    pub is_admin: bool,
    /// Two-step verification is on (read with the password hash: the
    /// sign-in needs no second query to know what comes next).
    pub mfa_enabled: bool,
}

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;

/// Trims and checks a username: 3-32 letters, digits, `.`, `_` or `-`.
pub fn normalize_username(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let length = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&length) {
        return Err(format!(
            "Your username must be {USERNAME_MIN} to {USERNAME_MAX} characters long."
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(
            "Your username may only use letters, digits, dots (.), underscores (_) and hyphens (-)."
                .to_owned(),
        );
    }
    Ok(name.to_owned())
}

/// A new password (registration, change): typed twice alike, passes the
/// rules (length, zxcvbn, not the username), then hashed. Returns the PHC
/// string to store.
async fn hash_new_password(
    state: &AppState,
    username: &str,
    password: Password,
    confirmation: Password,
    client_gone: impl Future<Output = ()>,
) -> Result<String, AppError> {
    if password.expose() != confirmation.expose() {
        return Err(AppError::Invalid(
            "The two passwords do not match. Please type the same password twice.".to_owned(),
        ));
    }
    let settings = state.settings.password.clone();
    let (checked, name) = (password.clone(), username.to_owned());
    // zxcvbn costs milliseconds on long inputs: off the async runtime too.
    tokio::task::spawn_blocking(move || check_new_password(checked.expose(), &name, &settings))
        .await
        .map_err(internal)?
        .map_err(AppError::Invalid)?;
    state
        .hasher
        .hash(&password, client_gone)
        .await
        .map_err(hashing_failed)
}

pub async fn register(
    state: &AppState,
    address: &str,
    username: &str,
    password: Password,
    confirmation: Password,
    client_gone: impl Future<Output = ()>,
) -> Result<(), AppError> {
    let username = normalize_username(username).map_err(AppError::Invalid)?;
    // Every registration counts (each costs an argon2 run), per address.
    let login = &state.settings.login;
    let registrations = format!("registrations:{address}");
    let _counted = throttle::reserve_one(
        &state.db,
        &registrations,
        login.max_registrations_per_address,
        login.failure_window_secs,
        throttle::AttemptTime::of(state.clock.as_ref()),
    )
    .await
    .map_err(internal)?
    .map_err(|wait_secs| {
        tracing::warn!(address = %address, "registrations throttled");
        AppError::TooManyAttempts(wait_secs)
    })?;
    let hash = hash_new_password(state, &username, password, confirmation, client_gone).await?;
    let inserted = users::insert(&state.db, &username, &hash, state.clock.now())
        .await
        .map_err(internal)?;
    if !inserted {
        return Err(AppError::UsernameTaken);
    }
    tracing::info!(username = %username, "account registered");
    Ok(())
}

/// Checks a username and password. Every failure is the same
/// `InvalidCredentials`; an unknown user costs the same argon2 run as a
/// known one.
///
/// The attempt is counted against the throttle before anything else and
/// given back only when the password proves right (or was never checked):
/// parallel guesses beyond the limit are refused with 429 without hashing.
pub async fn authenticate(
    state: &AppState,
    username: &str,
    password: Password,
    address: &str,
    client_gone: impl Future<Output = ()>,
) -> Result<UserRecord, AppError> {
    let login = &state.settings.login;
    let name = username.trim().to_lowercase();
    let now = state.clock.now();
    let account_key = format!("account+address:{name}|{address}");
    let address_key = format!("address:{address}");
    let everywhere_key = format!("account:{name}");
    let limits = [
        (account_key.as_str(), login.max_failures_per_account),
        (address_key.as_str(), login.max_failures_per_address),
    ];
    // The higher per-account limit across addresses does not reach an
    // address this account signed in from before: an attacker elsewhere
    // cannot lock the user out of their usual device.
    let everywhere = throttle::UnlessKnown {
        key: &everywhere_key,
        limit: login.max_failures_per_account_everywhere,
        known: &account_key,
        within_secs: throttle::KNOWN_FOR_SECS,
    };
    // The throttle and the user's row on one connection, given back before
    // the hash: one release round trip instead of two (sqlx pings a
    // connection on its way back to the pool), and never a connection held
    // through argon2.
    let mut db = state.db.acquire().await.map_err(internal)?;
    let attempt = throttle::reserve(
        &mut db,
        &limits,
        Some(everywhere),
        login.failure_window_secs,
        throttle::AttemptTime::of(state.clock.as_ref()),
    )
    .await
    .map_err(internal)?
    .map_err(|wait_secs| {
        tracing::warn!(address = %address, "sign-in throttled");
        AppError::TooManyAttempts(wait_secs)
    })?;
    let stored = match stored_credentials(&mut db, state, username, &password).await {
        Ok(stored) => stored,
        Err(error) => {
            throttle::refund(&mut db, attempt).await.map_err(internal)?;
            return Err(error);
        }
    };
    drop(db);

    match check_credentials(state, stored, &password, client_gone).await {
        Ok(Some(user)) => {
            // One statement: the attempt back, this address's count for
            // the account cleared, the address noted as known.
            let mut db = state.db.acquire().await.map_err(internal)?;
            throttle::settle_success(&mut db, attempt, &account_key, now)
                .await
                .map_err(internal)?;
            Ok(user)
        }
        Ok(None) => {
            // The attempt stays counted: it was a failure.
            tracing::info!(address = %address, "sign-in failed");
            Err(AppError::InvalidCredentials)
        }
        Err(error) => {
            // Never judged (busy, client gone, our fault): not a failure.
            throttle::refund(&mut *state.db.acquire().await.map_err(internal)?, attempt)
                .await
                .map_err(internal)?;
            Err(error)
        }
    }
}

/// A user's row as a sign-in checks it (`db::users::Credentials`).
type StoredCredentials = users::Credentials;

/// The row of `username`, if it exists. Names that could never have been
/// registered (and passwords longer than allowed) cannot match: no query.
async fn stored_credentials(
    db: &mut sqlx::AnyConnection,
    state: &AppState,
    username: &str,
    password: &Password,
) -> Result<Option<StoredCredentials>, AppError> {
    // The hash still runs for them (`check_credentials`), so this reveals
    // nothing about which accounts exist.
    let plausible = normalize_username(username).is_ok()
        && password.expose().chars().count() <= state.settings.password.max_length as usize;
    if !plausible {
        return Ok(None);
    }
    users::credentials(db, username.trim())
        .await
        .map_err(internal)
}

/// The user, if their row was found and `password` is theirs.
async fn check_credentials(
    state: &AppState,
    stored: Option<StoredCredentials>,
    password: &Password,
    client_gone: impl Future<Output = ()>,
) -> Result<Option<UserRecord>, AppError> {
    let verified = state
        .hasher
        .verify(
            password,
            stored.as_ref().map(|(_, _, hash, ..)| hash.as_str()),
            client_gone,
        )
        .await
        .map_err(hashing_failed)?;
    Ok(stored
        .filter(|_| verified)
        .map(
            |(id, username, _, credential_epoch, is_admin, mfa)| UserRecord {
                id,
                username,
                credential_epoch,
                is_admin: is_admin == 1,
                mfa_enabled: mfa == 1,
            },
        ))
}

/// The id of the account named `username` (as sign-in matches names), for
/// the audit log; `None` when there is none or it cannot be read.
pub async fn user_id_of(state: &AppState, username: &str) -> Option<i64> {
    let name = normalize_username(username).ok()?;
    users::id_of_name(&state.db, &name).await.ok().flatten()
}

/// The user's current credential epoch; `None` if the account is gone.
pub async fn credential_epoch(state: &AppState, user_id: i64) -> Result<Option<i64>, AppError> {
    users::credential_epoch(&state.db, user_id)
        .await
        .map_err(internal)
}

/// Whether the user is an administrator (`server admin grant`).
pub async fn is_admin(db: &Pool, user_id: i64) -> Result<bool, AppError> {
    users::is_admin(db, user_id).await.map_err(internal)
}

/// Moves the user to a new credential epoch: every session made under the
/// old one is dead on its next request. Returns the new epoch.
pub async fn bump_credential_epoch(state: &AppState, user_id: i64) -> Result<i64, AppError> {
    let epoch = users::bump_credential_epoch(&state.db, &*state.sessions, user_id)
        .await
        .map_err(internal)?;
    // An id from a form (an admin's) may name nobody: a 400, not a 500.
    epoch.ok_or_else(|| AppError::Invalid("There is no such user.".to_owned()))
}

/// Sets a new password (the same rules as at registration). The caller
/// has checked the step-up and ends the other sessions.
pub async fn change_password(
    state: &AppState,
    user_id: i64,
    username: &str,
    password: Password,
    confirmation: Password,
    client_gone: impl Future<Output = ()>,
) -> Result<(), AppError> {
    let hash = hash_new_password(state, username, password, confirmation, client_gone).await?;
    users::set_password_hash(&state.db, &*state.sessions, user_id, &hash)
        .await
        .map_err(internal)?;
    tracing::info!(user_id, "password changed");
    Ok(())
}

/// Deletes the account and everything it owns (sessions, factors and
/// codes go with it: `ON DELETE CASCADE`). ASVS 7.4.2: all its sessions end.
pub async fn delete_account(state: &AppState, user_id: i64) -> Result<(), AppError> {
    users::delete(&state.db, &*state.sessions, user_id)
        .await
        .map_err(internal)?;
    // Rows deleted by the cascade are not seen by the store: forget them.
    state
        .sessions
        .delete_all_for_user(user_id)
        .await
        .map_err(internal)?;
    tracing::info!(user_id, "account deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_checked() {
        assert_eq!(
            normalize_username("  alice.b_c-d ").as_deref(),
            Ok("alice.b_c-d")
        );
        assert!(normalize_username("ab").is_err());
        assert!(normalize_username(&"a".repeat(33)).is_err());
        assert!(normalize_username("al ice").is_err());
        assert!(normalize_username("alice<script>").is_err());
        assert!(normalize_username("ålice").is_err());
    }
}
