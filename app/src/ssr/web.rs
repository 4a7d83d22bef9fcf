//! HTTP-level security policy, as axum middleware and request helpers.
//! `server/src/startup.rs` composes them; the order there is the order a
//! request meets them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use leptos::prelude::{use_context, with_context};
use tower_sessions::Session;

use crate::api::AppError;
use crate::ssr::error::{answer_as, error_response, internal};
use crate::ssr::profile::Profile;
use crate::ssr::session::{AuthSession, ClientInfo, LiveSession};
use crate::ssr::state::AppState;

/// Pages that need a signed-in user. Anonymous requests are redirected to
/// the sign-in page before any rendering happens.
pub const PROTECTED_PAGES: &[&str] = &[
    "/account",
    "/account/security",
    "/account/security/recovery-codes.txt",
    "/account/sessions",
    "/account/activity",
    "/step-up",
    "/admin",
];

/// Requests that `resolve_session` does not count as activity: the status
/// read of the expiry countdown (no observer effect on the idle timeout),
/// and the explicit extend, which writes once itself.
pub const NO_AUTOMATIC_TOUCH: &[&str] = &["/api/session_status", "/api/extend_session"];

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

/// Files served from the site root besides the build's `/pkg/`.
const STATIC_FILES: &[&str] = &["/favicon.ico", "/favicon.svg", "/robots.txt"];

pub fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/health" || STATIC_FILES.contains(&path)
}

/// The client's address as `resolve_session` worked it out (the socket's
/// peer, or behind a trusted proxy the forwarded address: `ssr::proxy`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

fn socket_peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

