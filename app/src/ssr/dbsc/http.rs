//! `/dbsc/register` and `/dbsc/refresh` (issue 26), as Chrome calls them:
//! a POST with the session cookie and a proof in `Secure-Session-Response`
//! (refresh: the browser's `Sec-Secure-Session-Id` names the binding).
//! Statuses as Chrome reads them: 403 with `Secure-Session-Challenge`
//! means "sign this and try again"; any other 4xx ends the browser's
//! binding.
//!
//! Outside the cross-site check: a registration needs a proof over a
//! challenge only this session's own pages carried, and a refresh one by
//! the stored key; a forged request from another site can only draw a new
//! challenge.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_sessions::Session;

use super::binding::{self, Refreshed, Registered};
use crate::ssr::audit::{self, Event, Outcome};
use crate::ssr::context::{auth_session, client_info, ServedOverTls};
use crate::ssr::db::device_bindings;
use crate::ssr::error::internal;
use crate::ssr::session::LiveSession;
use crate::ssr::state::AppState;

const RESPONSE_HEADER: &str = "secure-session-response";
const ID_HEADER: &str = "sec-secure-session-id";
const CHALLENGE_HEADER: HeaderName = HeaderName::from_static("secure-session-challenge");

/// The signed-in session of the request, under the user's current
/// credentials, and its sign-in id.
async fn signed_in(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Option<(LiveSession, String)> {
    let session = parts.extensions.get::<Session>()?.clone();
    let live = auth_session(state, session).current().await.ok()??;
    let owner = live.owner.as_ref()?;
    if owner.credential_epoch != live.auth.credential_epoch {
        return None;
    }
    let sign_in_id = live.auth.sign_in_id.clone()?;
    Some((live, sign_in_id))
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `https://host:port` of the request (the scope's origin).
fn origin(parts: &axum::http::request::Parts) -> String {
    let scheme = match parts.extensions.get::<ServedOverTls>() {
        Some(_) => "https",
        None => "http",
    };
    let host = header_text(&parts.headers, "host")
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    format!("{scheme}://{host}")
}

async fn audit_event(
    state: &AppState,
    parts: &axum::http::request::Parts,
    event: Event,
    outcome: Outcome,
    user_id: Option<i64>,
    details: serde_json::Value,
) {
    let entry = audit::Entry {
        event,
        outcome,
        user_id,
        username: None,
        session_hash: None,
        client: client_info(parts),
        details,
    };
    audit::record(&state.db, state.clock.now(), entry).await;
}

fn refused(status: StatusCode, why: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], why).into_response()
}

/// The JSON answer with a new bound cookie (and the next challenge).
fn bound(
    state: &AppState,
    parts: &axum::http::request::Parts,
    session_identifier: &str,
    fresh: &binding::Fresh,
    with_challenge: bool,
) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(binding::instructions(session_identifier, &origin(parts))),
    )
        .into_response();
    let headers = response.headers_mut();
    let cookie = binding::set_cookie(&fresh.cookie, state.settings.dbsc.cookie_max_age_secs);
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, cookie);
    }
    if with_challenge {
        let challenge = binding::challenge_header(&fresh.challenge, session_identifier);
        if let Ok(challenge) = HeaderValue::from_str(&challenge) {
            headers.insert(CHALLENGE_HEADER, challenge);
        }
    }
    response
}

