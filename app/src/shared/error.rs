//! The one error type server functions return: what the user may see.
//!
//! Errors have two faces (style guide item 5): the variant and its message
//! are safe to show; causes (database errors, I/O) are logged on the server
//! and reach the browser only as `Internal`.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Input that breaks a rule; the message says which and how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// One message for every failed sign-in, whatever the reason, so the
    /// answer does not tell which accounts exist (ASVS 6.3.8).
    #[error("Incorrect username or password.")]
    InvalidCredentials,
    #[error("Please sign in to continue.")]
    Unauthenticated,
    #[error("That username is taken. Please choose another.")]
    UsernameTaken,
    /// Sign-in refused by the brute-force throttle; the number is the
    /// seconds to wait (sent as `Retry-After` too).
    #[error("Too many failed sign-in attempts. Please wait {} minutes and try again.", .0.div_ceil(60).max(1))]
    TooManyAttempts(u64),
    /// A second-factor code that is wrong, malformed, or already used (one
    /// message for all, so a replay is not told apart from a typo).
    #[error("That code is not right, or it was already used. Please check it and try again.")]
    InvalidCode,
    /// Second-factor codes refused by the per-account limit; seconds to wait.
    #[error("Too many wrong codes. Please wait {} minutes and try again.", .0.div_ceil(60).max(1))]
    TooManyCodes(u64),
    /// The sign-in waiting for its second factor ended (timed out, or too
    /// many wrong codes): start again with the password.
    #[error("Your sign-in has expired. Please sign in again.")]
    SignInExpired,
    /// A sensitive action without a recent step-up: nothing was changed.
    /// Clients test for this variant (JSON `"StepUpRequired"`) and ask the
    /// user to confirm it is them, then repeat the action.
    #[error("Please confirm it is you to continue.")]
    StepUpRequired,
    /// Signed in, but not allowed (an admin function for a non-admin).
    #[error("You do not have access to this.")]
    Forbidden,
    /// Two-step verification needs a key the server does not have.
    #[error(
        "Two-step verification is not available on this server. Please contact its administrator."
    )]
    MfaUnavailable,
    /// No access-token signing key on this server (`server jwt rotate`).
    #[error(
        "API access tokens are not available on this server. Please contact its administrator."
    )]
    AccessTokensUnavailable,
    /// A passkey ceremony that did not verify: a wrong or unknown
    /// credential, no user verification, a sign counter that went back.
    /// One message for all (the reason is logged on the server).
    #[error("That passkey could not be used. Please try again, or use another way.")]
    PasskeyRefused,
    /// A passkey finish with no challenge waiting: never started, already
    /// used, or older than five minutes.
    #[error("The passkey request expired or was already used. Please try again.")]
    PasskeyExpired,
    /// The server is too busy to check a password now (the hashing queue is
    /// full, or a slot did not come free in time); the number is the
    /// seconds to wait.
    #[error("The server is busy. Please try again in a few seconds.")]
    Busy(u64),
    /// A state-changing request from another site (ASVS 3.5.x).
    #[error("This request came from another site and was refused.")]
    CrossSite,
    #[error("The request is too large. Please shorten what you typed and try again.")]
    TooLarge,
    /// The request did not arrive (and get its answer) within
    /// `[server] request_timeout_secs`.
    #[error("The request took too long. Please check your connection and try again.")]
    TimedOut,
    /// The request itself was malformed (missing fields, wrong encoding).
    #[error("The form was incomplete or malformed. Please reload the page and try again.")]
    BadRequest,
    #[error("Could not reach the server. Check your connection and try again.")]
    Unreachable,
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(_) | AppError::BadRequest => 400,
            AppError::InvalidCredentials
            | AppError::Unauthenticated
            | AppError::InvalidCode
            | AppError::SignInExpired
            | AppError::PasskeyRefused => 401,
            AppError::PasskeyExpired => 400,
            AppError::StepUpRequired | AppError::Forbidden => 403,
            AppError::UsernameTaken => 409,
            AppError::CrossSite => 403,
            AppError::TooLarge => 413,
            AppError::TimedOut => 408,
            AppError::TooManyAttempts(_) | AppError::TooManyCodes(_) => 429,
            AppError::Unreachable
            | AppError::Busy(_)
            | AppError::MfaUnavailable
            | AppError::AccessTokensUnavailable => 503,
            AppError::Internal => 500,
        }
    }

    /// The kind of an error, for the audit log (no message text).
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "invalid",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Unauthenticated => "unauthenticated",
            AppError::UsernameTaken => "username_taken",
            AppError::TooManyAttempts(_) => "throttled",
            AppError::InvalidCode => "invalid_code",
            AppError::TooManyCodes(_) => "too_many_codes",
            AppError::SignInExpired => "sign_in_expired",
            AppError::StepUpRequired => "step_up_required",
            AppError::Forbidden => "forbidden",
            AppError::MfaUnavailable => "mfa_unavailable",
            AppError::AccessTokensUnavailable => "access_tokens_unavailable",
            AppError::PasskeyRefused => "passkey_refused",
            AppError::PasskeyExpired => "passkey_expired",
            AppError::Busy(_) => "busy",
            AppError::CrossSite => "cross_site",
            AppError::TooLarge => "too_large",
            AppError::TimedOut => "timed_out",
            AppError::BadRequest => "bad_request",
            AppError::Unreachable => "unreachable",
            AppError::Internal => "internal",
        }
    }

    /// Seconds a client should wait before trying again (`Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::TooManyAttempts(secs)
            | AppError::TooManyCodes(secs)
            | AppError::Busy(secs) => Some((*secs).max(1)),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Arguments that do not decode are the client's fault: a 4xx.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::Serialization(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_) => AppError::BadRequest,
            ServerFnErrorErr::Request(_) => AppError::Unreachable,
            ServerFnErrorErr::Registration(_)
            | ServerFnErrorErr::ServerError(_)
            | ServerFnErrorErr::MiddlewareError(_)
            | ServerFnErrorErr::Response(_) => AppError::Internal,
        }
    }
}
