//! Two-step verification: TOTP, recovery codes, and the rules for when a
//! second proof is asked for (issue 10; ASVS 5.0 V6.5, 7.2.4, 7.5.1).
//!
//! - `totp`: codes and the steps they belong to (plain, unit-tested).
//! - `recovery`: single-use recovery codes, stored as hashes.
//! - `sealing`: TOTP secrets encrypted at rest (AES-256-GCM).
//! - `factors`: the database side: enrolment, single use of steps and codes.
//! - `flows`: sign-in with a code, step-up, enrolment, turning MFA off.
//! - `passkeys`, `passkey_flows`, `relying_party`: passkeys (WebAuthn,
//!   issue 11) as a second factor, for step-up, and to sign in alone.

pub mod factors;
pub mod flows;
pub mod passkey_flows;
pub mod passkeys;
pub mod recovery;
pub mod relying_party;
pub mod sealing;
pub mod totp;
