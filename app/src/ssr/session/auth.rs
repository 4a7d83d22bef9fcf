//! The typed facade over a tower-sessions `Session`: handlers call
//! `log_in`, `log_out`, `record_activity`, never string keys.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tower_sessions::{Expiry, Session};

use super::policy::{Deadlines, SessionPolicy};
use super::store::{
    deadlines_from_json, owner_of_json, ClientInfo, DeviceBinding, SessionBackend, SessionOwner,
    Touch, AUTH_KEY, BINDING_KEY, CLIENT_KEY, FIRST_CLIENT_KEY, IP_KEY, META_KEY, OWNER_KEY,
    USER_AGENT_KEY,
};
use crate::ssr::clock::SharedClock;

/// All a signed-in session holds: who, since when, under which
/// credentials, how they proved it. No password, no personal data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthState {
    pub user_id: i64,
    /// When the user proved who they are (unix seconds).
    pub authenticated_at: i64,
    /// The user's credential epoch at sign-in; a session whose epoch is
    /// behind the user's current one is dead (style guide item 9).
    pub credential_epoch: i64,
    /// How the user proved it, as RFC 8176 `amr` values: "pwd", "otp",
    /// "rec" (a recovery code).
    #[serde(default)]
    pub amr: Vec<String>,
    /// The last step-up (re-authentication for a sensitive action).
    #[serde(default)]
    pub stepped_up_at: Option<i64>,
    /// When the admin area was entered (a privilege change).
    #[serde(default)]
    pub elevated_at: Option<i64>,
    /// The user must turn on two-step verification before anything else
    /// (`[mfa] require`): the session reaches only the enrolment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_enrol: bool,
    /// This sign-in's own random identifier, kept through ID rotations:
    /// access tokens name it in their `sid` claim (issue 14). Sessions
    /// from before it existed get one at their next step-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_id: Option<String>,
    /// The sign-in came from impossibly far from the last (issue 25,
    /// `[geoip] on_impossible_travel = "step_up"`): until a step-up, the
    /// session changes nothing without one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub travel_unconfirmed: bool,
    /// A device binding offered to this sign-in (DBSC, issue 26): the
    /// registration challenge its pages carry. Kept here, written with the
    /// session row the sign-in or step-up saves anyway (no write of its
    /// own on the sign-in path, W2); only an offer: the binding itself
    /// lives in its own table, out of a read-modify-write's reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_offer: Option<DeviceOffer>,
}

/// A registration challenge and until when it may be answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceOffer {
    pub challenge: String,
    pub expires_at: i64,
}

/// A fresh sign-in identifier: 128 random bits, base64url.
pub fn new_sign_in_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// A sign-in that passed the password and waits for the second factor.
/// It grants nothing: a session holding only this is a visitor everywhere
/// except the code page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingSignIn {
    pub user_id: i64,
    pub credential_epoch: i64,
    pub started_at: i64,
    pub wrong_codes: u32,
    /// Where to go after the code (already checked by `safe_next`).
    pub next: String,
    /// This pending sign-in's own random id: its codes are counted in the
    /// database under it, so parallel guesses cannot slip past the limit
    /// the session's `wrong_codes` keeps (review E7). `None` only for a
    /// sign-in pending across the upgrade that added it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_id: Option<String>,
}

/// A secret held in the session between two requests (an enrolment's TOTP
/// secret, recovery codes until the user confirms they saved them),
/// sealed with the MFA key: the sessions table never holds it in clear.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedInSession {
    pub sealed: Vec<u8>,
    pub created_at: i64,
}

const PENDING_KEY: &str = "pending_sign_in";
const ENROLMENT_KEY: &str = "mfa_enrolment";
const CODES_TO_SHOW_KEY: &str = "recovery_codes_to_show";
const PASSKEY_CHALLENGE_KEY: &str = "passkey_challenge";

/// A live, authenticated session as loaded for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub auth: AuthState,
    pub deadlines: Deadlines,
    /// The user's row as loaded with the session; `None` if the account is
    /// gone.
    pub owner: Option<SessionOwner>,
    /// The user agent the session last recorded.
    pub user_agent: Option<String>,
    /// The IP address the session last recorded.
    pub ip: Option<std::net::IpAddr>,
    /// The sign-in's device binding (issue 26), if offered or registered.
    pub binding: Option<DeviceBinding>,
}

pub type SessionError = tower_sessions::session::Error;