/// `POST /dbsc/register`.
pub async fn register(State(state): State<AppState>, req: Request<Body>) -> Response {
    let (parts, _) = req.into_parts();
    if !state.settings.dbsc.enabled {
        return refused(StatusCode::NOT_FOUND, "device binding is off");
    }
    let Some((live, sign_in_id)) = signed_in(&state, &parts).await else {
        return refused(StatusCode::UNAUTHORIZED, "not signed in");
    };
    let user_id = Some(live.auth.user_id);
    let Some(proof) = header_text(&parts.headers, RESPONSE_HEADER) else {
        return refused(StatusCode::BAD_REQUEST, "no proof");
    };
    let offer = live.auth.device_offer.as_ref();
    let registered = binding::register(&state, &sign_in_id, live.auth.user_id, offer, proof);
    let registered = match registered.await {
        Ok(registered) => registered,
        Err(error) => return crate::ssr::error::error_response(internal(error)),
    };
    match registered {
        Registered::Bound {
            session_identifier,
            fresh,
            algorithm,
        } => {
            forget_cached(&state, &parts);
            audit_event(
                &state,
                &parts,
                Event::DeviceBound,
                Outcome::Success,
                user_id,
                json!({ "algorithm": algorithm }),
            )
            .await;
            tracing::info!(user_id, "session bound to its device");
            bound(&state, &parts, &session_identifier, &fresh, false)
        }
        refusal => {
            let (details, why) = match refusal {
                Registered::BadProof(error) => (
                    json!({ "reason": "bad_proof", "proof": error.to_string() }),
                    "the proof does not check out",
                ),
                _ => (
                    json!({ "reason": "no_open_offer" }),
                    "no open offer for that challenge",
                ),
            };
            let failure = Outcome::Failure;
            audit_event(
                &state,
                &parts,
                Event::DeviceBound,
                failure,
                user_id,
                details,
            )
            .await;
            refused(StatusCode::BAD_REQUEST, why)
        }
    }
}

/// The session's cached row holds the binding: read it again.
fn forget_cached(state: &AppState, parts: &axum::http::request::Parts) {
    if let Some(id) = parts.extensions.get::<Session>().and_then(Session::id) {
        state
            .sessions
            .cache()
            .forget(&crate::ssr::session::id::storage_key(&id));
    }
}

/// `POST /dbsc/refresh`.
pub async fn refresh(State(state): State<AppState>, req: Request<Body>) -> Response {
    let (parts, _) = req.into_parts();
    if !state.settings.dbsc.enabled {
        return refused(StatusCode::NOT_FOUND, "device binding is off");
    }
    let Some(identifier) = header_text(&parts.headers, ID_HEADER).map(super::proof::unquote) else {
        return refused(StatusCode::BAD_REQUEST, "no session identifier");
    };
    let found = match device_bindings::by_identifier(&state.db, identifier).await {
        Ok(found) => found,
        Err(error) => return crate::ssr::error::error_response(internal(error)),
    };
    let signed_in = signed_in(&state, &parts).await;
    // The identifier must name this very sign-in's binding: unknown, or
    // another sign-in's, ends the browser's binding (4xx); the app session
    // itself proves nothing wrong by that.
    let binding = match (found, &signed_in) {
        (Some(binding), Some((_, sign_in_id))) if binding.sign_in_id == *sign_in_id => binding,
        (found, _) => {
            let user_id = signed_in.as_ref().map(|(live, _)| live.auth.user_id);
            let reason = match found {
                None => "unknown_identifier",
                Some(_) => "another_sign_in",
            };
            audit_event(
                &state,
                &parts,
                Event::DeviceBindingEnded,
                Outcome::Failure,
                user_id,
                json!({ "reason": reason }),
            )
            .await;
            return refused(StatusCode::UNAUTHORIZED, "no such binding for this session");
        }
    };
    let user_id = Some(binding.user_id);
    let proof = header_text(&parts.headers, RESPONSE_HEADER);
    let refreshed = match binding::refresh(&state, &binding, proof).await {
        Ok(refreshed) => refreshed,
        Err(error) => return crate::ssr::error::error_response(internal(error)),
    };
    let identifier = binding.session_identifier.as_deref().unwrap_or_default();
    match refreshed {
        Refreshed::Renewed(fresh) => {
            forget_cached(&state, &parts);
            // Counted in the binding's row; the log gets the first renewal
            // and every 50th, not one row per refresh.
            let renewals = binding.refreshes + 1;
            if renewals == 1 || renewals % 50 == 0 {
                let details = json!({ "renewals": renewals });
                audit_event(
                    &state,
                    &parts,
                    Event::DeviceRefreshed,
                    Outcome::Success,
                    user_id,
                    details,
                )
                .await;
            }
            bound(&state, &parts, identifier, &fresh, true)
        }
        Refreshed::Challenge(challenge) => {
            let mut response = refused(StatusCode::FORBIDDEN, "sign this challenge");
            let value = binding::challenge_header(&challenge, identifier);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(CHALLENGE_HEADER, value);
            }
            response
        }
        Refreshed::BadProof(error) => {
            // Not the device's key: whoever holds this session's cookies
            // is not its device. The sign-in ends, everywhere.
            let ended = end_sign_in(&state, &binding).await;
            let details = json!({
                "reason": "bad_proof",
                "proof": error.to_string(),
                "sessions_ended": ended,
            });
            audit_event(
                &state,
                &parts,
                Event::DeviceBindingEnded,
                Outcome::Failure,
                user_id,
                details,
            )
            .await;
            tracing::warn!(user_id, %error, "device proof refused: sign-in ended");
            refused(StatusCode::UNAUTHORIZED, "the proof is not the device's")
        }
    }
}

