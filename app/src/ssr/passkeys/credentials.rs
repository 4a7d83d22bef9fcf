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

use crate::ssr::db::passkeys::PasskeyRow;
use crate::ssr::db::{passkey_ceremonies, passkeys, users, Pool};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{AuthenticationResult, Passkey, Uuid};

use crate::shared::AppError;
use crate::ssr::error::internal;

/// Why a ceremony was started; a finish must be for the same purpose.
pub use crate::shared::PasskeyPurpose as Purpose;

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
    passkey_ceremonies::open(db, &nonce[..], now, expires_at)
        .await
        .map_err(internal)?;
    Ok(nonce)
}

/// Uses up a ceremony's ticket: true for exactly one caller, and only
/// before it expires.
pub async fn consume_ceremony(db: &Pool, nonce: &[u8; 16], now: i64) -> Result<bool, AppError> {
    passkey_ceremonies::consume(db, &nonce[..], now)
        .await
        .map_err(internal)
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

impl TryFrom<PasskeyRow> for StoredPasskey {
    type Error = AppError;

    fn try_from(row: PasskeyRow) -> Result<Self, AppError> {
        Ok(StoredPasskey {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            passkey: decode(&row.passkey)?,
        })
    }
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
pub async fn user_handle(
    db: &Pool,
    cache: &impl users::UserCache,
    user_id: i64,
) -> Result<Uuid, AppError> {
    let handle = users::webauthn_handle(db, cache, user_id, &Uuid::new_v4().as_bytes()[..])
        .await
        .map_err(internal)?;
    handle
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or(AppError::Unauthenticated)
}

/// The account a user handle belongs to.
pub async fn user_of_handle(db: &Pool, handle: Uuid) -> Result<Option<i64>, AppError> {
    users::id_of_webauthn_handle(db, &handle.as_bytes()[..])
        .await
        .map_err(internal)
}

pub async fn list(db: &Pool, user_id: i64) -> Result<Vec<StoredPasskey>, AppError> {
    passkeys::of_user(db, user_id)
        .await
        .map_err(internal)?
        .into_iter()
        .map(StoredPasskey::try_from)
        .collect()
}

pub async fn count(db: &Pool, user_id: i64) -> Result<i64, AppError> {
    passkeys::count_of_user(db, user_id).await.map_err(internal)
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
    let inserted = passkeys::insert(db, user_id, passkey.cred_id().as_slice(), &text, name, now)
        .await
        .map_err(internal)?;
    if !inserted {
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
    let row = passkeys::by_credential_id(db, credential_id)
        .await
        .map_err(internal)?;
    row.map(|row| Ok((row.user_id, StoredPasskey::try_from(row)?)))
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
    let recorded = passkeys::record_use(db, stored.id, &text, counter, now)
        .await
        .map_err(internal)?;
    if !recorded {
        tracing::warn!(
            passkey = stored.id,
            "passkey counter did not move forward: refused"
        );
        return Err(AppError::PasskeyRefused);
    }
    Ok(())
}

pub async fn rename(db: &Pool, user_id: i64, id: i64, name: &str) -> Result<(), AppError> {
    let renamed = passkeys::rename(db, user_id, id, name)
        .await
        .map_err(internal)?;
    if !renamed {
        return Err(AppError::Invalid("That passkey does not exist.".to_owned()));
    }
    Ok(())
}

pub async fn remove(db: &Pool, user_id: i64, id: i64) -> Result<(), AppError> {
    let removed = passkeys::delete(db, user_id, id).await.map_err(internal)?;
    if !removed {
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