fn peer_of(parts: &Parts) -> Option<IpAddr> {
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

/// Resolves the session of every dynamic request: loads it (only if a
/// cookie came), checks it is alive and still matches the user's
/// credentials, records activity (throttled), and puts `CurrentUser` in
/// the request. Protected pages without a user redirect to sign-in.
pub async fn resolve_session(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if is_static_asset(&path) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    // Who the client is behind a trusted proxy, once, before anything
    // records it (without one, the socket's peer is read where needed).
    if let Some(peer) = socket_peer(&parts).filter(|_| !state.trusted_proxies.is_empty()) {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let client = crate::ssr::proxy::client_address(peer, forwarded, &state.trusted_proxies);
        parts.extensions.insert(ClientAddress(client));
    }
    let Some(session) = parts.extensions.get::<Session>().cloned() else {
        return internal_error("the session layer is missing");
    };
    let auth = auth_session(&state, session);

    let current = match current_user(&auth).await {
        Ok(current) => current,
        Err(response) => return *response,
    };
    // A session held for enrolment (`[mfa] require`) reaches the enrolment
    // only: pages send it there, anything else sees a visitor.
    let current = match current {
        Some(user)
            if user.session.auth.must_enrol
                && !crate::ssr::mfa::flows::ENROLMENT_PATHS.contains(&path.as_str()) =>
        {
            if parts.method == Method::GET && !path.starts_with("/api/") {
                return Redirect::to(crate::ssr::mfa::flows::ENROLMENT_PAGE).into_response();
            }
            None
        }
        other => other,
    };
    // The session must come from the browser it was made in.
    let current = match current {
        Some(user) => match check_browser(&state, &auth, &parts, user).await {
            Ok(user) => user,
            Err(response) => return *response,
        },
        None => None,
    };
    let current = match current {
        Some(mut user) => {
            if !NO_AUTOMATIC_TOUCH.contains(&path.as_str()) {
                match auth
                    .record_activity(&user.session, || client_info(&parts))
                    .await
                {
                    Ok(Some(deadlines)) => user.session.deadlines = deadlines,
                    Ok(None) => {}
                    Err(e) => {
                        let _ = internal(e);
                    }
                }
            }
            Some(Arc::new(user))
        }
        None if parts.method == Method::GET && PROTECTED_PAGES.contains(&path.as_str()) => {
            let target = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/account");
            return Redirect::to(&format!(
                "/login?next={}",
                crate::urls::percent_encode(target)
            ))
            .into_response();
        }
        None => None,
    };
    // The few pages that need the database or the session get their data
    // here, before rendering (rendering stays synchronous). Every other
    // path returns at once from the match in `pages::prepare`.
    if parts.method == Method::GET {
        let prepared =
            crate::ssr::pages::prepare(&path, parts.uri.query(), &state, current.as_deref(), &auth)
                .await;
        match prepared {
            Ok(Some(data)) => {
                parts.extensions.insert(Arc::new(data));
            }
            Ok(None) => {}
            Err(error) => return error_response(error),
        }
    }
    if let Some(user) = current {
        parts.extensions.insert(user);
    }
    next.run(Request::from_parts(parts, body)).await
}

async fn current_user(auth: &AuthSession) -> Result<Option<CurrentUser>, Box<Response>> {
    let mut live = match auth.current().await {
        Ok(Some(live)) => live,
        Ok(None) => return Ok(None),
        // A busy database is 503 with Retry-After; anything else 500.
        Err(e) => return Err(Box::new(error_response(internal(e)))),
    };
    // The user's row came with the session (one query, see the store).
    match live.owner.take() {
        // Credentials changed since sign-in (or the account is gone): the
        // session is dead (style guide item 9).
        Some(owner) if owner.credential_epoch == live.auth.credential_epoch => {
            Ok(Some(CurrentUser {
                user_id: live.auth.user_id,
                username: owner.username,
                profile: Profile {
                    display_name: owner.display_name,
                    about: owner.about,
                },
                device_notice: owner.device_notice,
                session: live,
            }))
        }
        _ => {
            if let Err(e) = auth.log_out().await {
                let _ = internal(e);
            }
            Ok(None)
        }
    }
}

/// Compares the request's browser and address with the session's (issue
/// 12). Another browser family or system: the session is revoked as stolen
/// (deleted now, audited, alerted) and the request goes on as a visitor's.
/// Another version of the same browser, or another IP address: noted once
/// (an audit event, and the session records the new value).
async fn check_browser(
    state: &AppState,
    auth: &AuthSession,
    parts: &Parts,
    user: CurrentUser,
) -> Result<Option<CurrentUser>, Box<Response>> {
    use crate::ssr::alerts::{self, Alert};
    use crate::ssr::audit::{self, Event, Outcome};
    use crate::ssr::devices::{compare_user_agents, UserAgentCheck};

    let now = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let check = compare_user_agents(user.session.user_agent.as_deref(), now);
    let peer = peer_of(parts);
    let moved = user.session.ip.is_some() && peer.is_some() && user.session.ip != peer;
    if check == UserAgentCheck::Same && !moved {
        return Ok(Some(user));
    }
    let client = client_info(parts);
    let session_hash = auth
        .storage_key()
        .map(|key| audit::session_hash(&state.audit_key, &key));
    match check {
        UserAgentCheck::Same => {
            // Another network: an event, not fatal (issue 12). The touch
            // records the new address, so it is noted once per move.
            let entry = audit::Entry {
                event: Event::AddressChanged,
                outcome: Outcome::Success,
                user_id: Some(user.user_id),
                username: None,
                session_hash,
                client: client.clone(),
                details: serde_json::json!({
                    "from": user.session.ip.map(|ip| ip.to_string()),
                }),
            };
            audit::record(&state.db, state.clock.now(), entry).await;
            if let Err(e) = auth.extend(&client).await {
                let _ = internal(e);
            }
            Ok(Some(user))
        }
        UserAgentCheck::Updated => {
            let entry = audit::Entry {
                event: Event::UserAgentChanged,
                outcome: Outcome::Success,
                user_id: Some(user.user_id),
                username: None,
                session_hash,
                client: client.clone(),
                details: serde_json::json!({ "from": user.session.user_agent }),
            };
            audit::record(&state.db, state.clock.now(), entry).await;
            if let Err(e) = auth.extend(&client).await {
                let _ = internal(e);
            }
            Ok(Some(user))
        }
        UserAgentCheck::Changed { from, to } => {
            if let Err(e) = auth.log_out().await {
                let _ = internal(e);
                return Err(Box::new(internal_error("cannot revoke the session")));
            }
            let details = serde_json::json!({
                "reason": "browser_or_system_changed", "from": from, "to": to,
            });
            let entry = audit::Entry {
                event: Event::SessionRevoked,
                outcome: Outcome::Success,
                user_id: Some(user.user_id),
                username: None,
                session_hash,
                client: client.clone(),
                details: details.clone(),
            };
            audit::record(&state.db, state.clock.now(), entry).await;
            alerts::raise(
                state,
                Alert::SessionBrowserChanged,
                Some(user.user_id),
                &client,
                session_hash,
                details,
            )
            .await;
            Ok(None)
        }
    }
}

fn internal_error(what: &str) -> Response {
    tracing::error!("{what}");
    error_response(AppError::Internal)
}

/// Runs the rest of the request in a task of its own, so that a client that
/// disconnects does not cancel it halfway. A cancelled page render is not
/// harmless in Leptos 0.8: dropping the response future disposes the page's
/// reactive owner while tasks it spawned (resources, `Suspense`) still run,
/// and they panic reading disposed signals (reproduced with clients that
/// close the socket right after sending; server/tests/aborted_requests.rs).
/// Finishing also means a state change the server accepted is saved
/// whole (the session layer saves after the handler). A panic below
/// becomes a 500 instead of a dropped connection.
///
/// Work that is not worth finishing for a client that has gone (a sign-in
/// still waiting for a hashing slot) watches the `ClientGone` this puts in
/// the request.
pub async fn run_to_completion(mut req: Request<Body>, next: Next) -> Response {
    use tracing::Instrument;
    let (client_gone, connection) = ClientGone::new();
    req.extensions_mut().insert(client_gone);
    let task = tokio::spawn(next.run(req).in_current_span());
    // If hyper drops this future (the client went away), `connection` is
    // dropped with it and the request's `ClientGone` fires.
    let answer = task.await;
    connection.answered();
    match answer {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "request task failed");
            internal_error("the request failed")
        }
    }
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

