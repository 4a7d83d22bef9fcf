//! `totp_factors`: a user's TOTP secret, sealed (`mfa::sealing`), and the
//! last time step accepted (each step is used once).

use super::Pool;
use sqlx::AnyConnection;

pub async fn exists_for(db: &Pool, user_id: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM totp_factors WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Whether any user has one.
pub async fn any(db: &Pool) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM totp_factors LIMIT 1")
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

/// Stores the user's factor unless they have one; `true` when stored.
pub async fn insert(
    db: &mut AnyConnection,
    user_id: i64,
    secret_sealed: &[u8],
    now: i64,
    last_step: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO totp_factors (user_id, secret_sealed, enabled_at, last_step) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(secret_sealed)
    .bind(now)
    .bind(last_step)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_for(db: &mut AnyConnection, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await
        .map(|_| ())
}

/// The user's sealed secret.
pub async fn sealed_secret(db: &Pool, user_id: i64) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT secret_sealed FROM totp_factors WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Records `step` as used, only if it is later than every step accepted
/// before; `true` when it was.
pub async fn accept_step(db: &Pool, user_id: i64, step: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE totp_factors SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
            .bind(user_id)
            .bind(step)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Every sealed secret, with its user.
pub async fn all_sealed(db: &mut AnyConnection) -> Result<Vec<(i64, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("SELECT user_id, secret_sealed FROM totp_factors")
        .fetch_all(db)
        .await
}

pub async fn set_sealed_secret(
    db: &mut AnyConnection,
    user_id: i64,
    secret_sealed: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE totp_factors SET secret_sealed = $2 WHERE user_id = $1")
        .bind(user_id)
        .bind(secret_sealed)
        .execute(db)
        .await
        .map(|_| ())
}
