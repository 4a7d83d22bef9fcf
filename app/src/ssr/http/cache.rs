//! What browsers and proxies may keep (OWASP Session Management Cheat
//! Sheet, "Web Content Caching").

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Files served from the site root besides the build's `/pkg/`.
pub const STATIC_FILES: &[&str] = &["/favicon.ico", "/favicon.svg", "/robots.txt"];

pub fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path == "/health"
        || path == "/health/ready"
        || STATIC_FILES.contains(&path)
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

#[cfg(test)]
mod tests {
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
}
