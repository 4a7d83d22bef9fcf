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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_paths_readable() {
        assert_eq!(percent_encode("/account?x=1&y"), "/account%3Fx%3D1%26y");
    }
}
