//! The server face of errors: log the whole cause chain, show a generic
//! message (style guide item 5).

use std::error::Error;
use std::fmt::Write;

use axum::body::{to_bytes, Body};
use axum::http::response::Parts as ResponseParts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::shared::AppError;

/// A store error caused by a database that cannot serve now (busy,
/// unreachable, full: `is_database_unavailable`): tower-sessions' error
/// carries only text, so the cause travels as this text, answered 503 like
/// the others.
pub const DATABASE_UNAVAILABLE: &str = "the database is busy or unavailable";

/// "outer: cause: root cause", for the log.
pub fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Logs an unexpected error and turns it into the generic `Internal`; a
/// database that cannot serve now (locked by another writer past
/// `[database] busy_timeout_ms`, issue 13; unreachable, restarting, full
/// or read-only, issue 24) is `Busy` instead: 503 with `Retry-After`, not
/// a 500, and the request is answered within the pool's
/// `acquire_timeout_ms` rather than hanging.
#[track_caller]
pub fn internal<E: Error + 'static>(error: E) -> AppError {
    let at = std::panic::Location::caller();
    if is_database_unavailable(&error) {
        tracing::warn!(error = %error_chain(&error), at = %at, "database unavailable: 503");
        return AppError::Busy(1);
    }
    tracing::error!(error = %error_chain(&error), at = %at, "internal error");
    AppError::Internal
}

/// Anywhere in the error's chain, a database that cannot serve now but
/// may soon: busy (SQLITE_BUSY, SQLITE_LOCKED; PostgreSQL's
/// lock_not_available after `[database] busy_timeout_ms`, a deadlock, a
/// serialization failure), unreachable (no connection within the pool's
/// acquire timeout, a refused or broken connection; PostgreSQL shutting
/// down, starting or out of connections) or unable to write (SQLITE_FULL,
/// SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN; PostgreSQL's disk full,
/// out of memory, read-only standby).
pub fn is_database_unavailable(error: &(dyn Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        match error.downcast_ref::<sqlx::Error>() {
            Some(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed,
            ) => return true,
            Some(sqlx::Error::Database(database)) => {
                let code = database.code();
                let postgres = code.as_deref().unwrap_or_default();
                if matches!(postgres, "55P03" | "40P01" | "40001" | "25006")
                    || ["08", "53", "57P"]
                        .iter()
                        .any(|class| postgres.starts_with(class))
                {
                    return true;
                }
                let sqlite = code.and_then(|c| c.parse::<i32>().ok());
                if matches!(sqlite.map(|c| c & 0xff), Some(5 | 6 | 8 | 10 | 13 | 14)) {
                    return true;
                }
            }
            _ => {}
        }
        // The session store's errors carry text only (see DATABASE_UNAVAILABLE).
        use tower_sessions::{session, session_store};
        let store_error = match error.downcast_ref::<session::Error>() {
            Some(session::Error::Store(e)) => Some(e),
            _ => error.downcast_ref::<session_store::Error>(),
        };
        if let Some(session_store::Error::Backend(message)) = store_error {
            if message == DATABASE_UNAVAILABLE {
                return true;
            }
        }
        current = error.source();
    }
    false
}

/// An error answered outside a server function (middleware: cross-site
/// refusal, body limit, session layer) in the same shape as the server
/// functions' errors: the JSON of `AppError`, its status, and
/// `Retry-After` where waiting helps.
pub fn error_response(error: AppError) -> Response {
    let body = serde_json::to_string(&error).unwrap_or_else(|_| "\"Internal\"".to_owned());
    let (mut parts, body) = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
        .into_parts();
    answer_as(&error, &mut parts);
    Response::from_parts(parts, body)
}

/// The status an error is answered with, and `Retry-After` where waiting
/// helps: one rule for middleware errors and server-function errors.
pub fn answer_as(error: &AppError, response: &mut ResponseParts) {
    response.status =
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(secs) = error.retry_after_secs() {
        response
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// Logs `what` and answers 500.
pub fn internal_error(what: &str) -> Response {
    tracing::error!("{what}");
    error_response(AppError::Internal)
}

/// Server-function errors answer with their own status: 4xx for the
/// client's mistakes, 500 only for ours. (Leptos answers every error with
/// 500, including arguments that do not decode.) Plain form posts keep the
/// redirect back to the form that Leptos gives them.
pub async fn server_fn_status(res: Response) -> Response {
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        answer_as(&error, &mut parts);
    }
    Response::from_parts(parts, Body::from(bytes))
}
