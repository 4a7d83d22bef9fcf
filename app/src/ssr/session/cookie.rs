//! The session cookie's attributes, all in one place.
//!
//! `__Host-sid`: the `__Host-` prefix makes the browser refuse the cookie
//! unless it is `Secure`, has `Path=/` and no `Domain`, so no sibling
//! subdomain can set or shadow it. The name says nothing about the stack
//! (OWASP cheat sheet, "Session ID Name Fingerprinting"). Browsers treat
//! loopback as a secure context, so development over plain http on
//! 127.0.0.1 keeps the production attributes.

use axum::{body::Body, extract::State, http::Request, middleware::Next, response::Response};
use http::header::{HeaderValue, SET_COOKIE};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

use crate::ssr::config::{SameSitePolicy, SessionSettings};

pub const COOKIE_NAME: &str = "__Host-sid";

fn same_site(policy: SameSitePolicy) -> SameSite {
    match policy {
        SameSitePolicy::Strict => SameSite::Strict,
        // A deliberate relaxation, chosen in settings: top-level navigations
        // from other sites carry the cookie.
        SameSitePolicy::Lax => SameSite::Lax,
    }
}

/// The layer that reads the cookie, loads the session lazily and saves it
/// when it changed. Every attribute is spelled out even where it is
/// tower-sessions' default, so this function is the whole cookie policy.
pub fn session_layer<S: SessionStore>(
    store: S,
    settings: &SessionSettings,
) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_secure(true) // never sent over plain http, except to loopback
        .with_http_only(true) // not readable from JavaScript (XSS cannot steal it)
        .with_same_site(same_site(settings.same_site)) // not sent on cross-site requests
        .with_path("/")
        // No .with_domain(): a host-only cookie, as __Host- requires.
        // Max-Age = the idle lifetime; re-sent whenever the idle deadline moves.
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            i64::try_from(settings.idle_timeout_secs).unwrap_or(i64::MAX),
        )))
        // Save only when the session changed: reads cost no writes.
        .with_always_save(false)
}

/// The removal cookie that clears `__Host-sid` in the browser.
///
/// tower-sessions 0.14 builds its removal cookie from the request's cookie,
/// which carries only a name and a value, so it lacks `Secure`; browsers
/// reject any `__Host-` cookie without `Secure`, and the old cookie would
/// survive logout. This rewrites it with the same attributes the cookie was
/// set with.
pub fn removal_cookie(settings: &SessionSettings) -> HeaderValue {
    let same_site = match settings.same_site {
        SameSitePolicy::Strict => "Strict",
        SameSitePolicy::Lax => "Lax",
    };
    let value = format!(
        "{COOKIE_NAME}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; \
         Secure; HttpOnly; SameSite={same_site}"
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "__Host-sid=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
        )
    })
}

fn is_session_removal(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let Some(rest) = text
        .strip_prefix(COOKIE_NAME)
        .and_then(|r| r.strip_prefix('='))
    else {
        return false;
    };
    rest.split(';')
        .map(str::trim)
        .any(|attr| attr.eq_ignore_ascii_case("Max-Age=0"))
}

/// Middleware (outside the session layer) that gives every removal of the
/// session cookie its full attributes.
pub async fn fix_removal_cookie(
    State(removal): State<HeaderValue>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    if headers.get_all(SET_COOKIE).iter().any(is_session_removal) {
        let others: Vec<HeaderValue> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter(|v| !is_session_removal(v))
            .cloned()
            .collect();
        headers.remove(SET_COOKIE);
        for value in others {
            headers.append(SET_COOKIE, value);
        }
        headers.append(SET_COOKIE, removal);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_cookie_has_the_attributes_a_host_prefixed_cookie_needs() {
        let value = removal_cookie(&SessionSettings::default());
        let text = value.to_str().expect("ascii");
        for attr in [
            "Path=/",
            "Max-Age=0",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
        ] {
            assert!(text.contains(attr), "{text} lacks {attr}");
        }
        assert!(!text.contains("Domain"));
        assert!(is_session_removal(&value));
    }

    #[test]
    fn only_the_session_cookie_removal_is_recognised() {
        assert!(is_session_removal(&HeaderValue::from_static(
            "__Host-sid=; Max-Age=0; Path=/"
        )));
        assert!(!is_session_removal(&HeaderValue::from_static(
            "__Host-sid=abc; Max-Age=1800"
        )));
        assert!(!is_session_removal(&HeaderValue::from_static(
            "other=; Max-Age=0"
        )));
    }
}
