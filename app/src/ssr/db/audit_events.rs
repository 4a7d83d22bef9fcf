//! `audit_events`: the audit log (`audit` decides what is written), and the
//! bounded counts the alert rules read from it (`audit::alerts`). Every
//! count is capped by a `LIMIT` and served by the `audit_events_user_event`
//! index: a rule asks "at least N?", so no count reads more than N rows.

use super::Pool;
use sqlx::Arguments;

/// One event, as its row's columns. Client-supplied text is cut to its
/// column's bound by the caller (`audit::Entry`).
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: i64,
    pub event: &'static str,
    pub outcome: &'static str,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub session_hash: Option<Vec<u8>>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: String,
}

/// The statement that writes one event; its nine values come from
/// `arguments`. `RETURNING` may follow (`insert_sign_in`).
const INSERT: &str = "INSERT INTO audit_events (at, event, outcome, user_id, username, \
     session_hash, ip, user_agent, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// `event` as `INSERT`'s nine values ($1 ... $9).
fn arguments(event: &NewEvent) -> Result<sqlx::any::AnyArguments<'static>, sqlx::Error> {
    let mut values = sqlx::any::AnyArguments::default();
    let add = |added: Result<(), sqlx::error::BoxDynError>| added.map_err(sqlx::Error::Encode);
    add(values.add(event.at))?;
    add(values.add(event.event))?;
    add(values.add(event.outcome))?;
    add(values.add(event.user_id))?;
    add(values.add(event.username.clone()))?;
    add(values.add(event.session_hash.clone()))?;
    add(values.add(event.ip.clone()))?;
    add(values.add(event.user_agent.clone()))?;
    add(values.add(event.details.clone()))?;
    Ok(values)
}

pub async fn insert(db: &Pool, event: &NewEvent) -> Result<(), sqlx::Error> {
    sqlx::query_with(INSERT, arguments(event)?)
        .execute(db)
        .await
        .map(|_| ())
}

/// A `session_expired` event: when, whose, which session (keyed hash),
/// from where, and the details.
pub type ExpiredEvent = (
    i64,
    Option<i64>,
    Vec<u8>,
    Option<String>,
    Option<String>,
    String,
);

/// Writes `session_expired` events, a thousand to a statement (6 values a
/// row; SQLite allows 32,766 in a statement). Chunks already written stay
/// written when a later one fails.
pub async fn insert_expired_sessions(
    db: &Pool,
    events: &[ExpiredEvent],
) -> Result<(), sqlx::Error> {
    for chunk in events.chunks(1_000) {
        let rows = (0..chunk.len())
            .map(|i| {
                let p = i * 6;
                format!(
                    "(${}, 'session_expired', 'success', ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO audit_events (at, event, outcome, user_id, session_hash, ip, \
             user_agent, details) VALUES {rows}"
        );
        let mut query = sqlx::query(&sql);
        for (at, user_id, session_hash, ip, user_agent, details) in chunk {
            query = query
                .bind(*at)
                .bind(*user_id)
                .bind(session_hash.clone())
                .bind(ip.clone())
                .bind(user_agent.clone())
                .bind(details.clone());
        }
        query.execute(db).await?;
    }
    Ok(())
}

/// Deletes up to `batch` events from before `cutoff`, oldest first; how
/// many.
pub async fn delete_before(db: &Pool, cutoff: i64, batch: u32) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM audit_events WHERE id IN \
         (SELECT id FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)",
    )
    .bind(cutoff)
    .bind(i64::from(batch))
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// A user's own events, newest first.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserEvent {
    pub at: i64,
    pub event: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// JSON: read for the event's words, never shown as it is.
    pub details: String,
}

