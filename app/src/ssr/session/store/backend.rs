//! What the session store offers beyond tower-sessions' four operations,
//! and the types it hands out: the client a session records, its owner, a
//! listed or an expired session, which touches write.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_sessions::session::Id;
use tower_sessions::session_store::{self, SessionStore};

use crate::ssr::session::cache::StorageKey;
use crate::ssr::session::policy::Deadlines;

/// Where a request came from, as recorded with the session (for the user's
/// session list and for spotting a stolen cookie, ASVS 7.5).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The user a session belongs to, as stored now (not as at sign-in): the
/// credential epoch decides whether the session is still valid.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionOwner {
    pub username: String,
    pub credential_epoch: i64,
    pub display_name: String,
    pub about: String,
    /// A sign-in from a new device, until the user dismisses it.
    pub device_notice: Option<String>,
}

/// A listed session and an expired one are rows as `db::sessions` reads them.
pub use crate::ssr::db::sessions::{ExpiredSession, StoredSession};

/// Which touches write: the throttled one of ordinary requests, or the
/// explicit "Stay signed in".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Only if the row was last written at least a touch interval ago.
    IfDue,
    /// Whenever the session is alive.
    Always,
}

/// What `save` reports when the row it would update is gone or holds other
/// data than this request loaded. tower-sessions' store trait has only
/// `Result<()>`, so the outcome travels as this store_error error; the session
/// layer recognises it with `is_session_gone` and sends no cookie.
pub(super) const SESSION_GONE: &str = "the session ended or changed since this request loaded it";

/// Whether a session error is the store saying "this session is gone".
pub fn is_session_gone(error: &tower_sessions::session::Error) -> bool {
    matches!(
        error,
        tower_sessions::session::Error::Store(session_store::Error::Backend(message))
            if message == SESSION_GONE
    )
}

/// Operations beyond tower-sessions' four, for maintenance and for the
/// features that list and revoke sessions. A Postgres store implements this
/// and `SessionStore`; callers do not change.
#[async_trait]
pub trait SessionBackend: SessionStore {
    /// Records activity on a live session: slides the idle deadline (never
    /// past the absolute one) and notes the client, in one conditional
    /// write that leaves the session data alone. Returns the new deadlines,
    /// or `None` when nothing was written: the session is gone, or (for
    /// `Touch::IfDue`) another request has just touched it.
    async fn touch(
        &self,
        session_id: &Id,
        when: Touch,
        client: &ClientInfo,
    ) -> session_store::Result<Option<Deadlines>>;
    /// Deletes up to `batch` expired sessions and returns them (the
    /// clean-up audits the signed-in ones).
    async fn delete_expired(&self, batch: u32) -> session_store::Result<Vec<ExpiredSession>>;
    /// Ends every session of a user (e.g. after a password change).
    async fn delete_all_for_user(&self, user_id: i64) -> session_store::Result<u64>;
    /// Ends one session of a user, named by its storage key (the sessions
    /// page); false if the user has no such session.
    async fn delete_one_for_user(
        &self,
        user_id: i64,
        key: &StorageKey,
    ) -> session_store::Result<bool>;
    /// Ends every session of a user but `keep` ("sign out everywhere else").
    async fn delete_others_for_user(
        &self,
        user_id: i64,
        keep: &StorageKey,
    ) -> session_store::Result<u64>;
    /// The user's row, if their sign-in `sign_in_id` still has a live
    /// session (access tokens, issue 14): one query, the user joined as
    /// `load` does. Always read from the database, never a cache: a
    /// sign-out anywhere ends the token's access at once.
    async fn live_sign_in_owner(
        &self,
        user_id: i64,
        sign_in_id: &str,
    ) -> session_store::Result<Option<SessionOwner>>;
    /// Where a session was first used (its first address and user agent),
    /// for a rotation to carry over; `None` if there is no such row.
    async fn first_client(&self, session_id: &Id) -> session_store::Result<Option<ClientInfo>>;
    /// The user's live sessions, most recently used first.
    async fn live_sessions_of(&self, user_id: i64) -> session_store::Result<Vec<StoredSession>>;
    /// Rows written (created, updated or deleted) since start: for tests
    /// and benchmarks of the "a read is not a write" rule.
    fn writes(&self) -> u64;
    /// The session's record data as the store's cache holds it, if it
    /// holds a live row for this ID: exactly what `load` would hand
    /// tower-sessions, shared instead of copied. `None`: not cached (or the
    /// cache is off); read through the session.
    fn cached_data(&self, session_id: &Id) -> Option<Arc<HashMap<String, Value>>>;
}