/// The body limit: a body over `max_bytes` gets `413` whether it announces
/// its length or arrives in chunks (tower-http's limit turns a chunked
/// overrun into a read error, which the server functions answered with
/// 400). The body is read here, once, so nothing below sees a partial one.
pub async fn limit_body(
    State(max_bytes): State<usize>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max_bytes as u64) {
        return error_response(AppError::TooLarge);
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, max_bytes).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>());
            return if too_large {
                error_response(AppError::TooLarge)
            } else {
                error_response(AppError::BadRequest)
            };
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Put in the request by a TLS listener: the request came over HTTPS.
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

/// Cross-site request refusal (ASVS 3.5; OWASP CSRF Cheat Sheet, "Fetch
/// Metadata" and "Verifying Origin"). SameSite=Strict already keeps the
/// cookie off cross-site requests; this also stops login CSRF and
/// same-site (sibling subdomain) forgeries, on every method that can change
/// state (everything but GET, HEAD and OPTIONS, which change nothing here).
///
/// The rule: `Sec-Fetch-Site` when the browser sends it (every current
/// browser does): `same-origin` or `none` (typed by the user) only. Else
/// `Origin`, which must be this server's own scheme, host and port. A
/// request with neither header is not from a browser (browsers send
/// `Origin` on every cross-origin POST and on same-origin ones since
/// 2020), so it holds no victim's cookies to ride: it is allowed, and it
/// can only act with credentials it brings itself.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !is_same_origin(req.headers(), request_scheme(&state, &req)) {
        tracing::warn!(path = %req.uri().path(), "cross-site request refused");
        return error_response(AppError::CrossSite);
    }
    next.run(req).await
}

/// `https` when the request came over our TLS listener, or from a trusted
/// proxy that says (`X-Forwarded-Proto`) its client used HTTPS; else
/// `http`. Anyone else's `X-Forwarded-Proto` is ignored.
pub fn request_scheme(state: &AppState, req: &Request<Body>) -> &'static str {
    if req.extensions().get::<ServedOverTls>().is_some() {
        return "https";
    }
    let from_trusted_proxy = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| {
            state
                .trusted_proxies
                .iter()
                .any(|net| net.contains(peer.ip()))
        });
    let forwarded_https = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    if from_trusted_proxy && forwarded_https {
        "https"
    } else {
        "http"
    }
}

fn is_same_origin(headers: &axum::http::HeaderMap, scheme: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    origin_matches(origin, scheme, host)
}

/// Whether `origin` (`scheme://host[:port]`) is `scheme` and `host` (the
/// Host header, `host[:port]`), the default port filled in on both sides:
/// `https://a` is not `http://a`, and `http://a:8080` is not `http://a`.
pub fn origin_matches(origin: &str, scheme: &str, host: &str) -> bool {
    let default_port = match scheme {
        "https" => 443,
        _ => 80,
    };
    let Some(authority) = origin
        .strip_prefix(scheme)
        .and_then(|rest| rest.strip_prefix("://"))
    else {
        return false;
    };
    match (
        split_authority(authority, default_port),
        split_authority(host, default_port),
    ) {
        (Some((a_host, a_port)), Some((b_host, b_port))) => {
            a_port == b_port && a_host.eq_ignore_ascii_case(b_host)
        }
        _ => false,
    }
}