/// Ends every session of the binding's sign-in and the binding.
async fn end_sign_in(state: &AppState, binding: &device_bindings::Binding) -> u64 {
    let ended = state
        .sessions
        .delete_sign_in(binding.user_id, &binding.sign_in_id)
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "sessions of a refused binding not ended");
            0
        });
    if let Err(error) = device_bindings::delete_of_sign_in(&state.db, &binding.sign_in_id).await {
        tracing::error!(%error, "refused binding not deleted");
    }
    ended
}

/// The request's bound cookie, if it carries one.
pub fn bound_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix(binding::COOKIE_NAME)?
                .strip_prefix('=')
        })
}

/// Puts the registration offer on a page's answer.
pub fn offer_on(response: &mut Response, challenge: &str) {
    if let Ok(value) = HeaderValue::from_str(&binding::registration_header(challenge)) {
        response.headers_mut().insert(
            HeaderName::from_static("secure-session-registration"),
            value,
        );
    }
}

/// A bound session's cookie came without a live bound cookie: audited,
/// at most once a minute per sign-in (a thief's every request must not
/// become a row). The session is not ended by that alone: the real
/// device refreshes and goes on.
pub async fn note_missing(
    state: &AppState,
    parts: &axum::http::request::Parts,
    live: &LiveSession,
) {
    let Some(sign_in_id) = live.auth.sign_in_id.as_deref() else {
        return;
    };
    let sign_in = audit::sign_in_hash(&state.audit_key, sign_in_id);
    let since = state.clock.now().saturating_sub(60);
    let user_id = live.auth.user_id;
    let noted = crate::ssr::db::audit_events::noted_for_sign_in(
        &state.db,
        user_id,
        Event::BoundCookieMissing.name(),
        &sign_in,
        since,
    )
    .await
    .unwrap_or(false);
    if !noted {
        let details = json!({ "sign_in": sign_in, "path": parts.uri.path() });
        audit_event(
            state,
            parts,
            Event::BoundCookieMissing,
            Outcome::Failure,
            Some(user_id),
            details,
        )
        .await;
    }
}

/// The step-up that demands a fresh proof of possession from a bound
/// session (issue 26).
pub const STEP_UP_PATH: &str = "/api/step_up";

/// `307` to the same URL with the bound cookie expired: a DBSC browser
/// refreshes (a new proof signed by the device's key) before it repeats
/// the request; a client without the key comes back without a bound
/// cookie and is answered as a visitor.
pub fn prove_again(parts: &axum::http::request::Parts) -> Response {
    let back = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(STEP_UP_PATH)
        .to_owned();
    let expired = format!(
        "{}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
        binding::COOKIE_NAME
    );
    (
        StatusCode::TEMPORARY_REDIRECT,
        [
            (header::LOCATION, back),
            (header::SET_COOKIE, expired),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}
