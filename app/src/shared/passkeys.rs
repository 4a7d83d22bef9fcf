//! The types of `api::passkeys`'s server functions, shared with the pages
//! and the core (`crate::shared`).

use serde::{Deserialize, Serialize};

/// Why a passkey ceremony runs; the finish must match the begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasskeyPurpose {
    /// Adding a passkey to the signed-in account (after a step-up).
    Register,
    /// Signing in with a passkey alone (usernameless).
    SignIn,
    /// The second step of a password sign-in.
    SecondFactor,
    /// Confirming a sensitive action (step-up).
    StepUp,
}

/// A passkey as `/account/security` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    pub id: i64,
    pub name: String,
    /// Unix seconds.
    pub created: i64,
    pub last_used: Option<i64>,
}
