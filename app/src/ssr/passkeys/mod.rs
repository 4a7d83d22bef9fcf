//! Passkeys (WebAuthn): a second factor, a step-up, and a way to sign in
//! alone (usernameless).
//!
//! - `relying_party`: who we are to the browser (RP ID, origins), checked
//!   at start.
//! - `credentials`: the stored passkeys and the single-use ceremony tickets.
//! - `ceremonies`: begin and finish, for each purpose.
//! - `manage`: the user's list of passkeys, renaming and removing one.

pub mod ceremonies;
pub mod credentials;
pub mod manage;
pub mod relying_party;