pub async fn of_user(
    db: &Pool,
    user_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<UserEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, event, outcome, ip, user_agent, details FROM audit_events \
         WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(user_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// An event as the admin's log shows it: when, what, outcome, the user's
/// name (or the name typed), address, user agent, details.
pub type AdminEventRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// Events since `since`, newest first: all, or those of the user named
/// `user` (any case; "" for all) and of the kind `event` ("" for all).
pub async fn search(
    db: &Pool,
    user: &str,
    event: &str,
    since: i64,
    limit: i64,
) -> Result<Vec<AdminEventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.at, a.event, a.outcome, COALESCE(u.username, a.username), a.ip, a.user_agent, \
                a.details \
         FROM audit_events a LEFT JOIN users u ON u.id = a.user_id \
         WHERE ($1 = '' OR lower(u.username) = lower($1) OR lower(a.username) = lower($1)) \
           AND ($2 = '' OR a.event = $2) AND a.at >= $3 \
         ORDER BY a.at DESC, a.id DESC LIMIT $4",
    )
    .bind(user)
    .bind(event)
    .bind(since)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Failed sign-ins to the account after `since`, counted up to `cap`.
pub async fn failed_sign_ins_of_user(
    db: &Pool,
    user_id: i64,
    since: i64,
    cap: u32,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE user_id = $1 \
         AND event = 'sign_in' AND outcome = 'failure' AND at > $2 LIMIT $3) AS hits",
    )
    .bind(user_id)
    .bind(since)
    .bind(i64::from(cap))
    .fetch_one(db)
    .await
}

/// Wrong second-factor codes (sign-in or step-up) for the account after
/// `since`, counted up to `cap`.
pub async fn failed_codes_of_user(
    db: &Pool,
    user_id: i64,
    since: i64,
    cap: u32,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE user_id = $1 \
         AND event IN ('second_factor', 'step_up') AND outcome = 'failure' AND at > $2 \
         LIMIT $3) AS hits",
    )
    .bind(user_id)
    .bind(since)
    .bind(i64::from(cap))
    .fetch_one(db)
    .await
}

/// Whether a `throttled` event from the address was written after `since`
/// (served by `audit_events_ip`).
pub async fn throttled_from_since(db: &Pool, ip: &str, since: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM audit_events WHERE ip = $1 AND at > $2 AND event = 'throttled' LIMIT 1",
    )
    .bind(ip)
    .bind(since)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Failed sign-ins from the address after `since`, counted up to `cap`.
pub async fn failed_sign_ins_from(
    db: &Pool,
    ip: &str,
    since: i64,
    cap: u32,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE ip = $1 AND at > $2 \
         AND event = 'sign_in' AND outcome = 'failure' LIMIT $3) AS hits",
    )
    .bind(ip)
    .bind(since)
    .bind(i64::from(cap))
    .fetch_one(db)
    .await
}

/// What came before a successful sign-in, as the alert rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInHistory {
    /// The id of the event just written.
    pub event_id: i64,
    /// Failed sign-ins after the last earlier success (up to the cap).
    pub failures: i64,
    /// Sign-ins and sign-outs since `since` (up to the cap).
    pub churn: i64,
    /// Whether a `rapid_sessions` alert was raised since `since`.
    pub churn_raised: bool,
    /// Whether an earlier successful sign-in exists.
    pub signed_in_before: bool,
    /// Whether one of the last 50 came with this very user agent.
    pub same_user_agent_seen: bool,
    /// Asked for when this sign-in has a place (issue 25): the latest
    /// earlier successful sign-in that had one (its time, address and
    /// details, with `location`).
    pub previous_located: Option<LocatedSignIn>,
}

/// An earlier sign-in with a place: `at`, `ip`, `details`.
pub type LocatedSignIn = (i64, Option<String>, String);

