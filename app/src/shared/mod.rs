//! What pages, server functions (`api`) and the security core (`ssr`)
//! share: the error every server function answers, and the views and
//! inputs they exchange. A leaf: it imports neither `api` nor `ssr`, so the
//! core can use these types without depending on the server functions.

mod account;
mod admin;
mod devices;
mod error;
mod mfa;
mod passkeys;
mod session;
mod tokens;

pub use account::*;
pub use admin::*;
pub use devices::*;
pub use error::AppError;
pub use mfa::*;
pub use passkeys::*;
pub use session::*;
pub use tokens::*;

use serde::{Deserialize, Serialize};
use std::fmt;

/// A secret travelling in a form (a password): decoded like a string, but
/// never printed by `Debug`, so logging a request cannot leak it.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}