/// `host[:port]` or `[v6]:port` into the host and the port (the default
/// when absent); `None` when malformed.
fn split_authority(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    if authority.is_empty() || authority.contains(['/', '@', ' ']) {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        (v6, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then_some((host, port))
}

/// Caching, by what a response is:
/// - pages and every dynamic answer: `no-store`, never kept by the browser
///   (Back after logout must not show account data) or a proxy (OWASP
///   cheat sheet, "Web Content Caching");
/// - static files whose names carry a content hash (`name.HASH.ext`: the
///   build's JS, wasm and CSS as pages name them, `ssr::assets`): kept for
///   a year, since a new build has new names;
/// - other static files (the favicon, the plain names): `no-cache`,
///   revalidated on each use.
pub async fn cache_policy(req: Request<Body>, next: Next) -> Response {
    let policy = cache_control_for(req.uri().path());
    let mut res = next.run(req).await;
    // An error, even for an asset path, is not worth keeping.
    let policy = if res.status().is_success() {
        policy
    } else {
        NO_STORE
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    res
}

const NO_STORE: &str = "no-store";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

fn cache_control_for(path: &str) -> &'static str {
    if let Some(file) = path.strip_prefix("/pkg/") {
        // tessera.<22 base64url characters>.wasm
        let parts: Vec<&str> = file.split('.').collect();
        let hashed = parts.len() == 3
            && parts[1].len() >= 16
            && parts[1]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        return if hashed { IMMUTABLE } else { REVALIDATE };
    }
    if STATIC_FILES.contains(&path) {
        return REVALIDATE;
    }
    NO_STORE
}

/// Server-function errors answer with their own status: 4xx for the
/// client's mistakes, 500 only for ours. (Leptos answers every error with
/// 500, including arguments that do not decode.) Plain form posts keep the
/// redirect back to the form that Leptos gives them.
pub async fn server_fn_status(res: Response) -> Response {
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        answer_as(&error, &mut parts);
    }
    Response::from_parts(parts, Body::from(bytes))
}

pub use crate::urls::safe_next;

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
    ) -> crate::api::SessionDeadlines {
        crate::api::SessionDeadlines {
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
        if (event, outcome) == (audit::Event::SignIn, audit::Outcome::Success) {
            crate::ssr::alerts::record_sign_in(&self.state, entry).await;
        } else {
            audit::record(&self.state.db, self.state.clock.now(), entry).await;
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
                let details = serde_json::json!({ "reason": reason_of(error), "details": details });
                self.audit(event, Outcome::Failure, user_id, None, details)
                    .await
            }
        }
    }

    pub fn address(&self) -> String {
        self.peer
            .map(|peer| peer.to_string())
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

/// The kind of an error, for the audit log (no message text).
pub fn reason_of(error: &AppError) -> &'static str {
    match error {
        AppError::Invalid(_) => "invalid",
        AppError::InvalidCredentials => "invalid_credentials",
        AppError::Unauthenticated => "unauthenticated",
        AppError::UsernameTaken => "username_taken",
        AppError::TooManyAttempts(_) => "throttled",
        AppError::InvalidCode => "invalid_code",
        AppError::TooManyCodes(_) => "too_many_codes",
        AppError::SignInExpired => "sign_in_expired",
        AppError::StepUpRequired => "step_up_required",
        AppError::Forbidden => "forbidden",
        AppError::MfaUnavailable => "mfa_unavailable",
        AppError::AccessTokensUnavailable => "access_tokens_unavailable",
        AppError::PasskeyRefused => "passkey_refused",
        AppError::PasskeyExpired => "passkey_expired",
        AppError::Busy(_) => "busy",
        AppError::CrossSite => "cross_site",
        AppError::TooLarge => "too_large",
        AppError::TimedOut => "timed_out",
        AppError::BadRequest => "bad_request",
        AppError::Unreachable => "unreachable",
        AppError::Internal => "internal",
    }
}

/// A unix time as "2026-11-27 17:42:05 UTC".
pub fn format_time(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "unknown".to_owned(),
    }
}

