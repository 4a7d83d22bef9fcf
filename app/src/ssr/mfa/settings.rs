//! `[mfa]`: who must have two-step verification, the sealing key, the
//! step-up window and the limits on codes, and what makes a valid set.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::ssr::clock::MAX_DURATION_SECS;

/// Who must have two-step verification (the seed: high-risk apps require
/// MFA at sign-in).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MfaRequirement {
    None,
    Admins,
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MfaSettings {
    /// A user who must have MFA and has none is sent to enrolment right
    /// after the password, on a session that grants nothing else.
    pub require: MfaRequirement,
    /// 64 hex digits (32 bytes) that seal TOTP secrets at rest. Without it
    /// two-step verification cannot be turned on; with MFA data in the
    /// database and no key, the server refuses to start.
    pub key_file: PathBuf,
    /// How long a step-up (re-authentication) allows sensitive actions.
    pub step_up_window_secs: u64,
    /// Wrong codes per account, across all its sign-in attempts, before
    /// codes are refused for the rest of `failure_window_secs`.
    pub max_failures_per_account: u32,
    pub failure_window_secs: u64,
    /// A sign-in waiting for its second factor ends after this long...
    pub pending_timeout_secs: u64,
    /// ...or after this many wrong codes.
    pub max_codes_per_sign_in: u32,
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self {
            require: MfaRequirement::Admins,
            key_file: PathBuf::from("data/mfa.key"),
            step_up_window_secs: 600,
            max_failures_per_account: 10,
            failure_window_secs: 900,
            pending_timeout_secs: 300,
            max_codes_per_sign_in: 5,
        }
    }
}

impl MfaSettings {
    /// The first problem with these settings, if any.
    pub fn problem(&self) -> Option<&'static str> {
        let bad_window = |secs: u64| secs == 0 || secs > MAX_DURATION_SECS;
        [
            (
                bad_window(self.step_up_window_secs),
                "mfa.step_up_window_secs must be 1 to 31536000",
            ),
            (
                bad_window(self.failure_window_secs),
                "mfa.failure_window_secs must be 1 to 31536000",
            ),
            (
                bad_window(self.pending_timeout_secs),
                "mfa.pending_timeout_secs must be 1 to 31536000",
            ),
            (
                self.max_failures_per_account == 0 || self.max_codes_per_sign_in == 0,
                "mfa.max_failures_per_account and max_codes_per_sign_in must be > 0",
            ),
        ]
        .into_iter()
        .find_map(|(bad, message)| bad.then_some(message))
    }
}
