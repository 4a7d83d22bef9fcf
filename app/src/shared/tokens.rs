//! The types of `api::tokens`'s server functions, shared with the pages
//! and the core (`crate::shared`).

use serde::{Deserialize, Serialize};

/// An OAuth-style token answer (RFC 6749 section 5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds until it expires (`[jwt] ttl_secs`).
    pub expires_in: u64,
}
