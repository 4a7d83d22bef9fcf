//! Server-side sessions (OWASP Session Management Cheat Sheet; ASVS 5.0 V7).
//!
//! - `id`: 128-bit IDs from the OS CSPRNG; only their SHA-256 is stored.
//! - `policy`: idle and absolute timeouts, the touch throttle (pure).
//! - `store`: the tower-sessions store on SQLite.
//! - `cache`: live rows kept in memory, dropped by every write on this server.
//! - `cross_server`: and by every other server's, on PostgreSQL (issue 24).
//! - `auth`: the typed facade handlers use (log in, activity, log out).
//! - `cookie`: the `__Host-sid` cookie's attributes, in one place.

pub mod auth;
pub mod binding;
pub mod cache;
pub mod cookie;
pub mod cross_server;
pub mod id;
pub mod policy;
pub mod settings;
pub mod store;

pub use auth::{
    new_sign_in_id, AuthSession, AuthState, Held, LiveSession, PendingSignIn, SealedInSession,
};
pub use policy::{Deadlines, SessionPolicy};
pub use store::{
    ClientInfo, ExpiredSession, SessionBackend, SessionOwner, SqlSessionStore, StoredSession,
};
