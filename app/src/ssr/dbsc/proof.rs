//! The DBSC proof (W3C webappsec-dbsc, "DBSC Proof JWT"), checked as Chrome
//! sends it: a compact JWS whose protected header is
//! `{"alg":"ES256","typ":"dbsc+jwt"}` (plus the public key as `jwk` at
//! registration only) and whose payload is `{"jti":"<challenge>"}`. Chrome
//! sends no `aud`, `iat` or `exp`: the single-use challenge with its time
//! limit is the replay defence, so none are required here.
//!
//! Only ES256 is accepted, pinned: the header's `alg` must say it and the
//! signature must be the raw 64-byte `r‖s` over `header.payload` (no
//! `none`, no HMAC or RSA confusion). Plain Rust over `p256`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The one algorithm offered and accepted.
pub const ALGORITHM: &str = "ES256";
pub const PROOF_TYPE: &str = "dbsc+jwt";
/// Far more than Chrome's proofs (about 400 bytes with the key).
const MAX_PROOF_BYTES: usize = 4096;

/// A device's public key: an EC P-256 JWK, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKey {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl DeviceKey {
    fn verifying_key(&self) -> Result<VerifyingKey, ProofError> {
        if self.kty != "EC" || self.crv != "P-256" {
            return Err(ProofError::UnsupportedKey);
        }
        let x = URL_SAFE_NO_PAD
            .decode(&self.x)
            .map_err(|_| ProofError::UnsupportedKey)?;
        let y = URL_SAFE_NO_PAD
            .decode(&self.y)
            .map_err(|_| ProofError::UnsupportedKey)?;
        if x.len() != 32 || y.len() != 32 {
            return Err(ProofError::UnsupportedKey);
        }
        let mut point = Vec::with_capacity(65);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        VerifyingKey::from_sec1_bytes(&point).map_err(|_| ProofError::UnsupportedKey)
    }
}

/// What a proof must be for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use<'a> {
    /// `/dbsc/register`: the key comes in the header (`jwk`).
    Registration,
    /// `/dbsc/refresh`: signed by the key stored at registration; a `jwk`
    /// in the header is refused (a proof must not choose its own key).
    Refresh(&'a DeviceKey),
}

/// A proof whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The challenge it answers (`jti`).
    pub challenge: String,
    /// At registration: the key it was signed with.
    pub key: Option<DeviceKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("the header is not a DBSC proof's (typ dbsc+jwt)")]
    WrongType,
    #[error("the algorithm is not ES256")]
    WrongAlgorithm,
    #[error("a refresh proof named its own key")]
    KeyInRefresh,
    #[error("a registration proof has no key")]
    NoKey,
    #[error("the key is not an EC P-256 key")]
    UnsupportedKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("no challenge (jti)")]
    NoChallenge,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    typ: Option<String>,
    jwk: Option<DeviceKey>,
}

#[derive(Deserialize)]
struct Payload {
    jti: Option<String>,
}

