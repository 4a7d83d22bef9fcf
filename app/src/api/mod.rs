//! The client/server seam: thin `#[server]` functions with explicit
//! endpoint names (stable URLs under /api for tests, benchmarks and docs)
//! The types they exchange are in `crate::shared` (re-exported here for
//! the pages); the work happens in `crate::ssr`. So the seam is one-way:
//! `api` calls `ssr`, and `ssr` never imports `api`
//! (`server/tests/architecture.rs`).

mod account;
mod admin;
mod auth;
mod devices;
mod mfa;
mod passkeys;
mod session;
mod tokens;

pub use account::*;
pub use admin::*;
pub use auth::*;
pub use devices::*;
pub use mfa::*;
pub use passkeys::*;
pub use session::*;
pub use tokens::*;

pub use crate::shared::*;
