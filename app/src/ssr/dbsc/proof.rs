//! The DBSC proof (W3C webappsec-dbsc, "DBSC Proof JWT"), checked as Chrome
//! sends it: a compact JWS whose protected header is
//! `{"alg":"ES256","typ":"dbsc+jwt"}` (plus the public key as `jwk` at
//! registration only) and whose payload is `{"jti":"<challenge>"}`. Chrome
//! sends no `aud`, `iat` or `exp`: the single-use challenge with its time
//! limit is the replay defence, so none are required here.
//!
//! Two algorithms, each pinned to its kind of key: ES256 (P-256, raw
//! 64-byte `r‖s`: software keys and TPM 2.0) and RS256 (RSASSA-PKCS1-v1_5
//! with SHA-256 over an RSA key of 2048 to 4096 bits: Windows machines
//! whose TPM 1.2 can only do RSA). The header's `alg` must be the one of
//! the key that verifies it (the stored key's on refresh): no `none`, no
//! HMAC, no ES256 header over an RSA key or the reverse. Plain Rust over
//! `p256` and `rsa`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The algorithms accepted, in the order of preference Chrome follows.
pub const ALGORITHMS: [&str; 2] = ["ES256", "RS256"];
/// `ALGORITHMS` as the sf-inner-list a registration offer carries
/// (written out: it goes on every page of a session not yet bound).
pub const OFFERED: &str = "(ES256 RS256)";
pub const PROOF_TYPE: &str = "dbsc+jwt";
/// Far more than Chrome's proofs (about 400 bytes with a P-256 key, 800
/// with an RSA 2048 one).
const MAX_PROOF_BYTES: usize = 4096;
/// RSA keys shorter than this are refused (NIST SP 800-57: 112-bit
/// security); `rsa` refuses those longer than 4096 bits.
const MIN_RSA_BITS: usize = 2048;

/// A device's public key as a JWK, as stored (the JSON of an EC key is
/// the same as before RSA was accepted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum DeviceKey {
    #[serde(rename = "EC")]
    Ec { crv: String, x: String, y: String },
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
}

