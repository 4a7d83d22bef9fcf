//! Cross-site requests are refused (ASVS 3.5).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, Method, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::shared::AppError;
use crate::ssr::context::ServedOverTls;
use crate::ssr::error::error_response;
use crate::ssr::state::AppState;

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
    if !safe && !is_same_origin(&req, request_scheme(&state, &req)) {
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

fn is_same_origin(req: &Request<Body>, scheme: &str) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    // HTTP/1.1 names the server in `Host`; HTTP/2 in `:authority`, which
    // hyper puts in the URI and does not copy into a `Host` header (the
    // built-in TLS listener speaks h2 to every browser that offers it).
    let host = match headers.get(header::HOST) {
        Some(host) => host.to_str().ok(),
        None => req.uri().authority().map(|authority| authority.as_str()),
    };
    host.is_some_and(|host| origin_matches(origin, scheme, host))
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A request to `uri` with `headers`.
    fn request(uri: &str, headers: &[(&'static str, &'static str)]) -> Request<Body> {
        let mut req = Request::builder().uri(uri);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.body(Body::empty()).expect("a request")
    }

    #[test]
    fn origin_must_match_host_when_there_is_no_fetch_metadata() {
        let host = ("host", "127.0.0.1:3000");
        assert!(is_same_origin(&request("/", &[]), "http"));
        let same = ("origin", "http://127.0.0.1:3000");
        assert!(is_same_origin(&request("/", &[host, same]), "http"));
        for origin in ["http://evil.example", "null", "https://127.0.0.1:3000"] {
            let req = request("/", &[host, ("origin", origin)]);
            assert!(!is_same_origin(&req, "http"), "{origin}");
        }
        let cross = ("sec-fetch-site", "cross-site");
        assert!(!is_same_origin(&request("/", &[host, same, cross]), "http"));
        let fetch_same = ("sec-fetch-site", "same-origin");
        assert!(is_same_origin(&request("/", &[host, fetch_same]), "http"));
    }

    /// HTTP/2 carries the server's name as `:authority` (in the URI), with
    /// no `Host` header (review E15).
    #[test]
    fn without_host_the_origin_is_compared_with_the_authority() {
        let origin = ("origin", "https://127.0.0.1:3443");
        let h2 = request("https://127.0.0.1:3443/api/login", &[origin]);
        assert!(is_same_origin(&h2, "https"));
        let forged = request(
            "https://127.0.0.1:3443/api/login",
            &[("origin", "https://evil.example")],
        );
        assert!(!is_same_origin(&forged, "https"));
        let nameless = request("/api/login", &[origin]);
        assert!(!is_same_origin(&nameless, "https"), "no Host, no authority");
    }
}
