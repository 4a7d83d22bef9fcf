//! The request face of the core: who is asking (`CurrentUser`, the client's
//! address and browser) and what a server function needs of its request
//! (`RequestContext`). The middleware in `ssr::http` puts these in the
//! request; the domain modules read them and never see axum's types.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use leptos::prelude::{use_context, with_context};
use tower_sessions::Session;

use crate::shared::AppError;
use crate::ssr::account::profile::Profile;
use crate::ssr::session::AuthSession;
use crate::ssr::session::ClientInfo;
use crate::ssr::session::LiveSession;
use crate::ssr::state::AppState;
use crate::urls::safe_next;

/// Who is signed in on this request, resolved once by `resolve_session`
/// and kept in the request as an `Arc<CurrentUser>` (cheap to share with
/// the page and the server functions).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user_id: i64,
    pub username: String,
    pub profile: Profile,
    /// A sign-in from a new device to show on the account page.
    pub device_notice: Option<String>,
    pub session: LiveSession,
}

/// The client's address as `resolve_session` worked it out (the socket's
/// peer, or behind a trusted proxy the forwarded address: `ssr::proxy`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

pub fn socket_peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        // A dual-stack listener sees IPv4 clients as `::ffff:a.b.c.d`: the
        // same client, named one way (review E16).
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}

pub fn peer_of(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ClientAddress>()
        .map(|address| address.0)
        .or_else(|| socket_peer(parts))
}

