//! Who may sign in: accounts, passwords and the throttle in front of them.
//!
//! - `accounts`: registration, the credential check (same cost whether or
//!   not the user exists), the credential epoch, admin rights.
//! - `password`: argon2id with the OWASP parameters: one hash, one check.
//! - `hasher`: where hashes run: their own threads, behind a bounded queue.
//! - `password_rules`: what a new password must be (length, zxcvbn).
//! - `throttle`: one counter model for sign-in, second factor and
//!   registration, kept in the database.
//! - `credential_change`: what follows a change of credentials (ASVS 7.4.3).

pub mod accounts;
pub mod credential_change;
pub mod hasher;
pub mod password;
pub mod password_rules;
pub mod settings;
pub mod throttle;
