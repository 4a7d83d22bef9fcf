//! Device Bound Session Credentials (issue 26; W3C webappsec-dbsc): the
//! browser keeps a private key per session in the device's secure
//! hardware, and only the device holding it can get a new short-lived
//! bound cookie.
//!
//! - `proof`: the browser's signed proofs (ES256, pinned), plain Rust.

pub mod proof;
