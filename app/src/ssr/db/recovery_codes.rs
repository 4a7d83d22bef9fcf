//! `recovery_codes`: a user's one-time codes, as hashes (`mfa::recovery`),
//! each with the strength it was made with.

use super::Pool;
use sqlx::AnyConnection;

/// Unused codes of the user.
pub async fn unused(db: &Pool, user_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Unused codes of the user made with fewer than `bits`.
pub async fn unused_weaker_than(db: &Pool, user_id: i64, bits: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL AND bits < $2",
    )
    .bind(user_id)
    .bind(bits)
    .fetch_one(db)
    .await
}

/// Replaces every code of the user with `hashes` (each made with `bits`).
/// Run it in a transaction: the old codes go and the new come together.
pub async fn replace_all(
    db: &mut AnyConnection,
    user_id: i64,
    hashes: &[[u8; 32]],
    bits: i64,
) -> Result<(), sqlx::Error> {
    delete_for(&mut *db, user_id).await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, bits) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(&hash[..])
            .bind(bits)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

pub async fn delete_for(db: &mut AnyConnection, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await
        .map(|_| ())
}

/// Marks the unused code with this hash used; `true` for exactly one of
/// parallel uses.
pub async fn use_up(db: &Pool, user_id: i64, hash: &[u8], now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(hash)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
