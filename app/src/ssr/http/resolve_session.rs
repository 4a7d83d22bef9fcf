//! Resolves the session of every dynamic request, before any page or
//! server function runs: load it (only when a cookie came), check that it
//! is alive, still matches the user's credentials and comes from the
//! browser it was made in, record activity (throttled), and put the
//! `CurrentUser` in the request. Pages that need a user redirect to sign-in.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::ssr::account::profile::Profile;
use crate::ssr::context::auth_session;
use crate::ssr::context::client_info;
use crate::ssr::context::socket_peer;
use crate::ssr::context::ClientAddress;
use crate::ssr::context::CurrentUser;
use crate::ssr::error::error_response;
use crate::ssr::error::internal;
use crate::ssr::error::internal_error;
use crate::ssr::session::AuthSession;
use crate::ssr::state::AppState;

use crate::ssr::page_data::Visitors;

/// Requests that `resolve_session` does not count as activity: the status
/// read of the expiry countdown (no observer effect on the idle timeout),
/// and the explicit extend, which writes once itself.
pub const NO_AUTOMATIC_TOUCH: &[&str] = &["/api/session_status", "/api/extend_session"];

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
    let (mut parts, body) = req.into_parts();
    // Who the client is behind a trusted proxy, once, before anything
    // records it (without one, the socket's peer is read where needed).
    if let Some(peer) = socket_peer(&parts).filter(|_| !state.trusted_proxies.is_empty()) {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let client =
            crate::ssr::http::proxy::client_address(peer, forwarded, &state.trusted_proxies);
        parts.extensions.insert(ClientAddress(client));
    }
    let Some(session) = parts.extensions.get::<Session>().cloned() else {
        return internal_error("the session layer is missing");
    };
    let auth = auth_session(&state, session);

    // GET and HEAD never write the session: they may read it in place.
    let reading_only = matches!(parts.method, Method::GET | Method::HEAD);
    let current = match current_user(&auth, reading_only).await {
        Ok(current) => current,
        Err(response) => return *response,
    };
    // A bound session (DBSC, issue 26) is signed in only with its device's
    // bound cookie: the session cookie alone, copied elsewhere, is a
    // visitor's. An unbound one's pages carry the offer.
    let mut offered = None;
    let current = match current {
        Some(user) if state.settings.dbsc.enabled => {
            use crate::ssr::dbsc::binding::{check, Check};
            let cookie = crate::ssr::dbsc::http::bound_cookie(&parts.headers);
            let offer = user.session.auth.device_offer.as_ref();
            match check(
                user.session.binding.as_ref(),
                offer,
                cookie,
                state.clock.now(),
            ) {
                Check::Missing => {
                    crate::ssr::dbsc::http::note_missing(&state, &parts, &user.session).await;
                    None
                }
                Check::Offered(challenge) => {
                    offered = Some(challenge.to_owned());
                    Some(user)
                }
                // A step-up demands a fresh proof of possession: a bound
                // cookie older than that is expired and the request sent
                // back to itself (307 keeps the method and body); Chrome
                // refreshes with its key before it follows.
                Check::Proven { cookie_expires_at }
                    if parts.method == Method::POST
                        && path == crate::ssr::dbsc::http::STEP_UP_PATH
                        && !crate::ssr::dbsc::binding::proof_is_fresh(
                            cookie_expires_at,
                            state.settings.dbsc.cookie_max_age_secs,
                            state.clock.now(),
                        ) =>
                {
                    return crate::ssr::dbsc::http::prove_again(&parts);
                }
                Check::Unbound | Check::Proven { .. } => Some(user),
            }
        }
        other => other,
    };
    // A session held for enrolment (`[mfa] require`) reaches the enrolment
    // only: pages send it there, anything else sees a visitor.
    let page = crate::ssr::page_data::page(&path);
    let current = match current {
        Some(user) if user.session.auth.must_enrol && !reachable_while_enrolling(page, &path) => {
            if parts.method == Method::GET && !path.starts_with("/api/") {
                return Redirect::to(crate::ssr::mfa::sign_in::ENROLMENT_PAGE).into_response();
            }
            None
        }
        other => other,
    };
    // The session must come from the browser it was made in.
    let activity = !NO_AUTOMATIC_TOUCH.contains(&path.as_str());
    let current = match current {
        Some(user) => {
            let checked =
                crate::ssr::session::binding::check_browser(&state, &auth, &parts, user, activity);
            match checked.await {
                Ok(user) => user,
                Err(response) => return *response,
            }
        }
        None => None,
    };
    let current = match current {
        Some(mut user) => {
            if activity {
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
        None if parts.method == Method::GET
            && page.is_some_and(|page| page.visitors == Visitors::SignInFirst) =>
        {
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
    // here, before rendering (rendering stays synchronous): what each loads
    // is declared in `page_data::PAGES`.
    if let Some(page) = page.filter(|_| parts.method == Method::GET) {
        let prepared = crate::ssr::page_data::prepare(
            page,
            parts.uri.query(),
            &state,
            current.as_deref(),
            &auth,
        )
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
    let page_load = parts.method == Method::GET && page.is_some();
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(challenge) = offered.filter(|_| page_load) {
        crate::ssr::dbsc::http::offer_on(&mut response, &challenge);
    }
    response
}

/// What a session held for MFA enrolment may reach: the pages declared so
/// (`page_data::PAGES`) and the enrolment's endpoints.
fn reachable_while_enrolling(page: Option<&crate::ssr::page_data::Page>, path: &str) -> bool {
    match page {
        Some(page) => page.while_enrolling,
        None => crate::ssr::mfa::sign_in::ENROLMENT_ENDPOINTS.contains(&path),
    }
}

async fn current_user(
    auth: &AuthSession,
    reading_only: bool,
) -> Result<Option<CurrentUser>, Box<Response>> {
    let live = match reading_only {
        true => auth.current_for_reading().await,
        false => auth.current().await,
    };
    let mut live = match live {
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
