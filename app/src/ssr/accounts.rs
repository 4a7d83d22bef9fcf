//! Accounts: registration and credential checks.

use crate::api::AppError;
use crate::ssr::error::internal;
use crate::ssr::password::{check_new_password, Password};
use crate::ssr::state::AppState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub credential_epoch: i64,
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

pub async fn register(
    state: &AppState,
    username: &str,
    password: Password,
    confirmation: Password,
) -> Result<(), AppError> {
    let username = normalize_username(username).map_err(AppError::Invalid)?;
    if password.expose() != confirmation.expose() {
        return Err(AppError::Invalid(
            "The two passwords do not match. Please type the same password twice.".to_owned(),
        ));
    }
    let settings = state.settings.password.clone();
    let (checked, name) = (password.clone(), username.clone());
    // zxcvbn costs milliseconds on long inputs: off the async runtime too.
    tokio::task::spawn_blocking(move || check_new_password(checked.expose(), &name, &settings))
        .await
        .map_err(internal)?
        .map_err(AppError::Invalid)?;

    let hash = state.hasher.hash(&password).await.map_err(internal)?;
    let inserted = sqlx::query(
        "INSERT INTO users (username, password_hash, created_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (username) DO NOTHING",
    )
    .bind(&username)
    .bind(&hash)
    .bind(state.clock.now())
    .execute(&state.db)
    .await
    .map_err(internal)?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::UsernameTaken);
    }
    tracing::info!(username = %username, "account registered");
    Ok(())
}

/// Checks a username and password. Every failure is the same
/// `InvalidCredentials`; an unknown user costs the same argon2 run as a
/// known one.
pub async fn authenticate(
    state: &AppState,
    username: &str,
    password: Password,
    address: &str,
) -> Result<UserRecord, AppError> {
    let login = &state.settings.login;
    let now = state.clock.now();
    let name = username.trim().to_lowercase();
    let account_key = format!("account:{name}|{address}");
    let address_key = format!("address:{address}");
    let blocked = state
        .login_failures
        .blocked_for(&account_key, login.max_failures_per_account, now)
        .or_else(|| {
            state
                .login_failures
                .blocked_for(&address_key, login.max_failures_per_address, now)
        });
    if let Some(wait_secs) = blocked {
        tracing::warn!(address = %address, "sign-in throttled");
        return Err(AppError::TooManyAttempts(wait_secs.div_ceil(60).max(1)));
    }

    // Names that could never have been registered cannot exist: refusing
    // them without a hash reveals nothing about which accounts do.
    let plausible = normalize_username(username).is_ok()
        && password.expose().chars().count() <= state.settings.password.max_length as usize;
    let stored: Option<(i64, String, String, i64)> = if plausible {
        sqlx::query_as(
            "SELECT id, username, password_hash, credential_epoch FROM users WHERE username = ?1",
        )
        .bind(username.trim())
        .fetch_optional(&state.db)
        .await
        .map_err(internal)?
    } else {
        None
    };

    let verified = if plausible {
        state
            .hasher
            .verify(
                &password,
                stored.as_ref().map(|(_, _, hash, _)| hash.as_str()),
            )
            .await
            .map_err(internal)?
    } else {
        false
    };

    match stored {
        Some((id, username, _, credential_epoch)) if verified => {
            state.login_failures.clear(&account_key);
            Ok(UserRecord {
                id,
                username,
                credential_epoch,
            })
        }
        _ => {
            state.login_failures.record_failure(&account_key, now);
            state.login_failures.record_failure(&address_key, now);
            tracing::info!(address = %address, "sign-in failed");
            Err(AppError::InvalidCredentials)
        }
    }
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
