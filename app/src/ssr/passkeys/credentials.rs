//! Passkeys (WebAuthn) on the database side, and the challenge each
//! ceremony keeps in the server-side session (issue 11).
//!
//! - webauthn-rs checks the signatures, the origin, the RP ID, user
//!   verification (required: a passkey alone is two factors) and the sign
//!   counter (a counter that goes back is refused as a possible clone).
//! - Credential IDs are unique across all accounts (a UNIQUE column).
//! - A ceremony's state lives in the session, never in the browser (the
//!   cookie holds only the session ID), for `challenge_timeout_secs`; it
//!   is removed when the finish arrives, whatever the outcome, and its
//!   ticket in `passkey_ceremonies` is deleted by one conditional statement,
//!   so each challenge is answered at most once, parallel finishes included.

use crate::ssr::db::Pool;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{AuthenticationResult, Passkey, Uuid};

use crate::api::AppError;
use crate::ssr::error::internal;

/// Why a ceremony was started; a finish must be for the same purpose.
pub use crate::api::PasskeyPurpose as Purpose;

/// A ceremony waiting for the browser's answer, held in the session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    pub purpose: Purpose,
    /// webauthn-rs' registration or authentication state (challenge,
    /// allowed credentials, policy), serialised.
    pub state: serde_json::Value,
    /// Whose account it is for (`None` for a usernameless sign-in).
    pub user_id: Option<i64>,
    pub started_at: i64,
    /// The single-use ticket in `passkey_ceremonies` (see `open_ceremony`).
    pub nonce: [u8; 16],
}

impl Challenge {
    /// Whether the answer came in time (a challenge dated in the future,
    /// after a clock moved back, does not count).
    pub fn is_fresh(&self, now: i64, timeout_secs: u64) -> bool {
        let timeout = i64::try_from(timeout_secs).unwrap_or(i64::MAX);
        self.started_at <= now && now.saturating_sub(self.started_at) < timeout
    }
}

/// Opens a ceremony's single-use ticket; returns its nonce. Expired
/// tickets are swept at the same time (a bounded batch).
pub async fn open_ceremony(db: &Pool, now: i64, timeout_secs: u64) -> Result<[u8; 16], AppError> {
    let nonce: [u8; 16] = rand::random();
    let expires_at = now.saturating_add(i64::try_from(timeout_secs).unwrap_or(i64::MAX));
    sqlx::query(
        "DELETE FROM passkey_ceremonies WHERE nonce IN \
         (SELECT nonce FROM passkey_ceremonies WHERE expires_at <= $1 LIMIT 100)",
    )
    .bind(now)
    .execute(db)
    .await
    .map_err(internal)?;
    sqlx::query("INSERT INTO passkey_ceremonies (nonce, expires_at) VALUES ($1, $2)")
        .bind(&nonce[..])
        .bind(expires_at)
        .execute(db)
        .await
        .map_err(internal)?;
    Ok(nonce)
}

/// Uses up a ceremony's ticket: true for exactly one caller, and only
/// before it expires.
pub async fn consume_ceremony(db: &Pool, nonce: &[u8; 16], now: i64) -> Result<bool, AppError> {
    let done = sqlx::query("DELETE FROM passkey_ceremonies WHERE nonce = $1 AND expires_at > $2")
        .bind(&nonce[..])
        .bind(now)
        .execute(db)
        .await
        .map_err(internal)?;
    Ok(done.rows_affected() == 1)
}

/// The `amr` value (RFC 8176) of a passkey use: `hwk` for a key bound to
/// its device, `swk` for one that can be synced or backed up.
pub fn amr_of(result: &AuthenticationResult) -> &'static str {
    if result.backup_eligible() {
        "swk"
    } else {
        "hwk"
    }
}

/// A stored passkey as the security page lists it.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub passkey: Passkey,
}

fn decode(text: &str) -> Result<Passkey, AppError> {
    serde_json::from_str(text).map_err(internal)
}

/// Names are the user's; bounded and trimmed, never empty.
pub fn clean_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Invalid(
            "Please give the passkey a name, e.g. \"Laptop fingerprint\".".to_owned(),
        ));
    }
    if name.chars().count() > NAME_MAX {
        return Err(AppError::Invalid(format!(
            "Please keep the name to {NAME_MAX} characters or fewer."
        )));
    }
    Ok(name.to_owned())
}

pub const NAME_MAX: usize = 64;

/// The user's WebAuthn user handle, made on first use: random, so that it
/// says nothing about the account.
pub async fn user_handle(db: &Pool, user_id: i64) -> Result<Uuid, AppError> {
    sqlx::query("UPDATE users SET webauthn_handle = $2 WHERE id = $1 AND webauthn_handle IS NULL")
        .bind(user_id)
        .bind(&Uuid::new_v4().as_bytes()[..])
        .execute(db)
        .await
        .map_err(internal)?;
    let handle: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT webauthn_handle FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db)
            .await
            .map_err(internal)?
            .flatten();
    handle
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or(AppError::Unauthenticated)
}

