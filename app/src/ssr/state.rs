//! The one state struct, built once at start and shared by every request.

use std::sync::Arc;

use sqlx::SqlitePool;

use crate::ssr::clock::SharedClock;
use crate::ssr::config::Settings;
use crate::ssr::password::PasswordHasher;
use crate::ssr::rate_limit::FailureLimiter;
use crate::ssr::session::{SessionPolicy, SqliteSessionStore};

#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: SqlitePool,
    pub clock: SharedClock,
    pub hasher: PasswordHasher,
    /// The concrete store appears here and in start-up only; everything
    /// else goes through `AuthSession` or the `SessionBackend` trait.
    pub sessions: Arc<SqliteSessionStore>,
    pub session_policy: SessionPolicy,
    pub login_failures: Arc<FailureLimiter>,
}
