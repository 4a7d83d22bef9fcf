//! `passkeys`: WebAuthn credentials, each stored as webauthn-rs' JSON
//! (`passkeys::credentials` encodes and decodes it). Credential IDs are
//! unique across all accounts.

use super::Pool;
use sqlx::AnyConnection;

/// A stored passkey: id, owner, name, created, last used, the credential
/// as JSON.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub passkey: String,
}

pub async fn of_user(db: &Pool, user_id: i64) -> Result<Vec<PasskeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, name, created_at, last_used_at, passkey FROM passkeys \
         WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

pub async fn count_of_user(db: &Pool, user_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Stores a new passkey; `false` when its credential ID is registered
/// already (to this account or any other).
pub async fn insert(
    db: &Pool,
    user_id: i64,
    credential_id: &[u8],
    passkey: &str,
    name: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO passkeys (user_id, credential_id, passkey, name, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(credential_id)
    .bind(passkey)
    .bind(name)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_credential_id(
    db: &Pool,
    credential_id: &[u8],
) -> Result<Option<PasskeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, name, created_at, last_used_at, passkey FROM passkeys \
         WHERE credential_id = $1",
    )
    .bind(credential_id)
    .fetch_optional(db)
    .await
}

/// Records a use, only if `counter` moved forward from the stored one (or
/// the authenticator does not count, 0); `true` when written.
pub async fn record_use(
    db: &Pool,
    id: i64,
    passkey: &str,
    counter: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE passkeys SET passkey = $2, sign_count = $3, last_used_at = $4 \
         WHERE id = $1 AND ($3 = 0 OR sign_count < $3)",
    )
    .bind(id)
    .bind(passkey)
    .bind(counter)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Renames the user's passkey `id`; `false` if they have none by that id.
pub async fn rename(db: &Pool, user_id: i64, id: i64, name: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .bind(name)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the user's passkey `id`; `false` if they have none by that id.
pub async fn delete(db: &Pool, user_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_all_of_user(db: &mut AnyConnection, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await
        .map(|_| ())
}
