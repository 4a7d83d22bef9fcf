//! Logging. Session IDs, passwords and hashes are never logged: the code
//! that handles them skips them (`#[instrument(skip_all)]`, redacting
//! `Debug`), and sqlx logs statements, never their bound values.
//! server/tests/logs.rs enforces it: a whole sign-in/sign-out at TRACE
//! level, searched for the session IDs and passwords.

use app::ssr::config::LogFormat;
use tracing_subscriber::{fmt, EnvFilter};

/// tower-sessions' own events are off: its `Session::save` reports every
/// refused save as an ERROR, and a refused save is the expected end of a
/// request that raced a sign-out (issue 8); our session layer logs the
/// save failures that are real errors itself.
pub fn init(format: LogFormat) {
    init_as(
        "info,sqlx=warn,tower_sessions=warn,tower_sessions_core=off",
        format,
    );
}

/// `RUST_LOG` if set, else `default` (tests pass a quieter one).
pub fn init_with_default(default: &str) {
    init_as(default, LogFormat::Text);
}

/// `[log] format = "json"`: one JSON object per line, for a log shipper.
fn init_as(default: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // `try_init`: tests build many apps in one process.
    let _ = match format {
        LogFormat::Text => fmt().with_env_filter(filter).with_target(false).try_init(),
        LogFormat::Json => fmt()
            .json()
            .with_env_filter(filter)
            .with_target(false)
            .try_init(),
    };
}
