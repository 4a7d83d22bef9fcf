//! The types of `api::mfa`'s server functions, shared with the pages
//! and the core (`crate::shared`).

use serde::{Deserialize, Serialize};

/// Which kind of code the user typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorMethod {
    #[default]
    Totp,
    RecoveryCode,
}

/// `/account/security`, as rendered on the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityView {
    /// The account must turn MFA on before anything else (`[mfa] require`).
    pub must_enrol: bool,
    /// The server has an MFA key (otherwise MFA cannot be turned on).
    pub mfa_available: bool,
    pub mfa_enabled: bool,
    pub recovery_codes_left: i64,
    /// Some unused recovery codes are of the older, shorter kind (made
    /// before codes had 112 bits): the page asks for new ones.
    pub recovery_codes_short: bool,
    /// An enrolment waiting for its first code.
    pub enrolment: Option<EnrolmentView>,
    /// Recovery codes just made, shown once until the user saved them.
    pub new_recovery_codes: Vec<String>,
    /// While a step-up is active: until when (unix seconds).
    pub stepped_up_until: Option<i64>,
    /// How long the step-up still holds, ms (0 if none): the dialog asks
    /// again after that.
    pub step_up_fresh_for_ms: i64,
    pub passkeys: Vec<super::PasskeyView>,
}

/// `/login/verify`: whether a sign-in is waiting for its code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyView {
    pub pending: bool,
    /// The account has a passkey: offered first.
    pub has_passkey: bool,
}

/// `/step-up`: which proof to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepUpView {
    pub mfa_enabled: bool,
    pub has_passkey: bool,
}

#[derive(Clone, PartialEq, Eq)]
pub struct EnrolmentView {
    /// The `otpauth://` QR code as inline SVG markup.
    pub qr_svg: String,
    /// The secret in base32, grouped by four for typing.
    pub secret_base32: String,
}

impl std::fmt::Debug for EnrolmentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolmentView([redacted])")
    }
}
