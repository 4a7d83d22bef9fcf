//! `passkey_ceremonies`: the single-use ticket of each WebAuthn ceremony
//! (`passkeys::credentials`): deleted by one conditional statement when the
//! answer comes, so each challenge is answered at most once.

use super::Pool;

/// Opens a ticket until `expires_at`, sweeping up to 100 expired ones.
pub async fn open(db: &Pool, nonce: &[u8], now: i64, expires_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM passkey_ceremonies WHERE nonce IN \
         (SELECT nonce FROM passkey_ceremonies WHERE expires_at <= $1 LIMIT 100)",
    )
    .bind(now)
    .execute(db)
    .await?;
    sqlx::query("INSERT INTO passkey_ceremonies (nonce, expires_at) VALUES ($1, $2)")
        .bind(nonce)
        .bind(expires_at)
        .execute(db)
        .await
        .map(|_| ())
}

/// Uses up a ticket: `true` for exactly one caller, and only before it
/// expires.
pub async fn consume(db: &Pool, nonce: &[u8], now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM passkey_ceremonies WHERE nonce = $1 AND expires_at > $2")
        .bind(nonce)
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