fn client_info_of(peer: Option<IpAddr>, user_agent: Option<&HeaderValue>) -> ClientInfo {
    ClientInfo {
        ip: peer.map(|peer| peer.to_string()),
        user_agent: user_agent.and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

pub fn client_info(parts: &Parts) -> ClientInfo {
    client_info_of(peer_of(parts), parts.headers.get(header::USER_AGENT))
}

pub fn auth_session(state: &AppState, session: Session) -> AuthSession {
    AuthSession::new(
        session,
        state.sessions.clone(),
        state.session_policy,
        state.clock.clone(),
    )
}

/// Fires when the client of a request has gone: the connection was closed
/// before the answer was ready.
#[derive(Debug, Clone)]
pub struct ClientGone(tokio::sync::watch::Receiver<bool>);

/// Held while the client waits; dropping it without `answered` means the
/// client has gone.
pub struct ClientConnection(Option<tokio::sync::watch::Sender<bool>>);

impl ClientGone {
    pub fn new() -> (Self, ClientConnection) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (Self(rx), ClientConnection(Some(tx)))
    }

    /// Resolves when the client has gone; never, if it is answered.
    pub async fn gone(mut self) {
        if self.0.wait_for(|gone| *gone).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl ClientConnection {
    pub fn answered(mut self) {
        self.0.take();
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(true);
        }
    }
}

/// Put in the request by a TLS listener: the request came over HTTPS.
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

/// The path and query of a Referer URL; the scheme and host are not
/// compared (the cross-site check has already refused other sites' posts),
/// but the path must pass `safe_next`.
fn same_site_path(referer: &str) -> Option<String> {
    let after_scheme = referer.split_once("://").map(|(_, rest)| rest)?;
    let path = &after_scheme[after_scheme.find('/')?..];
    let path = path.split('#').next().unwrap_or(path);
    // An earlier error's report (Leptos' `__err`/`__path`) is not kept.
    let path = match path.split_once('?') {
        Some((route, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| !pair.starts_with("__err=") && !pair.starts_with("__path="))
                .collect();
            if kept.is_empty() {
                route.to_owned()
            } else {
                format!("{route}?{}", kept.join("&"))
            }
        }
        None => path.to_owned(),
    };
    (safe_next(Some(&path)) == path).then_some(path)
}

/// What a server function needs of its request, from Leptos' context:
/// read in place from the request's `Parts` (`with_context`), not a clone
/// of every header and extension (issue 9).
pub struct RequestContext {
    pub state: AppState,
    user: Option<Arc<CurrentUser>>,
    session: Option<Session>,
    client_gone: Option<ClientGone>,
    peer: Option<IpAddr>,
    user_agent: Option<HeaderValue>,
    /// A plain HTML form post (no JavaScript): it is answered with
    /// redirects, and errors go back to the form in the URL.
    plain_form_post: bool,
    /// The path (and query) of the page the request came from, when it is
    /// one of ours.
    referer_path: Option<String>,
}

impl RequestContext {
    pub fn get() -> Result<Self, AppError> {
        let state = use_context::<AppState>();
        let from_parts = with_context::<Parts, _>(|parts| {
            let ext = &parts.extensions;
            (
                ext.get::<Arc<CurrentUser>>().cloned(),
                ext.get::<Session>().cloned(),
                ext.get::<ClientGone>().cloned(),
                peer_of(parts),
                parts.headers.get(header::USER_AGENT).cloned(),
                // Leptos' own test for a plain form post (leptos_axum's
                // `redirect`): the browser asks for HTML.
                parts
                    .headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html")),
                parts
                    .headers
                    .get(header::REFERER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(same_site_path),
            )
        });
        match (state, from_parts) {
            (
                Some(state),
                Some((user, session, client_gone, peer, user_agent, plain_form_post, referer_path)),
            ) => Ok(Self {
                state,
                user,
                session,
                client_gone,
                peer,
                user_agent,
                plain_form_post,
                referer_path,
            }),
            _ => {
                tracing::error!("server function called without app state or request");
                Err(AppError::Internal)
            }
        }
    }

    pub fn is_plain_form_post(&self) -> bool {
        self.plain_form_post
    }

    /// The page the request came from, if it is one of ours (a path that
    /// `safe_next` accepts), for "return there afterwards".
    pub fn referer_path(&self) -> Option<&str> {
        self.referer_path.as_deref()
    }

    pub fn current_user(&self) -> Option<&CurrentUser> {
        self.user.as_deref()
    }

    pub fn require_user(&self) -> Result<&CurrentUser, AppError> {
        self.current_user().ok_or(AppError::Unauthenticated)
    }

    pub fn auth_session(&self) -> Result<AuthSession, AppError> {
        let session = self.session.clone().ok_or_else(|| {
            tracing::error!("no session on the request");
            AppError::Internal
        })?;
        Ok(auth_session(&self.state, session))
    }

    pub fn client(&self) -> ClientInfo {
        client_info_of(self.peer, self.user_agent.as_ref())
    }

    pub fn status(
        &self,
        deadlines: &crate::ssr::session::Deadlines,
    ) -> crate::shared::SessionDeadlines {
        crate::shared::SessionDeadlines {
            server_now_ms: self.state.clock.now_ms(),
            idle_expires_at: deadlines.idle_expires_at,
            absolute_expires_at: deadlines.absolute_expires_at,
            warn_before_secs: i64::try_from(self.state.settings.session.warn_before_secs)
                .unwrap_or(120),
        }
    }

    /// Resolves when this request's client has gone (never, outside
    /// `run_to_completion`).
    pub fn client_gone(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let signal = self.client_gone.clone();
        async move {
            match signal {
                Some(signal) => signal.gone().await,
                None => std::future::pending().await,
            }
        }
    }

    /// Writes an audit event for this request: its client and, when it has
    /// one, its session (as a keyed hash). Never fails the request.
    pub async fn audit(
        &self,
        event: crate::ssr::audit::Event,
        outcome: crate::ssr::audit::Outcome,
        user_id: Option<i64>,
        username: Option<&str>,
        details: serde_json::Value,
    ) {
        use crate::ssr::audit;
        let session_hash = self.session.as_ref().and_then(|s| s.id()).map(|id| {
            let key = crate::ssr::session::id::storage_key(&id);
            audit::session_hash(&self.state.audit_key, &key)
        });
        // The sign-in the session holds now (a new one right after a
        // sign-in in this request): the key that links its events.
        let mut details = details;
        let mut this_sign_in = None;
        if let Some(session) = &self.session {
            let auth = session
                .get::<crate::ssr::session::AuthState>(crate::ssr::session::store::AUTH_KEY)
                .await
                .ok()
                .flatten();
            this_sign_in = auth.as_ref().and_then(|auth| auth.sign_in_id.clone());
            if let (Some(sign_in_id), Some(fields)) = (
                auth.and_then(|auth| auth.sign_in_id),
                details.as_object_mut(),
            ) {
                fields.insert(
                    "sign_in".to_owned(),
                    audit::sign_in_hash(&self.state.audit_key, &sign_in_id).into(),
                );
            }
        }
        let entry = audit::Entry {
            event,
            outcome,
            user_id,
            username: username.map(str::to_owned),
            session_hash,
            client: self.client(),
            details,
        };
        // A successful sign-in is also checked by the alert rules (in the
        // same statement as its record).
        // Every sign-in is offered a device binding (issue 26).
        if (event, outcome) == (audit::Event::SignIn, audit::Outcome::Success)
            && this_sign_in.is_some()
        {
            self.offer_device_binding().await;
        }
        if (event, outcome) == (audit::Event::SignIn, audit::Outcome::Success) {
            let found = crate::ssr::audit::alerts::record_sign_in(&self.state, entry).await;
            // Impossible travel: a challenge for this new session, not a
            // denial (issue 25; `require_confirmed`).
            let hold = self.state.settings.geoip.on_impossible_travel
                == crate::ssr::geoip::settings::TravelAction::StepUp;
            if found.impossible_travel && hold {
                let held = match self.auth_session() {
                    Ok(auth) => auth.hold_for_confirmation().await.is_ok(),
                    Err(_) => false,
                };
                if !held {
                    tracing::error!("impossible travel: the session could not be held");
                }
            }
        } else {
            audit::record(&self.state.db, self.state.clock.now(), entry).await;
        }
    }

    /// Offers this request's sign-in a device binding (DBSC, issue 26),
    /// unless it is bound already: after a sign-in, and after a step-up's
    /// rotation (an unbound sign-in whose first offer lapsed gets another).
    /// Kept in the session this request saves anyway.
    pub async fn offer_device_binding(&self) {
        let bound = self
            .current_user()
            .is_some_and(|u| u.session.binding.is_some());
        let Some(offer) = crate::ssr::dbsc::binding::new_offer(&self.state).filter(|_| !bound)
        else {
            return;
        };
        let offered = match self.auth_session() {
            Ok(auth) => auth.offer_device(offer).await.is_ok(),
            Err(_) => false,
        };
        if !offered {
            tracing::error!("device binding not offered");
        }
    }

    /// `audit` for the outcome of an action of the signed-in user (or
    /// `user_id`): a failure records the error's kind, never a secret.
    pub async fn audit_result<T>(
        &self,
        event: crate::ssr::audit::Event,
        user_id: Option<i64>,
        result: &Result<T, AppError>,
        details: serde_json::Value,
    ) {
        use crate::ssr::audit::Outcome;
        let user_id = user_id.or_else(|| self.current_user().map(|u| u.user_id));
        match result {
            Ok(_) => {
                self.audit(event, Outcome::Success, user_id, None, details)
                    .await
            }
            Err(error) => {
                let details = serde_json::json!({ "reason": error.kind(), "details": details });
                self.audit(event, Outcome::Failure, user_id, None, details)
                    .await
            }
        }
    }

    /// The client as per-address limits count it: its IPv4 address or
    /// its IPv6 network (`[login] ipv6_prefix`, review E2).
    pub fn address(&self) -> String {
        self.peer
            .map(|peer| {
                crate::ssr::http::proxy::limit_key(peer, self.state.settings.login.ipv6_prefix)
            })
            .unwrap_or_else(|| "unknown".to_owned())
    }
}
