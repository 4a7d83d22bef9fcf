//! What a signed-in user manages about themselves.
//!
//! - `devices`: their sessions (list, end one, end the others) and their
//!   activity, read from the audit log.
//! - `profile`: display name and about text.

pub mod devices;
pub mod profile;
