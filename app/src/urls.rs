//! URLs built on both sides (server redirects and the browser countdown).

/// Percent-encodes everything but unreserved characters and `/`, so a path
/// and query can travel as one query parameter (`next`) and stay readable.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Only same-site relative paths are followed after sign-in (no open
/// redirect, OWASP Unvalidated Redirects Cheat Sheet).
pub fn safe_next(next: Option<&str>) -> String {
    const DEFAULT: &str = "/account";
    let Some(next) = next.map(str::trim).filter(|n| !n.is_empty()) else {
        return DEFAULT.to_owned();
    };
    let acceptable = next.len() <= 512
        && next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && !next.starts_with("/api/");
    if acceptable {
        next.to_owned()
    } else {
        DEFAULT.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_paths_readable() {
        assert_eq!(percent_encode("/account?x=1&y"), "/account%3Fx%3D1%26y");
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
}
