//! The types of `api::session`'s server functions, shared with the pages
//! and the core (`crate::shared`).

use serde::{Deserialize, Serialize};

/// The session's deadlines and the server's clock, so the browser can
/// correct its own clock's skew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDeadlines {
    /// Server time when this was answered, in milliseconds since the epoch.
    pub server_now_ms: i64,
    /// Unix seconds.
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub warn_before_secs: i64,
}
