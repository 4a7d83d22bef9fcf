//! `[jwt]`: where the signing keys live, how long a token lives, whom it is
//! for, and what makes a valid set of them.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Access tokens for API clients (issue 14): JWTs signed with Ed25519 keys
/// kept in `key_dir` (`server jwt rotate` adds one).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSettings {
    /// One PKCS#8 PEM file per key, named `<kid>.pem`; the newest signs,
    /// older ones are published until their last token has expired.
    pub key_dir: PathBuf,
    /// Create a first key at start-up when `key_dir` has none (`make run`
    /// and the tests; a deployment runs `server jwt rotate` instead).
    pub create_key_if_missing: bool,
    /// Lifetime of an access token. Short: a resource server that cannot
    /// reach the session store accepts a token until it expires.
    pub ttl_secs: u64,
    /// `iss` and `aud`, compared exactly.
    pub issuer: String,
    pub audience: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (at most 30 s).
    pub leeway_secs: u64,
    /// How often `key_dir` is read again, so that a key added by
    /// `server jwt rotate` on any machine is used and accepted everywhere
    /// (0: on every use, for tests).
    pub reload_secs: u64,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            key_dir: PathBuf::from("data/jwt"),
            create_key_if_missing: false,
            ttl_secs: 300,
            issuer: "tessera".to_owned(),
            audience: "tessera-api".to_owned(),
            leeway_secs: 30,
            reload_secs: 10,
        }
    }
}

impl JwtSettings {
    /// The first problem with these settings, if any.
    pub fn problem(&self) -> Option<&'static str> {
        [
            (
                self.ttl_secs == 0 || self.ttl_secs > 86_400,
                "jwt.ttl_secs must be 1 to 86400 (access tokens are short-lived)",
            ),
            (self.leeway_secs > 30, "jwt.leeway_secs must be at most 30"),
            (
                self.reload_secs > 300,
                "jwt.reload_secs must be at most 300 (a new key signs only after it)",
            ),
            (
                self.issuer.trim().is_empty() || self.audience.trim().is_empty(),
                "jwt.issuer and jwt.audience must not be empty",
            ),
        ]
        .into_iter()
        .find_map(|(bad, message)| bad.then_some(message))
    }
}
