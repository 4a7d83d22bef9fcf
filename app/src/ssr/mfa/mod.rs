//! Two-step verification: TOTP, recovery codes, and the rules for when a
//! second proof is asked for (ASVS 5.0 V6.5, 7.2.4, 7.5.1). Passkeys, which
//! are a second factor and a first one, have their own room
//! (`ssr::passkeys`).
//!
//! - `totp`: codes and the steps they belong to (plain, unit-tested).
//! - `recovery`: single-use recovery codes, stored as hashes.
//! - `sealing`: TOTP secrets encrypted at rest (AES-256-GCM).
//! - `factors`: the database side: enrolment, single use of steps and codes.
//! - `step_up`: re-authentication before a sensitive action.
//! - `sign_in`: the second step of a sign-in, and who must have MFA.
//! - `enrolment`: turning MFA on and off, renewing recovery codes.

pub mod enrolment;
pub mod factors;
pub mod recovery;
pub mod sealing;
pub mod settings;
pub mod sign_in;
pub mod step_up;
pub mod totp;