/// The sealed secrets a session may hold for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The TOTP secret of an enrolment not yet confirmed with a code.
    Enrolment,
    /// New recovery codes, until the user says they saved them.
    RecoveryCodesToShow,
}

impl Held {
    fn key(self) -> &'static str {
        match self {
            Held::Enrolment => ENROLMENT_KEY,
            Held::RecoveryCodesToShow => CODES_TO_SHOW_KEY,
        }
    }
}

/// What became of an explicit extend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extended {
    /// Written; the new deadlines.
    To(Deadlines),
    /// The session ended (signed out, rotated, expired) after this request
    /// loaded it: nothing was written and no cookie is sent.
    SessionGone,
}

#[derive(Clone, Debug)]
pub struct AuthSession {
    session: Session,
    store: Arc<dyn SessionBackend>,
    policy: SessionPolicy,
    clock: SharedClock,
}

impl AuthSession {
    pub fn new(
        session: Session,
        store: Arc<dyn SessionBackend>,
        policy: SessionPolicy,
        clock: SharedClock,
    ) -> Self {
        Self {
            session,
            store,
            policy,
            clock,
        }
    }

    /// The authenticated session of this request, if any. Loads the row at
    /// most once per request (tower-sessions caches it) and only when the
    /// request carried a well-formed cookie. What it loads is the snapshot
    /// a later save of this request is compared with (the store's
    /// compare-and-swap), so a request that may write reads it here.
    pub async fn current(&self) -> Result<Option<LiveSession>, SessionError> {
        let mut values = Vec::with_capacity(6);
        for key in [
            AUTH_KEY,
            META_KEY,
            OWNER_KEY,
            USER_AGENT_KEY,
            IP_KEY,
            BINDING_KEY,
        ] {
            if let Some(value) = self.session.get_value(key).await? {
                values.push((key, value));
            }
        }
        self.live_session(|key| {
            values
                .iter()
                .find_map(|(name, value)| (*name == key).then_some(value))
        })
    }

    /// `current` for a request that never writes its session (GET and
    /// HEAD: `no_get_route_changes_anything`): a row the store's cache
    /// holds is read in place, without tower-sessions' copy of the whole
    /// record and a copy of each value read (2-3% of W1's CPU, perf;
    /// `make bench`). The same data: the cache holds what `load` returns.
    /// Not for a request that may write: its save would then be compared
    /// with a snapshot taken later than what it decided on.
    pub async fn current_for_reading(&self) -> Result<Option<LiveSession>, SessionError> {
        match self.session.id().and_then(|id| self.store.cached_data(&id)) {
            Some(data) => self.live_session(|key| data.get(key)),
            None => self.current().await,
        }
    }

