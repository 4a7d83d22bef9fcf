//! The session cookie: its attributes, all in one place, and the middleware
//! that reads it, loads the session lazily and answers with the right
//! `Set-Cookie`.
//!
//! `__Host-sid`: the `__Host-` prefix makes the browser refuse the cookie
//! unless it is `Secure`, has `Path=/` and no `Domain`, so no sibling
//! subdomain can set or shadow it. The name says nothing about the stack
//! (OWASP cheat sheet, "Session ID Name Fingerprinting"). Browsers treat
//! loopback as a secure context, so development over plain http on
//! 127.0.0.1 keeps the production attributes.
//!
//! Why our own middleware rather than tower-sessions' `SessionManagerLayer`
//! (we keep its `Session` type and `SessionStore` trait): that layer sends
//! `Set-Cookie` with the request's ID after every save whatever the save
//! found, and a removal cookie whenever the ID was unknown. Both overwrite
//! the browser's *current* cookie, which a parallel request may just have
//! replaced (sign-in in another tab rotates the ID): a late response then
//! signs that browser out, or revives a cookie that sign-out cleared
//! (issue 8). Here a cookie is sent only for what this request did:
//! - a new or rotated session that was stored, or a touch this request
//!   wrote: the cookie with `Max-Age` = the time to the idle deadline;
//! - a sign-out in this request: the removal cookie, with the same
//!   attributes (a `__Host-` removal without `Secure` is ignored);
//! - nothing else: not for a session that turned out to be gone, not for a
//!   save that found the row ended or changed, not for an unknown ID.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::cookie::{Cookie, SameSite};
use tower_sessions::session::Id;
use tower_sessions::{Expiry, Session, SessionStore};

use super::store::is_session_gone;
use crate::ssr::error::error_response;
use crate::ssr::session::settings::SameSitePolicy;
use crate::ssr::session::settings::SessionSettings;

pub const COOKIE_NAME: &str = "__Host-sid";

/// Every attribute of the session cookie. Each is spelled out, so this is
/// the whole cookie policy.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    same_site: SameSite,
    /// The lifetime of a cookie for a session whose deadlines are not known
    /// (the idle timeout).
    default_max_age: time::Duration,
}

impl CookiePolicy {
    pub fn new(settings: &SessionSettings) -> Self {
        Self {
            same_site: match settings.same_site {
                SameSitePolicy::Strict => SameSite::Strict,
                // A deliberate relaxation, chosen in settings: top-level
                // navigations from other sites carry the cookie.
                SameSitePolicy::Lax => SameSite::Lax,
            },
            default_max_age: time::Duration::seconds(
                i64::try_from(settings.idle_timeout_secs).unwrap_or(i64::MAX),
            ),
        }
    }

    fn build(&self, value: String, max_age: time::Duration) -> Cookie<'static> {
        Cookie::build((COOKIE_NAME, value))
            .secure(true) // never sent over plain http, except to loopback
            .http_only(true) // not readable from JavaScript (XSS cannot steal it)
            .same_site(self.same_site) // not sent on cross-site requests
            .path("/")
            // No .domain(): a host-only cookie, as __Host- requires.
            // Max-Age = the time to the idle deadline; re-sent whenever the
            // idle deadline moves.
            .max_age(max_age)
            .build()
    }

    /// The cookie that carries `id` for `max_age`.
    pub fn session_cookie(&self, id: &Id, max_age: time::Duration) -> HeaderValue {
        header_value(&self.build(id.to_string(), max_age).to_string())
    }

    /// The cookie that clears `__Host-sid` in the browser: the same
    /// attributes, an empty value, `Max-Age=0` and an `Expires` in the past.
    pub fn removal_cookie(&self) -> HeaderValue {
        let mut cookie = self.build(String::new(), time::Duration::ZERO);
        cookie.set_expires(time::OffsetDateTime::UNIX_EPOCH);
        header_value(&cookie.to_string())
    }

    fn max_age(&self, expiry: Option<Expiry>) -> time::Duration {
        match expiry {
            Some(Expiry::OnInactivity(duration)) => duration,
            Some(Expiry::AtDateTime(at)) => at - time::OffsetDateTime::now_utc(),
            Some(Expiry::OnSessionEnd) | None => self.default_max_age,
        }
        .max(time::Duration::ZERO)
    }
}

