//! The server face of errors: log the whole cause chain, show a generic
//! message (style guide item 5).

use std::error::Error;
use std::fmt::Write;

use crate::api::AppError;

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

/// Logs an unexpected error and turns it into the generic `Internal`.
#[track_caller]
pub fn internal<E: Error>(error: E) -> AppError {
    let at = std::panic::Location::caller();
    tracing::error!(error = %error_chain(&error), at = %at, "internal error");
    AppError::Internal
}