    /// A live session from its record's values, or `None` (no sign-in, or
    /// past a deadline).
    fn live_session<'a>(
        &self,
        value: impl Fn(&str) -> Option<&'a serde_json::Value>,
    ) -> Result<Option<LiveSession>, SessionError> {
        let Some(auth) = value(AUTH_KEY) else {
            return Ok(None);
        };
        let auth = AuthState::deserialize(auth)?;
        let Some(deadlines) = value(META_KEY).and_then(deadlines_from_json) else {
            // Not loaded from the store (should not happen): treat as no session.
            return Ok(None);
        };
        // The store already refuses expired rows; checking again here keeps
        // the rule visible and guards against a row that expired between the
        // load and now.
        if !SessionPolicy::is_alive(&deadlines, self.clock.now()) {
            return Ok(None);
        }
        Ok(Some(LiveSession {
            auth,
            deadlines,
            owner: value(OWNER_KEY).and_then(owner_of_json),
            user_agent: value(USER_AGENT_KEY)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            ip: value(IP_KEY)
                .and_then(serde_json::Value::as_str)
                .and_then(|ip| ip.parse().ok()),
            binding: value(BINDING_KEY).and_then(|b| DeviceBinding::deserialize(b).ok()),
        }))
    }

    /// Signs the user in on a brand-new session ID.
    ///
    /// Session-fixation defence (ASVS 7.2.4, OWASP cheat sheet "Renew the
    /// Session ID After Any Privilege Level Change"): whatever ID the browser
    /// sent is deleted at once and never reused; the store's `create` draws
    /// a fresh one.
    pub async fn log_in(
        &self,
        user_id: i64,
        credential_epoch: i64,
        amr: &[&str],
        client: &ClientInfo,
    ) -> Result<(), SessionError> {
        self.start_afresh().await?;
        let now = self.clock.now();
        self.session
            .insert(
                AUTH_KEY,
                AuthState {
                    user_id,
                    authenticated_at: now,
                    credential_epoch,
                    amr: amr.iter().map(|m| (*m).to_owned()).collect(),
                    stepped_up_at: None,
                    elevated_at: None,
                    must_enrol: false,
                    sign_in_id: Some(new_sign_in_id()),
                    travel_unconfirmed: false,
                    device_offer: None,
                },
            )
            .await?;
        self.session.insert(CLIENT_KEY, client).await?;
        self.set_cookie_lifetime(&self.policy.start(now));
        Ok(())
    }

    /// The password was right and the user has a second factor: a fresh ID
    /// that grants nothing until the code (ASVS 7.2.4: the ID changes again
    /// when the code completes the sign-in).
    pub async fn begin_second_factor(
        &self,
        pending: &PendingSignIn,
        client: &ClientInfo,
    ) -> Result<(), SessionError> {
        self.start_afresh().await?;
        self.session.insert(PENDING_KEY, pending).await?;
        self.session.insert(CLIENT_KEY, client).await?;
        self.set_cookie_lifetime(&self.policy.start(self.clock.now()));
        Ok(())
    }

    /// Any ID the browser sent is deleted and never reused; the data goes.
    async fn start_afresh(&self) -> Result<(), SessionError> {
        if self.session.id().is_some() {
            self.session.cycle_id().await?;
        }
        self.session.clear().await;
        Ok(())
    }

    /// Right after `log_in`: the user must turn MFA on first. The password
    /// just proven counts as the step-up the enrolment needs.
    pub async fn mark_enrolment_required(&self, now: i64) -> Result<(), SessionError> {
        let Some(mut auth) = self.session.get::<AuthState>(AUTH_KEY).await? else {
            return Ok(());
        };
        auth.must_enrol = true;
        auth.stepped_up_at = Some(now);
        self.session.insert(AUTH_KEY, auth).await
    }

    /// Right after a sign-in judged impossible travel: the session must
    /// confirm it is the user before it changes anything, and holds no
    /// step-up credit (but an account that must first turn on two-step
    /// verification keeps the one its enrolment needs: the enrolment adds
    /// the second factor a step-up will then ask for).
    pub async fn hold_for_confirmation(&self) -> Result<(), SessionError> {
        let Some(mut auth) = self.session.get::<AuthState>(AUTH_KEY).await? else {
            return Ok(());
        };
        auth.travel_unconfirmed = true;
        if !auth.must_enrol {
            auth.stepped_up_at = None;
        }
        self.session.insert(AUTH_KEY, auth).await
    }

    /// Offers this sign-in a device binding (DBSC): kept in the session
    /// this request saves anyway.
    pub async fn offer_device(&self, offer: DeviceOffer) -> Result<(), SessionError> {
        let Some(mut auth) = self.session.get::<AuthState>(AUTH_KEY).await? else {
            return Ok(());
        };
        auth.device_offer = Some(offer);
        self.session.insert(AUTH_KEY, auth).await
    }

    pub async fn pending_sign_in(&self) -> Result<Option<PendingSignIn>, SessionError> {
        self.session.get(PENDING_KEY).await
    }

    /// Records a wrong code on the pending sign-in.
    pub async fn update_pending_sign_in(
        &self,
        pending: &PendingSignIn,
    ) -> Result<(), SessionError> {
        self.session.insert(PENDING_KEY, pending).await
    }

    /// Re-authentication without a new sign-in (a step-up, entering the
    /// admin area, a credential change): `change` updates the auth state
    /// and the session moves to a new ID (ASVS 7.2.4), keeping its
    /// deadlines: the store carries them over, so a step-up never outlives
    /// the absolute timeout. The new row keeps where the session was first
    /// used and records `client` as where it is used now (the sessions
    /// page and `/admin` name its browser and address, issue 27).
    pub async fn reauthenticate(
        &self,
        live: &LiveSession,
        client: &ClientInfo,
        change: impl FnOnce(&mut AuthState),
    ) -> Result<(), SessionError> {
        let mut auth = live.auth.clone();
        change(&mut auth);
        auth.sign_in_id.get_or_insert_with(new_sign_in_id);
        let first = match self.session.id() {
            Some(id) => self.store.first_client(&id).await?,
            None => None,
        };
        self.session.cycle_id().await?;
        self.session.insert(AUTH_KEY, auth).await?;
        self.session.insert(CLIENT_KEY, client).await?;
        if let Some(first) = first {
            self.session.insert(FIRST_CLIENT_KEY, first).await?;
        }
        let carried = self.policy.touch(live.deadlines, self.clock.now());
        self.set_cookie_lifetime(&carried);
        Ok(())
    }

    pub async fn put_sealed(
        &self,
        what: Held,
        value: &SealedInSession,
    ) -> Result<(), SessionError> {
        self.session.insert(what.key(), value).await
    }

    pub async fn sealed(&self, what: Held) -> Result<Option<SealedInSession>, SessionError> {
        self.session.get(what.key()).await
    }

    /// The raw ID of this request's session (for keyed hashes only).
    pub fn session_id(&self) -> Option<i128> {
        self.session.id().map(|id| id.0)
    }

    /// The storage key of this request's session, if it has one.
    pub fn storage_key(&self) -> Option<super::cache::StorageKey> {
        self.session.id().map(|id| super::id::storage_key(&id))
    }

    /// Keeps a passkey ceremony's state until its finish.
    pub async fn put_passkey_challenge(
        &self,
        challenge: &crate::ssr::passkeys::credentials::Challenge,
    ) -> Result<(), SessionError> {
        self.session.insert(PASSKEY_CHALLENGE_KEY, challenge).await
    }

    /// The waiting passkey ceremony, removed from the session: a challenge
    /// is answered at most once, whatever the outcome.
    pub async fn take_passkey_challenge(
        &self,
    ) -> Result<Option<crate::ssr::passkeys::credentials::Challenge>, SessionError> {
        self.session.remove(PASSKEY_CHALLENGE_KEY).await
    }

    pub async fn forget(&self, what: Held) -> Result<(), SessionError> {
        self.session.remove_value(what.key()).await.map(|_| ())
    }

    /// Records real activity (a page or an action of the signed-in user).
    /// Writes at most once per touch interval; returns the new deadlines
    /// when this request did the write. `client` is only called then: most
    /// requests fall inside the interval and need no client details at all.
    ///
    /// The check against the loaded deadlines only spares the database a
    /// write attempt; the store's conditional write decides, so of several
    /// parallel requests at most one writes and re-sends the cookie, and a
    /// session ended meanwhile is not touched and gets no cookie.
    pub async fn record_activity(
        &self,
        live: &LiveSession,
        client: impl FnOnce() -> ClientInfo,
    ) -> Result<Option<Deadlines>, SessionError> {
        if !self.policy.touch_is_due(&live.deadlines, self.clock.now()) {
            return Ok(None);
        }
        self.touch(Touch::IfDue, &client()).await
    }

    /// Whether a request that counts as activity would write the session
    /// now (`record_activity`'s throttle).
    pub fn activity_due(&self, live: &LiveSession) -> bool {
        self.policy.touch_is_due(&live.deadlines, self.clock.now())
    }

    /// An explicit request to stay signed in (the countdown's button): a
    /// write now whatever the throttle says, if the session still exists.
    pub async fn extend(&self, client: &ClientInfo) -> Result<Extended, SessionError> {
        Ok(match self.touch(Touch::Always, client).await? {
            Some(deadlines) => Extended::To(deadlines),
            None => Extended::SessionGone,
        })
    }

    async fn touch(
        &self,
        when: Touch,
        client: &ClientInfo,
    ) -> Result<Option<Deadlines>, SessionError> {
        let Some(id) = self.session.id() else {
            return Ok(None);
        };
        let touched = self
            .store
            .touch(&id, when, client)
            .await
            .map_err(SessionError::Store)?;
        if let Some(deadlines) = &touched {
            // Re-sent with the Max-Age that matches the new idle deadline.
            self.set_cookie_lifetime(deadlines);
        }
        Ok(touched)
    }

    /// Ends the session: the row is deleted now, and tower-sessions sends a
    /// removal cookie because the session is empty.
    pub async fn log_out(&self) -> Result<(), SessionError> {
        self.session.flush().await
    }

    /// Whenever the idle deadline moves, the cookie is re-sent with a
    /// `Max-Age` that matches it.
    fn set_cookie_lifetime(&self, deadlines: &Deadlines) {
        let max_age = SessionPolicy::cookie_max_age_secs(deadlines, self.clock.now());
        self.session
            .set_expiry(Some(Expiry::OnInactivity(time::Duration::seconds(max_age))));
    }
}