/// Writes a successful sign-in (`event`) and returns its history, in one
/// statement: a sign-in makes one round trip to the database for both (W2,
/// `make bench`; A/B in the commit). PostgreSQL's subqueries in `RETURNING`
/// read the rows as they were before the insert, SQLite's see the new row
/// too: every count that could match it leaves it out by id, so both
/// engines count only earlier events.
pub async fn insert_sign_in(
    db: &Pool,
    event: &NewEvent,
    failures_cap: u32,
    since: i64,
    churn_cap: u32,
    with_previous_located: bool,
) -> Result<SignInHistory, sqlx::Error> {
    // $4 the user, $8 the user agent (as stored), $10 the failures' cap,
    // $11 since, $12 the churn's cap.
    let last_success = "SELECT l.{} FROM audit_events l WHERE l.user_id = $4 \
         AND l.event = 'sign_in' AND l.outcome = 'success' AND l.id <> audit_events.id \
         ORDER BY l.at DESC, l.id DESC LIMIT 1";
    let last_at = last_success.replace("{}", "at");
    let last_id = last_success.replace("{}", "id");
    // The impossible-travel rule's baseline, in the same round trip (W2,
    // issue 25): each column from the same index seek.
    let located = "SELECT p.{} FROM audit_events p WHERE p.user_id = $4 \
         AND p.event = 'sign_in' AND p.outcome = 'success' AND p.id <> audit_events.id \
         AND p.details LIKE '%\"location\":{%' ORDER BY p.at DESC, p.id DESC LIMIT 1";
    let previous = match with_previous_located {
        true => format!(
            ", ({}), ({}), ({})",
            located.replace("{}", "at"),
            located.replace("{}", "ip"),
            located.replace("{}", "details")
        ),
        false => ", NULL, NULL, NULL".to_owned(),
    };
    let sql = format!(
        "{INSERT} RETURNING id, \
           (SELECT COUNT(*) FROM (SELECT 1 FROM audit_events e WHERE e.user_id = $4 \
              AND e.event = 'sign_in' AND e.outcome = 'failure' \
              AND e.at >= COALESCE(({last_at}), 0) \
              AND e.id > COALESCE(({last_id}), 0) LIMIT $10) AS failures), \
           (SELECT COUNT(*) FROM (SELECT 1 FROM audit_events e WHERE e.user_id = $4 \
              AND e.event IN ('sign_in', 'sign_out') AND e.outcome = 'success' AND e.at > $11 \
              AND e.id <> audit_events.id LIMIT $12) AS churn), \
           (SELECT COUNT(*) FROM (SELECT 1 FROM audit_events e WHERE e.user_id = $4 \
              AND e.event = 'alert' AND e.outcome = 'success' AND e.at > $11 \
              AND e.details LIKE '%\"kind\":\"rapid_sessions\"%' LIMIT 1) AS raised), \
           CASE WHEN EXISTS ({last_id}) THEN 1 ELSE 0 END, \
           CASE WHEN EXISTS (SELECT 1 FROM (SELECT r.user_agent FROM audit_events r \
                 WHERE r.user_id = $4 AND r.event = 'sign_in' AND r.outcome = 'success' \
                   AND r.id <> audit_events.id ORDER BY r.at DESC LIMIT 50) AS recent \
               WHERE recent.user_agent IS NOT DISTINCT FROM $8) THEN 1 ELSE 0 END{previous}",
    );
    let mut values = arguments(event)?;
    for extra in [i64::from(failures_cap), since, i64::from(churn_cap)] {
        values.add(extra).map_err(sqlx::Error::Encode)?;
    }
    type Row = (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        Option<String>,
    );
    let (event_id, failures, churn, raised, before, seen, located_at, located_ip, located) =
        sqlx::query_as_with::<_, Row, _>(&sql, values)
            .fetch_one(db)
            .await?;
    Ok(SignInHistory {
        event_id,
        failures,
        churn,
        churn_raised: raised > 0,
        signed_in_before: before == 1,
        same_user_agent_seen: seen == 1,
        previous_located: located_at
            .zip(located)
            .map(|(at, details)| (at, located_ip, details)),
    })
}

/// Whether `event` was recorded for the user's sign-in `sign_in` (its
/// keyed hash, as the details name it) since `since`.
pub async fn noted_for_sign_in(
    db: &Pool,
    user_id: i64,
    event: &str,
    sign_in: &str,
    since: i64,
) -> Result<bool, sqlx::Error> {
    let pattern = format!("%\"sign_in\":\"{sign_in}\"%");
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE user_id = $1 AND event = $2 \
         AND at >= $3 AND details LIKE $4 LIMIT 1) AS hits",
    )
    .bind(user_id)
    .bind(event)
    .bind(since)
    .bind(pattern)
    .fetch_one(db)
    .await
    .map(|hits| hits > 0)
}

/// The user agents of the user's last 50 successful sign-ins but
/// `except_event`.
pub async fn recent_sign_in_user_agents(
    db: &Pool,
    user_id: i64,
    except_event: i64,
) -> Result<Vec<Option<String>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_agent FROM audit_events WHERE user_id = $1 AND event = 'sign_in' \
         AND outcome = 'success' AND id <> $2 ORDER BY at DESC LIMIT 50",
    )
    .bind(user_id)
    .bind(except_event)
    .fetch_all(db)
    .await
}
