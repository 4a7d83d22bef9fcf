//! `throttle`: one row per key (a SHA-256 digest), counting attempts in a
//! window; `auth::throttle` holds the rules and explains the statements.

use sqlx::AnyConnection;

/// A key's digest.
pub type KeyDigest = [u8; 32];

/// Counts one attempt against every row of `rows` (digest, limit, whether
/// counted only when the client is not `known` since the given time) in
/// `window` seconds, unless any of them is waiting out its delay. `now` is
/// (the second it is, the second a delay starts from: the next one once a
/// fraction of a second has passed). Returns the digests it counted (none
/// when refused).
pub async fn count_attempt(
    db: &mut AnyConnection,
    rows: &[(KeyDigest, u32, bool)],
    known: Option<(&KeyDigest, i64)>,
    window: i64,
    max_delay: i64,
    (now, delay_from): (i64, i64),
) -> Result<Vec<Vec<u8>>, sqlx::Error> {
    // $1 now, $2 window, $3 the delay cap, $4 the known key, $5 known
    // since, $6 where a delay starts; row i is key ?(7 + 3i), limit
    // ?(8 + 3i), optional ?(9 + 3i).
    let key_param = |i: usize| format!("${}", 7 + 3 * i);
    let limit_param = |i: usize| format!("${}", 8 + 3 * i);
    let optional_param = |i: usize| format!("${}", 9 + 3 * i);
    let n = rows.len();
    let values = (0..n)
        .map(|i| {
            format!(
                "({}, {}, {})",
                key_param(i),
                limit_param(i),
                optional_param(i)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let applies = |i: usize| {
        format!(
            "(key_hash = {} AND ({} = 0 OR NOT known.yes))",
            key_param(i),
            optional_param(i)
        )
    };
    let applying_keys = (0..n).map(applies).collect::<Vec<_>>().join(" OR ");
    let limit_of_row = (0..n)
        .map(|i| format!("WHEN {} THEN {}", key_param(i), limit_param(i)))
        .collect::<Vec<_>>()
        .join(" ");
    let limit = format!("(CASE throttle.key_hash {limit_of_row} END)");
    // The row's new count: the window starts again once it has passed. The
    // `DO UPDATE ... WHERE` repeats the guard on the row as locked, for an
    // engine whose guard read an older snapshot.
    let count =
        "(CASE WHEN throttle.window_start + $2 <= $1 THEN 1 ELSE throttle.failures + 1 END)";
    // min($3, 2^min(20, count - limit)), in the SQL both engines speak
    // (no two-argument MIN in PostgreSQL, no LEAST in SQLite).
    let exponent = format!("CASE WHEN {count} - {limit} < 20 THEN {count} - {limit} ELSE 20 END");
    let doubling = format!("(CAST(1 AS BIGINT) << CAST({exponent} AS INTEGER))");
    let delay = format!("CASE WHEN {doubling} < $3 THEN {doubling} ELSE $3 END");
    let sql = format!(
        "WITH known AS (SELECT EXISTS (SELECT 1 FROM throttle \
                          WHERE key_hash = $4 AND last_success_at > $5) AS yes) \
         INSERT INTO throttle (key_hash, failures, window_start, next_allowed_at) \
         SELECT column1, 1, $1, CASE WHEN 1 >= column2 THEN $6 + 1 ELSE $1 END \
         FROM (VALUES {values}) AS v, known \
         WHERE (column3 = 0 OR NOT known.yes) \
           AND NOT EXISTS (SELECT 1 FROM throttle, known \
                           WHERE ({applying_keys}) AND next_allowed_at > $1) \
         ON CONFLICT (key_hash) DO UPDATE SET \
           failures = {count}, \
           window_start = CASE WHEN throttle.window_start + $2 <= $1 THEN $1 \
                               ELSE throttle.window_start END, \
           next_allowed_at = CASE WHEN {count} < {limit} THEN $1 \
                                  ELSE $6 + {delay} END \
         WHERE throttle.next_allowed_at <= $1 \
         RETURNING key_hash"
    );
    let mut query = sqlx::query_scalar::<_, Vec<u8>>(&sql)
        .bind(now)
        .bind(window)
        .bind(max_delay)
        .bind(known.map(|(k, _)| &k[..]))
        .bind(known.map_or(now, |(_, since)| since))
        .bind(delay_from);
    for (digest, limit, optional) in rows {
        query = query
            .bind(&digest[..])
            .bind(i64::from(*limit))
            .bind(i64::from(*optional));
    }
    query.fetch_all(&mut *db).await
}

/// The latest time any of `keys` allows an attempt again.
pub async fn latest_next_allowed(
    db: &mut AnyConnection,
    keys: &[KeyDigest],
) -> Result<Option<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT MAX(next_allowed_at) FROM throttle WHERE key_hash IN ({})",
        placeholders(keys.len())
    );
    let mut query = sqlx::query_scalar::<_, Option<i64>>(&sql);
    for key in keys {
        query = query.bind(&key[..]);
    }
    query.fetch_one(db).await
}

/// `$1, $2, ... $n` for an `IN` list.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Takes one attempt off each key's count.
pub async fn give_back(db: &mut AnyConnection, keys: &[KeyDigest]) -> Result<(), sqlx::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END \
         WHERE key_hash IN ({})",
        placeholders(keys.len())
    );
    let mut query = sqlx::query(&sql);
    for key in keys {
        query = query.bind(&key[..]);
    }
    query.execute(db).await.map(|_| ())
}

/// In one statement: `clear` started again from zero and marked known at
/// `now` (its `last_success_at`), one attempt given back to each of
/// `others` (each once: PostgreSQL refuses an upsert that touches a row
/// twice).
pub async fn settle_success(
    db: &mut AnyConnection,
    clear: &KeyDigest,
    others: &[KeyDigest],
    now: i64,
) -> Result<(), sqlx::Error> {
    // $1 the cleared key, $2 now, then the others.
    let other_rows: String = (3..others.len() + 3)
        .map(|i| format!(", (${i}, 0, $2, 0, 0)"))
        .collect();
    let sql = format!(
        "INSERT INTO throttle (key_hash, failures, window_start, next_allowed_at, \
           last_success_at) VALUES ($1, 0, $2, 0, $2){other_rows} \
         ON CONFLICT (key_hash) DO UPDATE SET \
           failures = CASE WHEN throttle.key_hash = $1 THEN 0 \
                           WHEN throttle.failures > 0 THEN throttle.failures - 1 ELSE 0 END, \
           next_allowed_at = CASE WHEN throttle.key_hash = $1 THEN 0 \
                                  ELSE throttle.next_allowed_at END, \
           last_success_at = CASE WHEN throttle.key_hash = $1 THEN $2 \
                                  ELSE throttle.last_success_at END"
    );
    let mut query = sqlx::query(&sql).bind(&clear[..]).bind(now);
    for key in others {
        query = query.bind(&key[..]);
    }
    query.execute(db).await.map(|_| ())
}

/// Deletes up to `batch` rows whose window and delay have both passed and
/// whose last success is older than `known_for`; how many.
pub async fn delete_stale(
    db: &mut AnyConnection,
    window: i64,
    now: i64,
    batch: u32,
    known_for: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM throttle WHERE key_hash IN (SELECT key_hash FROM throttle \
         WHERE window_start + $1 <= $2 AND next_allowed_at <= $2 \
           AND last_success_at <= CASE WHEN $2 > $4 THEN $2 - $4 ELSE 0 END LIMIT $3)",
    )
    .bind(window)
    .bind(now)
    .bind(i64::from(batch))
    .bind(known_for)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
