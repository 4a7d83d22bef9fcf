//! The server-only security core: plain Rust, no views.
//!
//! Rooms, from the ground floor up; a module may import its own floor and
//! those below, never above (`server/tests/architecture.rs` fails on any
//! import cycle among these modules):
//!
//! 1. `clock`, `keyed_hash`, `error`: plain helpers; and each concern's
//!    `settings` (`session`, `auth`, `mfa`, `tokens`, `audit`): its sections
//!    of `Leptos.toml` and their checks, leaves that `config` gathers.
//! 2. `config` (settings, loaded and checked once) and `db` (the pool, and
//!    all SQL: one file per table, its only writer).
//! 3. `session` (the store, the cache, the cookie, the typed facade),
//!    `auth::{password, hasher, throttle}`, `mfa::{totp, recovery, sealing}`,
//!    `passkeys::relying_party`, `tokens::{keys, jwt}`, `audit` (the log's
//!    writer),
//!    `http::{proxy, assets}`, `geoip` (the GeoIP database, the travel
//!    rule).
//! 4. `state`: everything a request can reach, built once at start.
//! 5. `context`: the request face (`RequestContext`, `CurrentUser`).
//! 6. The domain, one room per concern: `auth`, `mfa`, `passkeys`,
//!    `tokens`, `audit::alerts`, `account`, `admin`.
//! 7. `page_data`: every page declared once (`PAGES`: who may see it, whether
//!    an enrolling session may, what it loads), and those loads.
//! 8. `http`: the middleware that puts a request together.

pub mod account;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod dbsc;
pub mod error;
pub mod geoip;
pub mod http;
pub mod keyed_hash;
pub mod mfa;
pub mod page_data;
pub mod passkeys;
pub mod session;
pub mod state;
pub mod tokens;
