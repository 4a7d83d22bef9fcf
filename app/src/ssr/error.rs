//! The server face of errors: log the whole cause chain, show a generic
//! message (style guide item 5).

use std::error::Error;
use std::fmt::Write;

use axum::body::{to_bytes, Body};
use axum::http::response::Parts as ResponseParts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::shared::AppError;

/// A store error caused by a busy database (SQLite's write lock held past
/// `busy_timeout_ms`, PostgreSQL's lock timeout): tower-sessions' error
/// carries only text, so the cause travels as this text, and
/// `is_database_busy` answers it 503 like any other busy write.
pub const DATABASE_BUSY: &str = "the database is busy";

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
/// database still locked by another writer after SQLite's own bounded
/// retries (`[database] busy_timeout_ms`) is `Busy` instead: 503 with
/// `Retry-After`, not a 500 (issue 13).
#[track_caller]
pub fn internal<E: Error + 'static>(error: E) -> AppError {
    let at = std::panic::Location::caller();
    if is_database_busy(&error) {
        tracing::warn!(error = %error_chain(&error), at = %at, "database busy: 503");
        return AppError::Busy(1);
    }
    tracing::error!(error = %error_chain(&error), at = %at, "internal error");
    AppError::Internal
}

/// SQLITE_BUSY or SQLITE_LOCKED (with any extended code), or PostgreSQL's
/// lock_not_available (`[database] busy_timeout_ms` passed), deadlock or
/// serialization failure, anywhere in the error's chain.
pub fn is_database_busy(error: &(dyn Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(sqlx::Error::Database(database)) = error.downcast_ref::<sqlx::Error>() {
            let code = database.code();
            if matches!(code.as_deref(), Some("55P03" | "40P01" | "40001")) {
                return true;
            }
            let sqlite = code.and_then(|c| c.parse::<i32>().ok());
            if matches!(sqlite.map(|c| c & 0xff), Some(5 | 6)) {
                return true;
            }
        }
        // The session store's errors carry text only (see DATABASE_BUSY).
        use tower_sessions::{session, session_store};
        let store_error = match error.downcast_ref::<session::Error>() {
            Some(session::Error::Store(e)) => Some(e),
            _ => error.downcast_ref::<session_store::Error>(),
        };
        if let Some(session_store::Error::Backend(message)) = store_error {
            if message == DATABASE_BUSY {
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
