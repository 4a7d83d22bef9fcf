//! Security headers on every response (issue 13; OWASP Secure Headers
//! Project, ASVS 3.4): a Content-Security-Policy with a fresh nonce per
//! response for the inline scripts Leptos writes (hydration, islands), and
//! the headers that keep the page out of frames, other origins' reach and
//! content sniffing. A cookie is only as safe as the page around it: the
//! CSP is what keeps an injected script from riding the session.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, Method, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::ssr::state::AppState;

/// The nonce of this request's response, put in the request by
/// `security_headers` and handed to Leptos by `provide_request_nonce`.
#[derive(Debug, Clone)]
pub struct CspNonce(pub Arc<str>);

/// 128 random bits, base64url: a CSP nonce (CSP 3: at least 128 bits).
pub fn new_nonce() -> CspNonce {
    use base64::Engine as _;
    let bytes: [u8; 16] = rand::random();
    CspNonce(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(bytes)
            .into(),
    )
}

/// The policy. Scripts: our own files, the inline hydration scripts that
/// carry this response's nonce, and WebAssembly compilation; nothing else
/// (no `unsafe-inline`, no `unsafe-eval`). Styles and images: our own
/// files only (the TOTP QR code is inline SVG markup, which needs no
/// exception). `frame-ancestors 'none'`: no clickjacking. `form-action
/// 'self'`: a form cannot post the user's input elsewhere.
pub fn content_security_policy(nonce: Option<&str>, dev_reload_port: Option<u16>) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "script-src 'self' 'wasm-unsafe-eval'".to_owned(),
    };
    // `cargo leptos watch` only: its reload socket on another port.
    let connect = match dev_reload_port {
        Some(port) => format!("connect-src 'self' ws://127.0.0.1:{port} ws://localhost:{port}"),
        None => "connect-src 'self'".to_owned(),
    };
    format!(
        "default-src 'self'; {scripts}; style-src 'self'; img-src 'self'; {connect}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

/// Features the app does not use are denied to it and to anything it
/// might embed. WebAuthn (`publickey-credentials-*`) keeps its default
/// (this origin): passkeys need it. Only features the browsers in the test
/// matrix recognise: an unknown one (`bluetooth`, `ambient-light-sensor` in
/// Chromium 156) is a console warning on every page
/// (end2end/tests/pages.spec.ts fails on it).
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
    display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), \
    midi=(), payment=(), usb=(), serial=(), hid=(), \
    screen-wake-lock=(), xr-spatial-tracking=(), browsing-topics=(), interest-cohort=()";

const STATIC_HEADERS: [(HeaderName, &str); 6] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("permissions-policy"),
        PERMISSIONS_POLICY,
    ),
    // For browsers that predate frame-ancestors.
    (header::X_FRAME_OPTIONS, "DENY"),
];

/// Two years, subdomains included (the preload list's minimum is one).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// `cargo leptos watch` (LEPTOS_WATCH) reloads pages over a WebSocket on
/// the reload port: the CSP lets that one through, in development only.
fn dev_reload_port(state: &AppState) -> Option<u16> {
    static WATCHING: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("LEPTOS_WATCH").is_some());
    WATCHING.then(|| u16::try_from(state.leptos_options.reload_port).unwrap_or(3001))
}

/// The layer: a nonce for every dynamic request, the headers on every
/// response (pages, server functions, static files, errors). No `Server`
/// header is ever added (hyper sends none).
pub async fn security_headers(
    State(state): State<AppState>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    // HSTS only on an HTTPS answer (RFC 6797 §7.2: ignored over HTTP).
    let https = crate::ssr::http::cross_site::request_scheme(&state, &req) == "https";
    let nonce = renders_html(&req).then(new_nonce);
    if let Some(nonce) = &nonce {
        req.extensions_mut().insert(nonce.clone());
    }
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    for (name, value) in STATIC_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    let dev_reload_port = dev_reload_port(&state);
    let policy = match (&nonce, dev_reload_port) {
        // Answers that are not pages (server functions, files, /health):
        // the same policy without a nonce, built once.
        (None, None) => Some(WITHOUT_NONCE.clone()),
        (nonce, port) => HeaderValue::from_str(&content_security_policy(
            nonce.as_ref().map(|n| &*n.0),
            port,
        ))
        .ok(),
    };
    if let Some(policy) = policy {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.remove(header::SERVER);
    // Which server answered, for the cluster tests only (issue 14); off by
    // default: a deployment does not tell clients its topology.
    if let Some(name) = &state.instance_header {
        headers.insert("x-tessera-instance", name.clone());
    }
    res
}

/// Only pages carry inline scripts: GET/HEAD that is neither a static file
/// nor /health (`http::cache::is_static_asset`) nor a server function (`/api/`).
/// Nothing else needs a nonce drawn for it.
fn renders_html(req: &Request<Body>) -> bool {
    let path = req.uri().path();
    matches!(*req.method(), Method::GET | Method::HEAD)
        && !crate::ssr::http::cache::is_static_asset(path)
        && !path.starts_with("/api/")
}

static WITHOUT_NONCE: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    HeaderValue::from_str(&content_security_policy(None, None))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

/// Hands this request's nonce to Leptos (in place of the one it draws),
/// so that the scripts it writes carry the nonce the header names. Called
/// in the per-request context of pages and of the error fallback.
pub fn provide_request_nonce() {
    use leptos::prelude::{provide_context, use_context};
    if let Some(nonce) = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_and_128_bits() {
        let a = new_nonce();
        let b = new_nonce();
        assert_ne!(a.0, b.0);
        assert_eq!(a.0.len(), 22, "16 bytes in base64url without padding");
        assert!(a
            .0
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn the_policy_allows_only_this_nonce_and_no_inline_code() {
        let policy = content_security_policy(Some("abc"), None);
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(!policy.contains("'unsafe-eval'"));
        for directive in [
            "default-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self';",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ] {
            assert!(policy.contains(directive), "{directive} in {policy}");
        }
        let dev = content_security_policy(None, Some(3001));
        assert!(dev.contains("connect-src 'self' ws://127.0.0.1:3001 ws://localhost:3001;"));
    }
}