/// "30 minutes", "8 hours", "1 hour", "45 seconds".
pub fn describe_duration(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `GET /account/security/recovery-codes.txt`: the recovery codes just
/// made, as a file to keep; only while the page shows them (they are held,
/// sealed, in the session until the user says they saved them).
pub async fn recovery_codes_file(State(state): State<AppState>, req: Request<Body>) -> Response {
    let user = req.extensions().get::<Arc<CurrentUser>>().cloned();
    let session = req.extensions().get::<Session>().cloned();
    let (Some(user), Some(session)) = (user, session) else {
        return error_response(AppError::Unauthenticated);
    };
    let auth = auth_session(&state, session);
    let held = match auth
        .sealed(crate::ssr::session::Held::RecoveryCodesToShow)
        .await
    {
        Ok(Some(held)) => held,
        Ok(None) => {
            return error_response(AppError::Invalid(
                "There are no new recovery codes to download.".to_owned(),
            ))
        }
        Err(e) => return error_response(internal(e)),
    };
    let codes = match crate::ssr::mfa::flows::open_codes_to_show(&state, user.user_id, &held) {
        Ok(codes) => codes,
        Err(error) => return error_response(error),
    };
    let mut text = format!(
        "Tessera recovery codes for {}\nEach code works once. Keep them somewhere safe.\n\n",
        user.username
    );
    for code in codes {
        text.push_str(&code);
        text.push('\n');
    }
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tessera-recovery-codes.txt\"",
            ),
        ],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_match_on_scheme_host_and_port() {
        assert!(origin_matches(
            "http://127.0.0.1:3000",
            "http",
            "127.0.0.1:3000"
        ));
        assert!(origin_matches(
            "https://Example.org",
            "https",
            "example.org"
        ));
        assert!(origin_matches(
            "https://example.org:443",
            "https",
            "example.org"
        ));
        assert!(origin_matches("http://[::1]:3000", "http", "[::1]:3000"));
        // Another scheme, port or host: another origin.
        assert!(!origin_matches(
            "https://example.org",
            "http",
            "example.org"
        ));
        assert!(!origin_matches(
            "http://example.org",
            "https",
            "example.org"
        ));
        assert!(!origin_matches(
            "http://example.org:8080",
            "http",
            "example.org"
        ));
        assert!(!origin_matches(
            "http://evil.example",
            "http",
            "example.org"
        ));
        assert!(!origin_matches(
            "http://example.org.evil.example",
            "http",
            "example.org"
        ));
        // Malformed.
        assert!(!origin_matches("null", "http", "example.org"));
        assert!(!origin_matches("http://", "http", "example.org"));
        assert!(!origin_matches(
            "http://a@example.org",
            "http",
            "example.org"
        ));
        assert!(!origin_matches(
            "http://example.org:99999",
            "http",
            "example.org"
        ));
    }

    use super::*;

    #[test]
    fn only_content_hashed_assets_are_cached_for_long_and_pages_never() {
        assert_eq!(
            cache_control_for("/pkg/tessera.kXz3f9Q0aB1cD2eF3gH4iJ.wasm"),
            IMMUTABLE
        );
        assert_eq!(
            cache_control_for("/pkg/tessera.kXz3f9Q0aB1cD2eF3gH4iJ.css"),
            IMMUTABLE
        );
        assert_eq!(cache_control_for("/pkg/tessera.wasm"), REVALIDATE);
        assert_eq!(cache_control_for("/pkg/tessera_bg.wasm"), REVALIDATE);
        assert_eq!(cache_control_for("/favicon.svg"), REVALIDATE);
        for page in [
            "/",
            "/account",
            "/login?next=/pkg/x.aaaaaaaaaaaaaaaaaaaa.js",
            "/api/whoami",
        ] {
            assert_eq!(cache_control_for(page), NO_STORE, "{page}");
        }
    }

    #[test]
    fn next_accepts_only_same_site_relative_paths() {
        assert_eq!(safe_next(Some("/account?tab=1")), "/account?tab=1");
        for bad in [
            None,
            Some(""),
            Some("https://evil.example/"),
            Some("//evil.example/"),
            Some("/\\evil.example"),
            Some("javascript:alert(1)"),
            Some("account"),
            Some("/api/logout"),
            Some("/a\r\nSet-Cookie: x=y"),
        ] {
            assert_eq!(safe_next(bad), "/account", "{bad:?}");
        }
    }

    #[test]
    fn origin_must_match_host_when_there_is_no_fetch_metadata() {
        let mut h = axum::http::HeaderMap::new();
        assert!(is_same_origin(&h, "http"));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:3000"),
        );
        assert!(is_same_origin(&h, "http"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!is_same_origin(&h, "http"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!is_same_origin(&h, "http"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://127.0.0.1:3000"),
        );
        assert!(!is_same_origin(&h, "http"), "https page, http server");
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!is_same_origin(&h, "http"));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(is_same_origin(&h, "http"));
    }
}