/// The header value as Chrome sends it: unquoted, though the spec says an
/// sf-string; one pair of quotes is taken off either way.
pub fn unquote(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// Checks `jws` for `purpose`; on success, the challenge it answers (and
/// at registration the key). The challenge is the caller's to compare.
pub fn verify(jws: &str, purpose: Use<'_>) -> Result<Proof, ProofError> {
    let jws = unquote(jws);
    if jws.len() > MAX_PROOF_BYTES {
        return Err(ProofError::Malformed);
    }
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| ProofError::Malformed)
    };
    let header: Header =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| ProofError::Malformed)?;
    if header.typ.as_deref() != Some(PROOF_TYPE) {
        return Err(ProofError::WrongType);
    }
    if header.alg.as_deref() != Some(ALGORITHM) {
        return Err(ProofError::WrongAlgorithm);
    }
    let key = match (purpose, header.jwk) {
        (Use::Registration, Some(jwk)) => jwk,
        (Use::Registration, None) => return Err(ProofError::NoKey),
        (Use::Refresh(_), Some(_)) => return Err(ProofError::KeyInRefresh),
        (Use::Refresh(stored), None) => stored.clone(),
    };
    let verifying = key.verifying_key()?;
    let signature = decode(signature_b64)?;
    let signature = Signature::from_slice(&signature).map_err(|_| ProofError::BadSignature)?;
    let signed = &jws[..header_b64.len() + 1 + payload_b64.len()];
    verifying
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| ProofError::BadSignature)?;
    let payload: Payload =
        serde_json::from_slice(&decode(payload_b64)?).map_err(|_| ProofError::Malformed)?;
    let challenge = payload
        .jti
        .filter(|jti| !jti.is_empty())
        .ok_or(ProofError::NoChallenge)?;
    Ok(Proof {
        challenge,
        key: matches!(purpose, Use::Registration).then_some(key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A proof as Chrome makes one (`testkit::dbsc` builds the same from
    /// outside): `key` signs `{"jti": challenge}`.
    fn sign_for_test(
        key: &p256::ecdsa::SigningKey,
        header: &serde_json::Value,
        challenge: &str,
    ) -> String {
        use p256::ecdsa::signature::Signer;
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        let payload = URL_SAFE_NO_PAD.encode(serde_json::json!({ "jti": challenge }).to_string());
        let signed = format!("{header}.{payload}");
        let signature: Signature = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn jwk_for_test(key: &p256::ecdsa::SigningKey) -> DeviceKey {
        let point = key.verifying_key().to_encoded_point(false);
        DeviceKey {
            kty: "EC".to_owned(),
            crv: "P-256".to_owned(),
            x: URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            y: URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        }
    }

    fn device() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng)
    }

    fn registration_header(key: &p256::ecdsa::SigningKey) -> serde_json::Value {
        json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": jwk_for_test(key) })
    }

    #[test]
    fn a_registration_proof_gives_its_challenge_and_key() {
        let key = device();
        let jws = sign_for_test(&key, &registration_header(&key), "c1");
        let proof = verify(&jws, Use::Registration).expect("valid");
        assert_eq!(proof.challenge, "c1");
        assert_eq!(proof.key, Some(jwk_for_test(&key)));
        // Quoted, as the spec writes it, or not, as Chrome sends it.
        assert_eq!(verify(&format!("\"{jws}\""), Use::Registration), Ok(proof));
    }

    #[test]
    fn a_refresh_proof_must_be_signed_by_the_stored_key_and_name_none() {
        let key = device();
        let stored = jwk_for_test(&key);
        let plain = json!({ "alg": "ES256", "typ": "dbsc+jwt" });
        let jws = sign_for_test(&key, &plain, "c2");
        let proof = verify(&jws, Use::Refresh(&stored)).expect("valid");
        assert_eq!((proof.challenge.as_str(), proof.key), ("c2", None));

        let other = device();
        let forged = sign_for_test(&other, &plain, "c2");
        assert_eq!(
            verify(&forged, Use::Refresh(&stored)),
            Err(ProofError::BadSignature)
        );
        // A key in the header is refused even when it signed the proof.
        let own_key = sign_for_test(&other, &registration_header(&other), "c2");
        assert_eq!(
            verify(&own_key, Use::Refresh(&stored)),
            Err(ProofError::KeyInRefresh)
        );
    }

    #[test]
    fn the_algorithm_and_type_are_pinned() {
        let key = device();
        let stored = jwk_for_test(&key);
        for (alg, typ, error) in [
            ("none", "dbsc+jwt", ProofError::WrongAlgorithm),
            ("HS256", "dbsc+jwt", ProofError::WrongAlgorithm),
            ("RS256", "dbsc+jwt", ProofError::WrongAlgorithm),
            ("ES256", "JWT", ProofError::WrongType),
        ] {
            let jws = sign_for_test(&key, &json!({ "alg": alg, "typ": typ }), "c");
            assert_eq!(
                verify(&jws, Use::Refresh(&stored)),
                Err(error),
                "{alg} {typ}"
            );
        }
        // alg none with an empty signature: still refused.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"dbsc+jwt"}"#);
        let payload = URL_SAFE_NO_PAD.encode(r#"{"jti":"c"}"#);
        let unsigned = format!("{header}.{payload}.");
        assert_eq!(
            verify(&unsigned, Use::Refresh(&stored)),
            Err(ProofError::WrongAlgorithm)
        );
        // An HMAC over the JWK's text as the secret: not a signature.
        let hs = sign_for_test(&key, &json!({ "alg": "ES256", "typ": "dbsc+jwt" }), "c");
        let mut parts: Vec<&str> = hs.split('.').collect();
        let forged_signature = URL_SAFE_NO_PAD.encode([7u8; 32]);
        parts[2] = &forged_signature;
        assert_eq!(
            verify(&parts.join("."), Use::Refresh(&stored)),
            Err(ProofError::BadSignature)
        );
    }

    #[test]
    fn malformed_proofs_are_refused_without_a_panic() {
        let key = device();
        let stored = jwk_for_test(&key);
        for bad in ["", "a", "a.b", "a.b.c.d", "!!.!!.!!", &"x".repeat(5000)] {
            assert!(verify(bad, Use::Refresh(&stored)).is_err(), "{bad:.20}");
        }
        let no_jti = {
            use p256::ecdsa::signature::Signer;
            let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"dbsc+jwt"}"#);
            let payload = URL_SAFE_NO_PAD.encode(r#"{"aud":"x"}"#);
            let signed = format!("{header}.{payload}");
            let signature: Signature = key.sign(signed.as_bytes());
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
        };
        assert_eq!(
            verify(&no_jti, Use::Refresh(&stored)),
            Err(ProofError::NoChallenge)
        );
        let wrong_curve = DeviceKey {
            crv: "P-384".to_owned(),
            ..stored.clone()
        };
        let jws = sign_for_test(&key, &json!({ "alg": "ES256", "typ": "dbsc+jwt" }), "c");
        assert_eq!(
            verify(&jws, Use::Refresh(&wrong_curve)),
            Err(ProofError::UnsupportedKey)
        );
    }
}
