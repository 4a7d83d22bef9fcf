//! `device_bindings`: one row per sign-in that was offered or holds a
//! device binding (issue 26, DBSC). The only writer of the table. Every
//! change that decides something is one conditional statement
//! (compare-and-swap): an offer is taken once, a challenge answered at
//! most twice (it and, for Chrome's races, the one before it).

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

/// Offers a binding to the sign-in: a fresh registration challenge, unless
/// the sign-in is already bound (a bound device is never unbound by a new
/// offer).
pub async fn offer(
    db: &Pool,
    sign_in_id: &str,
    user_id: i64,
    challenge: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO device_bindings (sign_in_id, user_id, challenge, challenge_expires_at, \
         created_at) VALUES ($1, $2, $3, $5, $4) \
         ON CONFLICT (sign_in_id) DO UPDATE SET challenge = $3, challenge_expires_at = $5 \
         WHERE device_bindings.public_key IS NULL",
    )
    .bind(sign_in_id)
    .bind(user_id)
    .bind(challenge)
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The sign-in's binding, if it has an offer or a key.
pub async fn of_sign_in(db: &Pool, sign_in_id: &str) -> Result<Option<Binding>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM device_bindings WHERE sign_in_id = $1"
    ))
    .bind(sign_in_id)
    .fetch_optional(db)
    .await
}

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

/// Takes the offer: stores the key if the sign-in's offer is still open,
/// answered with `challenge`, and not expired. False if any of that no
/// longer holds (taken by a parallel registration, expired, another
/// challenge).
pub async fn register(
    db: &Pool,
    sign_in_id: &str,
    challenge: &str,
    public_key: &str,
    session_identifier: &str,
    issued: &Issued<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE device_bindings SET public_key = $3, session_identifier = $4, \
         challenge = $5, previous_challenge = NULL, challenge_expires_at = $6, \
         cookie_hash = $7, cookie_expires_at = $8, registered_at = $9, refreshed_at = $9 \
         WHERE sign_in_id = $1 AND challenge = $2 AND public_key IS NULL \
         AND challenge_expires_at > $9",
    )
    .bind(sign_in_id)
    .bind(challenge)
    .bind(public_key)
    .bind(session_identifier)
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