/// The account a user handle belongs to.
pub async fn user_of_handle(db: &Pool, handle: Uuid) -> Result<Option<i64>, AppError> {
    sqlx::query_scalar("SELECT id FROM users WHERE webauthn_handle = $1")
        .bind(&handle.as_bytes()[..])
        .fetch_optional(db)
        .await
        .map_err(internal)
}

pub async fn list(db: &Pool, user_id: i64) -> Result<Vec<StoredPasskey>, AppError> {
    let rows: Vec<(i64, String, i64, Option<i64>, String)> = sqlx::query_as(
        "SELECT id, name, created_at, last_used_at, passkey FROM passkeys \
         WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
    .map_err(internal)?;
    rows.into_iter()
        .map(|(id, name, created_at, last_used_at, passkey)| {
            Ok(StoredPasskey {
                id,
                name,
                created_at,
                last_used_at,
                passkey: decode(&passkey)?,
            })
        })
        .collect()
}

pub async fn count(db: &Pool, user_id: i64) -> Result<i64, AppError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
        .map_err(internal)
}

/// Stores a new passkey. A credential ID already registered (to this
/// account or any other) is refused.
pub async fn insert(
    db: &Pool,
    user_id: i64,
    passkey: &Passkey,
    name: &str,
    now: i64,
) -> Result<(), AppError> {
    let text = serde_json::to_string(passkey).map_err(internal)?;
    let done = sqlx::query(
        "INSERT INTO passkeys (user_id, credential_id, passkey, name, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(passkey.cred_id().as_slice())
    .bind(text)
    .bind(name)
    .bind(now)
    .execute(db)
    .await
    .map_err(internal)?;
    if done.rows_affected() == 0 {
        return Err(AppError::Invalid(
            "This passkey is already registered.".to_owned(),
        ));
    }
    Ok(())
}

/// The passkey with credential ID `credential_id`, and its owner.
pub async fn find(
    db: &Pool,
    credential_id: &[u8],
) -> Result<Option<(i64, StoredPasskey)>, AppError> {
    let row: Option<(i64, i64, String, i64, Option<i64>, String)> = sqlx::query_as(
        "SELECT user_id, id, name, created_at, last_used_at, passkey FROM passkeys \
         WHERE credential_id = $1",
    )
    .bind(credential_id)
    .fetch_optional(db)
    .await
    .map_err(internal)?;
    row.map(|(user_id, id, name, created_at, last_used_at, passkey)| {
        Ok((
            user_id,
            StoredPasskey {
                id,
                name,
                created_at,
                last_used_at,
                passkey: decode(&passkey)?,
            },
        ))
    })
    .transpose()
}

/// Records a verified use: the new sign counter and the time. The write is
/// conditional on the stored counter being below the new one (when the
/// authenticator counts at all), so of two parallel uses of one assertion
/// only one succeeds; the other is refused.
pub async fn record_use(
    db: &Pool,
    mut stored: StoredPasskey,
    result: &AuthenticationResult,
    now: i64,
) -> Result<(), AppError> {
    stored.passkey.update_credential(result);
    let text = serde_json::to_string(&stored.passkey).map_err(internal)?;
    let counter = i64::from(result.counter());
    let done = sqlx::query(
        "UPDATE passkeys SET passkey = $2, sign_count = $3, last_used_at = $4 \
         WHERE id = $1 AND ($3 = 0 OR sign_count < $3)",
    )
    .bind(stored.id)
    .bind(text)
    .bind(counter)
    .bind(now)
    .execute(db)
    .await
    .map_err(internal)?;
    if done.rows_affected() == 0 {
        tracing::warn!(
            passkey = stored.id,
            "passkey counter did not move forward: refused"
        );
        return Err(AppError::PasskeyRefused);
    }
    Ok(())
}

pub async fn rename(db: &Pool, user_id: i64, id: i64, name: &str) -> Result<(), AppError> {
    let done = sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .bind(name)
        .execute(db)
        .await
        .map_err(internal)?;
    if done.rows_affected() == 0 {
        return Err(AppError::Invalid("That passkey does not exist.".to_owned()));
    }
    Ok(())
}

pub async fn remove(db: &Pool, user_id: i64, id: i64) -> Result<(), AppError> {
    let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await
        .map_err(internal)?;
    if done.rows_affected() == 0 {
        return Err(AppError::Invalid("That passkey does not exist.".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_fresh_only_within_its_timeout() {
        let challenge = Challenge {
            purpose: Purpose::StepUp,
            state: serde_json::Value::Null,
            user_id: Some(1),
            started_at: 1_000,
            nonce: [0; 16],
        };
        assert!(challenge.is_fresh(1_000, 300));
        assert!(challenge.is_fresh(1_299, 300));
        assert!(!challenge.is_fresh(1_300, 300));
        assert!(!challenge.is_fresh(999, 300), "dated in the future");
    }

    #[test]
    fn names_are_trimmed_bounded_and_not_empty() {
        assert_eq!(clean_name("  Laptop  ").expect("ok"), "Laptop");
        assert!(clean_name("   ").is_err());
        assert!(clean_name(&"x".repeat(NAME_MAX + 1)).is_err());
        assert!(clean_name(&"é".repeat(NAME_MAX)).is_ok());
    }
}
