//! The HTTP edge: every middleware a request meets, one file each, and the
//! few handlers that are not pages or server functions.
//! `server/src/router.rs` composes them; the order there is the order a
//! request meets them.
//!
//! - `headers`: security headers, the page's CSP nonce (outermost).
//! - `limits`: concurrency, time and body size.
//! - `completion`: a request runs to the end even if its client leaves.
//! - `cross_site`: cross-site requests are refused (ASVS 3.5).
//! - `cache`: what browsers and proxies may keep.
//! - `resolve_session`: who is asking, before any page or server function.
//! - `downloads`: the recovery-codes file.
//! - `proxy`, `assets`: plain helpers the others use (trusted proxies and
//!   the client's address; the build's content-hashed file names).

pub mod assets;
pub mod cache;
pub mod completion;
pub mod cross_site;
pub mod downloads;
pub mod headers;
pub mod limits;
pub mod proxy;
pub mod resolve_session;
