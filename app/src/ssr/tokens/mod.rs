//! API access tokens: JWTs minted after a step-up, validated in full.
//!
//! - `keys`: the signing keys (load, create, rotate, retire, publish).
//! - `jwt`: the claims, minting, and the one validation function.
//! - `http`: `POST /api/token` and the bearer extractor of `/api/v1`.

pub mod http;
pub mod jwt;
pub mod keys;
pub mod settings;