impl DeviceKey {
    /// The one algorithm this key signs with.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Ec { .. } => ALGORITHMS[0],
            Self::Rsa { .. } => ALGORITHMS[1],
        }
    }

    /// Whether `signature` is this key's over `signed`.
    fn check(&self, signed: &[u8], signature: &[u8]) -> Result<(), ProofError> {
        let number = |text: &str| {
            URL_SAFE_NO_PAD
                .decode(text)
                .map_err(|_| ProofError::UnsupportedKey)
        };
        match self {
            Self::Ec { crv, x, y } => {
                let (x, y) = (number(x)?, number(y)?);
                if crv != "P-256" || x.len() != 32 || y.len() != 32 {
                    return Err(ProofError::UnsupportedKey);
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let key = VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| ProofError::UnsupportedKey)?;
                let signature =
                    Signature::from_slice(signature).map_err(|_| ProofError::BadSignature)?;
                key.verify(signed, &signature)
                    .map_err(|_| ProofError::BadSignature)
            }
            Self::Rsa { n, e } => {
                let n = rsa::BigUint::from_bytes_be(&number(n)?);
                let e = rsa::BigUint::from_bytes_be(&number(e)?);
                let key = rsa::RsaPublicKey::new(n, e).map_err(|_| ProofError::UnsupportedKey)?;
                if key.n().bits() < MIN_RSA_BITS {
                    return Err(ProofError::UnsupportedKey);
                }
                key.verify(
                    rsa::Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(signed),
                    signature,
                )
                .map_err(|_| ProofError::BadSignature)
            }
        }
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
    #[error("the algorithm is not the key's (ES256 for P-256, RS256 for RSA)")]
    WrongAlgorithm,
    #[error("a refresh proof named its own key")]
    KeyInRefresh,
    #[error("a registration proof has no key")]
    NoKey,
    #[error("the key is neither an EC P-256 key nor an RSA key of 2048 to 4096 bits")]
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
    /// Read as a key after the header: a key of another kind is an
    /// unsupported key, not a malformed proof.
    jwk: Option<serde_json::Value>,
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
    if !header
        .alg
        .as_deref()
        .is_some_and(|alg| ALGORITHMS.contains(&alg))
    {
        return Err(ProofError::WrongAlgorithm);
    }
    let key = match (purpose, header.jwk) {
        (Use::Registration, Some(jwk)) => {
            serde_json::from_value(jwk).map_err(|_| ProofError::UnsupportedKey)?
        }
        (Use::Registration, None) => return Err(ProofError::NoKey),
        (Use::Refresh(_), Some(_)) => return Err(ProofError::KeyInRefresh),
        (Use::Refresh(stored), None) => stored.clone(),
    };
    // The algorithm follows from the key, never from the header alone.
    if header.alg.as_deref() != Some(key.algorithm()) {
        return Err(ProofError::WrongAlgorithm);
    }
    let signed = &jws[..header_b64.len() + 1 + payload_b64.len()];
    key.check(signed.as_bytes(), &decode(signature_b64)?)?;
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
    /// A compact JWS of `header` and `payload`, signed by `sign`.
    fn compact_for_test(
        header: &serde_json::Value,
        payload: &serde_json::Value,
        sign: impl Fn(&[u8]) -> Vec<u8>,
    ) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn ec_signer(key: &p256::ecdsa::SigningKey) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
        use p256::ecdsa::signature::Signer;
        move |signed| {
            let signature: Signature = key.sign(signed);
            signature.to_bytes().to_vec()
        }
    }

    fn sign_for_test(
        key: &p256::ecdsa::SigningKey,
        header: &serde_json::Value,
        challenge: &str,
    ) -> String {
        compact_for_test(header, &json!({ "jti": challenge }), ec_signer(key))
    }

    fn jwk_for_test(key: &p256::ecdsa::SigningKey) -> DeviceKey {
        let point = key.verifying_key().to_encoded_point(false);
        DeviceKey::Ec {
            crv: "P-256".to_owned(),
            x: URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            y: URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        }
    }

    /// An RS256 proof, as a Windows machine with TPM 1.2 signs one.
    fn rsa_sign_for_test(
        key: &rsa::RsaPrivateKey,
        header: &serde_json::Value,
        challenge: &str,
    ) -> String {
        compact_for_test(header, &json!({ "jti": challenge }), |signed| {
            key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(signed))
                .expect("signed")
        })
    }

    fn rsa_jwk_for_test(key: &rsa::RsaPrivateKey) -> DeviceKey {
        DeviceKey::Rsa {
            n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        }
    }

    fn rsa_device(bits: usize) -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).expect("an RSA key")
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
        let no_jti = compact_for_test(
            &json!({ "alg": "ES256", "typ": "dbsc+jwt" }),
            &json!({ "aud": "x" }),
            ec_signer(&key),
        );
        assert_eq!(
            verify(&no_jti, Use::Refresh(&stored)),
            Err(ProofError::NoChallenge)
        );
        let DeviceKey::Ec { x, y, .. } = stored.clone() else {
            panic!("an EC key")
        };
        let wrong_curve = DeviceKey::Ec {
            crv: "P-384".to_owned(),
            x,
            y,
        };
        let jws = sign_for_test(&key, &json!({ "alg": "ES256", "typ": "dbsc+jwt" }), "c");
        assert_eq!(
            verify(&jws, Use::Refresh(&wrong_curve)),
            Err(ProofError::UnsupportedKey)
        );
    }

    #[test]
    fn the_offer_names_every_accepted_algorithm() {
        assert_eq!(OFFERED, format!("({})", ALGORITHMS.join(" ")));
    }

    #[test]
    fn an_rsa_key_signs_with_rs256_at_registration_and_refresh() {
        let key = rsa_device(2048);
        let jwk = rsa_jwk_for_test(&key);
        let header = json!({ "alg": "RS256", "typ": "dbsc+jwt", "jwk": jwk });
        let proof =
            verify(&rsa_sign_for_test(&key, &header, "r1"), Use::Registration).expect("valid");
        assert_eq!(proof.challenge, "r1");
        assert_eq!(proof.key.as_ref().map(DeviceKey::algorithm), Some("RS256"));
        // Stored and read back as the JWK it came as.
        let stored: DeviceKey =
            serde_json::from_str(&serde_json::to_string(&jwk).expect("JSON")).expect("a key");
        assert_eq!(stored, jwk);
        let plain = json!({ "alg": "RS256", "typ": "dbsc+jwt" });
        let refresh = rsa_sign_for_test(&key, &plain, "r2");
        assert_eq!(
            verify(&refresh, Use::Refresh(&stored)).map(|p| p.challenge),
            Ok("r2".to_owned())
        );
        let other = rsa_device(2048);
        assert_eq!(
            verify(
                &rsa_sign_for_test(&other, &plain, "r2"),
                Use::Refresh(&stored)
            ),
            Err(ProofError::BadSignature)
        );
    }

    #[test]
    fn the_algorithm_follows_the_key_and_short_rsa_keys_are_refused() {
        let ec = device();
        let ec_stored = jwk_for_test(&ec);
        let rsa_key = rsa_device(2048);
        let rsa_stored = rsa_jwk_for_test(&rsa_key);
        // RS256 named over an EC key, ES256 over an RSA key: refused before
        // any signature is looked at.
        let rs_over_ec = sign_for_test(&ec, &json!({ "alg": "RS256", "typ": "dbsc+jwt" }), "c");
        assert_eq!(
            verify(&rs_over_ec, Use::Refresh(&ec_stored)),
            Err(ProofError::WrongAlgorithm)
        );
        let es_over_rsa =
            rsa_sign_for_test(&rsa_key, &json!({ "alg": "ES256", "typ": "dbsc+jwt" }), "c");
        assert_eq!(
            verify(&es_over_rsa, Use::Refresh(&rsa_stored)),
            Err(ProofError::WrongAlgorithm)
        );
        let registration = json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": rsa_stored });
        assert_eq!(
            verify(
                &rsa_sign_for_test(&rsa_key, &registration, "c"),
                Use::Registration
            ),
            Err(ProofError::WrongAlgorithm)
        );
        // An EC proof's signature presented as RS256 over the RSA key.
        let ec_signature = sign_for_test(&ec, &json!({ "alg": "RS256", "typ": "dbsc+jwt" }), "c");
        assert_eq!(
            verify(&ec_signature, Use::Refresh(&rsa_stored)),
            Err(ProofError::BadSignature)
        );
        // 1024 bits: too short, even when the proof checks out.
        let short = rsa_device(1024);
        let header = json!({ "alg": "RS256", "typ": "dbsc+jwt", "jwk": rsa_jwk_for_test(&short) });
        assert_eq!(
            verify(&rsa_sign_for_test(&short, &header, "c"), Use::Registration),
            Err(ProofError::UnsupportedKey)
        );
        // A key of another kind (an HMAC secret as a JWK).
        let oct =
            json!({ "alg": "ES256", "typ": "dbsc+jwt", "jwk": { "kty": "oct", "k": "c2VjcmV0" } });
        assert_eq!(
            verify(&sign_for_test(&ec, &oct, "c"), Use::Registration),
            Err(ProofError::UnsupportedKey)
        );
    }

    /// Bindings stored before RSA was accepted hold the EC key's JWK as
    /// the old struct wrote it: it must still read as the same key.
    #[test]
    fn a_stored_ec_key_reads_as_before() {
        let key = jwk_for_test(&device());
        let DeviceKey::Ec { crv, x, y } = &key else {
            panic!("an EC key")
        };
        let old = format!(r#"{{"kty":"EC","crv":"{crv}","x":"{x}","y":"{y}"}}"#);
        assert_eq!(
            serde_json::from_str::<DeviceKey>(&old).ok(),
            Some(key.clone())
        );
        assert_eq!(serde_json::to_string(&key).ok(), Some(old));
    }

    /// Over 4096 bits is refused before any signature is checked (`rsa`'s
    /// limit: a huge modulus would make each verification slow).
    #[test]
    fn rsa_keys_longer_than_4096_bits_are_refused() {
        let mut modulus = vec![0xffu8; 513];
        modulus[512] = 0xf1;
        let huge = json!({ "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&modulus), "e": "AQAB" });
        let header = json!({ "alg": "RS256", "typ": "dbsc+jwt", "jwk": huge });
        let jws = compact_for_test(&header, &json!({ "jti": "c" }), |_| vec![1; 513]);
        assert_eq!(
            verify(&jws, Use::Registration),
            Err(ProofError::UnsupportedKey)
        );
    }
}
