//! The database: SQLite (the embedded default) or PostgreSQL (several
//! servers on one store, issue 14), and every statement the app sends it.
//!
//! One file per table, and all SQL lives here: the domain calls functions
//! (`db::users::set_profile`, `db::sessions::touch`), never writes SQL. A
//! statement that writes a table is in that table's file, and nowhere else;
//! a read that joins other tables lives with the table whose rows it
//! returns (`users::admin_list` counts each user's sessions).
//! `server/tests/architecture.rs` holds both rules. Functions answer
//! `sqlx::Error`; the callers decide what a failure means to a request.
//!
//! - `connect`: the pool, its per-connection settings, the migrations, and
//!   `write_transaction` (`BEGIN IMMEDIATE` on SQLite).
//! - `users`: accounts. Its writes take the session cache and clear the
//!   user's entries themselves (sessions carry the user's row): no caller
//!   can change a cached column and forget to.
//! - `sessions`: the session store's rows (`session::store` keeps the cache
//!   and the tower-sessions contract around them).
//! - `totp_factors`, `recovery_codes`, `passkeys`, `passkey_ceremonies`:
//!   second factors and the WebAuthn challenges' single-use tickets.
//! - `throttle`: the brute-force counters (`auth::throttle` holds the rules).
//! - `audit_events`: the audit log, and the counts the alert rules read.
//! - `notifications`: PostgreSQL's `LISTEN`/`NOTIFY`, by which several
//!   servers keep their session caches true (issue 24).
//!
//! Both engines run the same queries through sqlx's `Any` driver: SQL is
//! written in the dialect they share (`$1` parameters, `ON CONFLICT`,
//! `RETURNING`, `CASE` instead of two-argument `MIN`/`MAX`, `lower()` for
//! case-insensitive names), every integer is an `i64`, every byte string a
//! `Vec<u8>`. Each engine has its own migrations folder, kept equivalent
//! (server/tests/store_conformance.rs compares the two schemas).

mod connect;

pub mod audit_events;
pub mod device_bindings;
pub mod notifications;
pub mod passkey_ceremonies;
pub mod passkeys;
pub mod recovery_codes;
pub mod sessions;
pub mod throttle;
pub mod totp_factors;
pub mod users;

pub use connect::*;
