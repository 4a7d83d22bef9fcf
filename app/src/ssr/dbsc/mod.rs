//! Device Bound Session Credentials (issue 26; W3C webappsec-dbsc): the
//! browser keeps a private key per session in the device's secure
//! hardware, and only the device holding it can get a new short-lived
//! bound cookie.
//!
//! - `proof`: the browser's signed proofs (ES256, or RS256 from a TPM 1.2;
//!   the algorithm is the key's), plain Rust.
//! - `binding`: the offer, registration, refresh, and the bound cookie's
//!   check on every request.
//! - `http`: the two endpoints, `/dbsc/register` and `/dbsc/refresh`.
//! - `settings`: `[dbsc]`.

pub mod binding;
pub mod http;
pub mod proof;
pub mod settings;
