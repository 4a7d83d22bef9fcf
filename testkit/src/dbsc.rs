//! A scripted DBSC device (issue 26): a key that registers and refreshes
//! as Chrome does (W3C webappsec-dbsc; `../shared/research`): proofs are
//! compact JWS with `typ` `dbsc+jwt`, the JWK in the protected header at
//! registration only, header values sent unquoted. A P-256 key signing
//! ES256 (raw `r‖s`) as most devices do, or an RSA 2048 key signing RS256
//! as a Windows machine with TPM 1.2 does.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::header::HeaderMap;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

enum Key {
    Ec(SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

pub struct Device {
    key: Key,
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    /// A P-256 device (ES256).
    pub fn new() -> Self {
        Self {
            key: Key::Ec(SigningKey::random(&mut rand::rngs::OsRng)),
        }
    }

    /// An RSA device of `bits` (RS256); 2048 is what a TPM 1.2 makes.
    pub fn rsa(bits: usize) -> Self {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).expect("an RSA key");
        Self {
            key: Key::Rsa(Box::new(key)),
        }
    }

    /// The algorithm this device signs with.
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Ec(_) => "ES256",
            Key::Rsa(_) => "RS256",
        }
    }

    pub fn jwk(&self) -> Value {
        match &self.key {
            Key::Ec(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
                    "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
                })
            }
            Key::Rsa(key) => json!({
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            }),
        }
    }

    /// A proof with any header, signed with this key.
    pub fn sign(&self, header: &Value, payload: &Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = match &self.key {
            Key::Ec(key) => {
                let signature: Signature = key.sign(signed.as_bytes());
                signature.to_bytes().to_vec()
            }
            Key::Rsa(key) => key
                .sign(
                    rsa::Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(signed.as_bytes()),
                )
                .expect("an RS256 signature"),
        };
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Registration: the key in the header.
    pub fn registration_proof(&self, challenge: &str) -> String {
        let header = json!({ "alg": self.algorithm(), "typ": "dbsc+jwt", "jwk": self.jwk() });
        self.sign(&header, &json!({ "jti": challenge }))
    }

    /// Refresh: no key in the header.
    pub fn refresh_proof(&self, challenge: &str) -> String {
        let header = json!({ "alg": self.algorithm(), "typ": "dbsc+jwt" });
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
    // The first inner list names the algorithms; a device picks ES256.
    let algorithms = value.strip_prefix('(')?.split(')').next()?;
    if !algorithms.split(' ').any(|alg| alg == "ES256") {
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
