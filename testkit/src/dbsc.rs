//! A scripted DBSC device (issue 26): a P-256 key that registers and
//! refreshes as Chrome does (W3C webappsec-dbsc; `../shared/research`):
//! proofs are compact JWS with `typ` `dbsc+jwt`, `alg` ES256, the JWK in
//! the protected header at registration only, raw `r‖s` signatures, and
//! header values sent unquoted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

pub struct Device {
    key: SigningKey,
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    pub fn new() -> Self {
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    pub fn jwk(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        })
    }

    /// A proof with any header, signed with this key.
    pub fn sign(&self, header: &Value, payload: &Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature: Signature = self.key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// Registration: the key in the header.
    pub fn registration_proof(&self, challenge: &str) -> String {
        let header = json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": self.jwk() });
        self.sign(&header, &json!({ "jti": challenge }))
    }

    /// Refresh: no key in the header.
    pub fn refresh_proof(&self, challenge: &str) -> String {
        let header = json!({ "alg": "ES256", "typ": "dbsc+jwt" });
        self.sign(&header, &json!({ "jti": challenge }))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn quoted_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    value
        .split(';')
        .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix('='))
        .map(|v| v.trim_matches('"'))
}

/// The challenge of a page's `Secure-Session-Registration`, and its path.
pub fn registration_offer(headers: &HeaderMap) -> Option<(String, String)> {
    let value = header(headers, "secure-session-registration")?;
    if !value.starts_with("(ES256)") {
        return None;
    }
    Some((
        quoted_param(value, "challenge")?.to_owned(),
        quoted_param(value, "path")?.to_owned(),
    ))
}

/// `Secure-Session-Challenge: "<challenge>";id="<identifier>"`.
pub fn challenge(headers: &HeaderMap) -> Option<(String, String)> {
    let value = header(headers, "secure-session-challenge")?;
    let challenge = value.split(';').next()?.trim().trim_matches('"').to_owned();
    Some((challenge, quoted_param(value, "id")?.to_owned()))
}

/// The bound cookie's value and `Max-Age` from a `Set-Cookie`.
pub fn bound_cookie(headers: &HeaderMap) -> Option<(String, i64)> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|cookie| {
            let value = cookie
                .strip_prefix("__Host-tessera_dbsc=")?
                .split(';')
                .next()?
                .to_owned();
            let max_age = cookie
                .split(';')
                .find_map(|p| p.trim().strip_prefix("Max-Age="))?
                .parse()
                .ok()?;
            Some((value, max_age))
        })
}