fn header_value(text: &str) -> HeaderValue {
    // Our cookie texts are ASCII by construction (a base64url ID, fixed
    // attributes); an impossible failure clears the cookie rather than
    // panicking.
    HeaderValue::from_str(text).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "__Host-sid=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
        )
    })
}

/// The session ID the request carries, if well-formed. A malformed value is
/// no session (and is not logged: it might be someone's real ID, mangled).
pub fn session_id_from(headers: &HeaderMap) -> Option<Id> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)?;
    match value.value().parse::<Id>() {
        Ok(id) => Some(id),
        Err(_) => {
            tracing::warn!("malformed session cookie ignored");
            None
        }
    }
}

/// What the session middleware needs: the store and the cookie policy.
#[derive(Debug)]
pub struct SessionCookies<S> {
    store: Arc<S>,
    policy: CookiePolicy,
}

impl<S> Clone for SessionCookies<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<S: SessionStore> SessionCookies<S> {
    pub fn new(store: Arc<S>, settings: &SessionSettings) -> Self {
        Self {
            store,
            policy: CookiePolicy::new(settings),
        }
    }
}

/// Middleware: puts a lazily loaded `Session` in the request, and after the
/// handler stores what changed and sends the cookie that goes with it (see
/// the module comment for which).
pub async fn manage_session<S: SessionStore>(
    State(cookies): State<SessionCookies<S>>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let sent_id = session_id_from(req.headers());
    let session = Session::new(
        sent_id,
        cookies.store.clone(),
        Some(Expiry::OnInactivity(cookies.policy.default_max_age)),
    );
    req.extensions_mut().insert(session.clone());
    let mut res = next.run(req).await;

    // Unmodified: nothing was created, changed, touched or ended here.
    if !session.is_modified() {
        return res;
    }
    if session.is_empty().await {
        // Flushed by this request (sign-out, or a session found dead).
        if sent_id.is_some() {
            res.headers_mut()
                .append(header::SET_COOKIE, cookies.policy.removal_cookie());
        }
        return res;
    }
    if res.status().is_server_error() {
        return res;
    }
    match session.save().await {
        Ok(()) => {
            if let Some(id) = session.id() {
                let max_age = cookies.policy.max_age(session.expiry());
                res.headers_mut().append(
                    header::SET_COOKIE,
                    cookies.policy.session_cookie(&id, max_age),
                );
            }
            res
        }
        Err(e) if is_session_gone(&e) => {
            tracing::debug!("session ended before this request saved it; no cookie sent");
            res
        }
        Err(e) => error_response(crate::ssr::error::internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(value: &HeaderValue) -> Vec<String> {
        value
            .to_str()
            .expect("ascii")
            .split(';')
            .map(|a| a.trim().to_owned())
            .collect()
    }

    #[test]
    fn the_cookie_has_every_attribute_a_host_prefixed_session_cookie_needs() {
        let policy = CookiePolicy::new(&SessionSettings::default());
        let id = Id(42);
        let value = policy.session_cookie(&id, time::Duration::seconds(1800));
        let attrs = attributes(&value);
        assert_eq!(attrs[0], format!("__Host-sid={id}"));
        for attr in [
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=1800",
        ] {
            assert!(attrs.iter().any(|a| a == attr), "{attrs:?} lacks {attr}");
        }
        assert!(!attrs.iter().any(|a| a.starts_with("Domain")));
    }

    #[test]
    fn the_removal_cookie_has_the_same_attributes_and_no_value() {
        let policy = CookiePolicy::new(&SessionSettings {
            same_site: SameSitePolicy::Lax,
            ..SessionSettings::default()
        });
        let attrs = attributes(&policy.removal_cookie());
        assert_eq!(attrs[0], "__Host-sid=");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"] {
            assert!(attrs.iter().any(|a| a == attr), "{attrs:?} lacks {attr}");
        }
        assert!(attrs
            .iter()
            .any(|a| a.starts_with("Expires=Thu, 01 Jan 1970")));
    }

    #[test]
    fn only_a_well_formed_session_cookie_yields_an_id() {
        let id = Id(7);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; __Host-sid={id}")).expect("ascii"),
        );
        assert_eq!(session_id_from(&headers), Some(id));
        for bad in [
            "__Host-sid=",
            "__Host-sid=AAAA",
            "__Host-sid",
            "sid=x",
            "__Host-sid=%00",
        ] {
            headers.insert(header::COOKIE, HeaderValue::from_static(bad));
            assert_eq!(session_id_from(&headers), None, "{bad}");
        }
    }
}
