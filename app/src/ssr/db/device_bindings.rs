//! `device_bindings`: one row per sign-in bound to a device (issue 26,
//! DBSC; the offer before it lives in the session). The only writer of the
//! table. Every change that decides something is one conditional
//! statement: a sign-in is bound once, a challenge answered at most twice
//! (it and, for Chrome's races, the one before it).

use super::Pool;

/// A binding as read for a refresh.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Binding {
    pub sign_in_id: String,
    pub user_id: i64,
    pub session_identifier: Option<String>,
    pub public_key: Option<String>,
    pub challenge: String,
    pub previous_challenge: Option<String>,
    pub challenge_expires_at: i64,
    pub cookie_hash: Option<Vec<u8>>,
    pub previous_cookie_hash: Option<Vec<u8>>,
    pub cookie_expires_at: Option<i64>,
    pub previous_cookie_expires_at: Option<i64>,
    pub registered_at: Option<i64>,
    pub refreshes: i64,
}

const COLUMNS: &str = "sign_in_id, user_id, session_identifier, public_key, challenge, \
     previous_challenge, challenge_expires_at, cookie_hash, previous_cookie_hash, \
     cookie_expires_at, previous_cookie_expires_at, registered_at, refreshes";

/// The binding the browser names by its `session_identifier`.
pub async fn by_identifier(
    db: &Pool,
    session_identifier: &str,
) -> Result<Option<Binding>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM device_bindings WHERE session_identifier = $1"
    ))
    .bind(session_identifier)
    .fetch_optional(db)
    .await
}

/// What a registration or refresh stores.
pub struct Issued<'a> {
    pub next_challenge: &'a str,
    pub challenge_expires_at: i64,
    pub cookie_hash: &'a [u8],
    pub cookie_expires_at: i64,
    pub now: i64,
}

/// Binds the sign-in: its device's key, identifier, bound cookie and next
/// challenge. False if it is bound already (a parallel registration won):
/// a sign-in is bound once.
pub async fn insert(
    db: &Pool,
    sign_in_id: &str,
    user_id: i64,
    public_key: &str,
    session_identifier: &str,
    issued: &Issued<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO device_bindings (sign_in_id, user_id, session_identifier, public_key, \
         challenge, challenge_expires_at, cookie_hash, cookie_expires_at, created_at, \
         registered_at, refreshed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) \
         ON CONFLICT (sign_in_id) DO NOTHING",
    )
    .bind(sign_in_id)
    .bind(user_id)
    .bind(session_identifier)
    .bind(public_key)
    .bind(issued.next_challenge)
    .bind(issued.challenge_expires_at)
    .bind(issued.cookie_hash)
    .bind(issued.cookie_expires_at)
    .bind(issued.now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A refresh whose proof answered `answered` (the current challenge or the
/// one before it): the next challenge and a new bound cookie, the old
/// cookie kept as the previous one until it expires. False if `answered`
/// is neither any more (a parallel refresh moved on twice).
pub async fn refresh(
    db: &Pool,
    session_identifier: &str,
    answered: &str,
    issued: &Issued<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE device_bindings SET previous_challenge = challenge, challenge = $3, \
         challenge_expires_at = $4, previous_cookie_hash = cookie_hash, \
         previous_cookie_expires_at = cookie_expires_at, cookie_hash = $5, \
         cookie_expires_at = $6, refreshed_at = $7, refreshes = refreshes + 1 \
         WHERE session_identifier = $1 AND public_key IS NOT NULL \
         AND (challenge = $2 OR previous_challenge = $2) AND challenge_expires_at > $7",
    )
    .bind(session_identifier)
    .bind(answered)
    .bind(issued.next_challenge)
    .bind(issued.challenge_expires_at)
    .bind(issued.cookie_hash)
    .bind(issued.cookie_expires_at)
    .bind(issued.now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A new challenge for a refresh that came without a valid proof (the 403
/// step of the protocol); the current one becomes the previous.
pub async fn rechallenge(
    db: &Pool,
    session_identifier: &str,
    challenge: &str,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE device_bindings SET previous_challenge = challenge, challenge = $2, \
         challenge_expires_at = $3 WHERE session_identifier = $1 AND public_key IS NOT NULL",
    )
    .bind(session_identifier)
    .bind(challenge)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends the sign-in's binding (sign-out, a session ended, a bad proof).
pub async fn delete_of_sign_in(db: &Pool, sign_in_id: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM device_bindings WHERE sign_in_id = $1")
        .bind(sign_in_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Bindings whose sign-in has no live session any more (the clean-up).
pub async fn delete_orphans(db: &Pool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM device_bindings WHERE NOT EXISTS (SELECT 1 FROM sessions s \
         WHERE s.sign_in_id = device_bindings.sign_in_id)",
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
