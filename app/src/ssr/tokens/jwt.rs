//! Access tokens for API clients (issue 14): short-lived JWTs (RFC 9068
//! `typ: at+jwt`) signed with Ed25519, and their validation, in one place.
//!
//! Validation follows the OWASP JWT cheat sheet and the seed ("verify
//! signature, expiration, not before, issuer and audience"): the algorithm
//! is taken from our allowlist (EdDSA only), never from the token, so
//! `none`, HS256 signed with our public key (algorithm confusion) and RS256
//! are refused before any key is used; `kid` must name a key we publish;
//! `typ`, `iss` and `aud` are compared exactly; `exp` and `nbf` are
//! required and checked against the app's clock (the same clock every
//! session deadline uses) with at most 30 s of leeway. The caller then
//! checks the `sid` claim against the session store (`SessionBackend::
//! live_sign_in_owner`), so a sign-out ends the token's access too.

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::{b64url, KeyError, KeyRing};
use crate::ssr::clock::UnixTime;
use crate::ssr::tokens::settings::JwtSettings;

/// RFC 9068 section 2.1; "application/at+jwt" is the same type spelled out.
pub const TOKEN_TYPE: &str = "at+jwt";
/// A token longer than this is refused unread (ours are about 400 bytes).
const MAX_TOKEN_BYTES: usize = 4096;

/// The claims of our access tokens. `exp` and `nbf` are options only so
/// that a token without them is refused with a clear reason.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user's id, in decimal.
    pub sub: String,
    pub iat: UnixTime,
    pub nbf: Option<UnixTime>,
    pub exp: Option<UnixTime>,
    /// 128 random bits: names this token in the audit log.
    pub jti: String,
    /// The sign-in the token was minted from (`AuthState::sign_in_id`),
    /// never the session ID.
    pub sid: String,
}

/// A token that passed every check of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidToken {
    pub user_id: i64,
    pub sign_in_id: String,
    pub jti: String,
    pub expires_at: UnixTime,
}

/// Why a token was refused: the short reason sent back in
/// `WWW-Authenticate: Bearer error="invalid_token", error_description=...`.
/// It never contains any part of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    #[error("the token is not an access token (typ)")]
    Type,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has no exp claim")]
    MissingExpiry,
    #[error("the token has no nbf claim")]
    MissingNotBefore,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is wrong")]
    Issuer,
    #[error("the token's audience is wrong")]
    Audience,
    #[error("the token's session has ended")]
    SessionEnded,
}

impl KeyRing {
    /// Signs a new access token for `user_id`'s sign-in `sign_in_id`.
    pub fn mint(
        &self,
        user_id: i64,
        sign_in_id: &str,
        now: UnixTime,
        settings: &JwtSettings,
    ) -> Result<(String, AccessClaims), KeyError> {
        let key = self
            .signing(now, settings)
            .ok_or_else(|| KeyError::NoKey(settings.key_dir.display().to_string()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        let claims = AccessClaims {
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            sub: user_id.to_string(),
            iat: now,
            nbf: Some(now),
            exp: Some(now.saturating_add(settings.ttl_secs as i64)),
            jti: b64url(&rand::random::<[u8; 16]>()),
            sid: sign_in_id.to_owned(),
        };
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|_| KeyError::Unusable(key.kid.clone()))?;
        Ok((token, claims))
    }

    /// Every check but the session's: see the module comment.
    pub fn validate(
        &self,
        token: &str,
        now: UnixTime,
        settings: &JwtSettings,
    ) -> Result<ValidToken, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        // The header is read before the signature is checked: only to pick
        // the key and refuse what we never issue. `alg: none` (and any
        // name jsonwebtoken does not know) fails here as malformed.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Algorithm);
        }
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenError::Type);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.find(kid, now, settings))
            .ok_or(TokenError::UnknownKey)?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        // Time is checked below with the app's clock (the one sessions use,
        // injected in tests), not the system clock jsonwebtoken would read.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::Signature,
                ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                ErrorKind::InvalidIssuer => TokenError::Issuer,
                ErrorKind::InvalidAudience => TokenError::Audience,
                _ => TokenError::Malformed,
            })?;
        let claims = data.claims;
        let leeway = settings.leeway_secs as i64;
        let exp = claims.exp.ok_or(TokenError::MissingExpiry)?;
        let nbf = claims.nbf.ok_or(TokenError::MissingNotBefore)?;
        if now > exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        if nbf.saturating_sub(leeway) > now || claims.iat.saturating_sub(leeway) > now {
            return Err(TokenError::NotYetValid);
        }
        let user_id = claims.sub.parse().map_err(|_| TokenError::Malformed)?;
        Ok(ValidToken {
            user_id,
            sign_in_id: claims.sid,
            jti: claims.jti,
            expires_at: exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::tokens::keys::tests::{ring_with_key, NOW};

    #[test]
    fn a_minted_token_validates_with_its_claims() {
        let (_dir, settings, ring) = ring_with_key();
        let (token, claims) = ring.mint(7, "sign-in", NOW, &settings).expect("mint");
        let valid = ring.validate(&token, NOW, &settings).expect("valid");
        assert_eq!(valid.user_id, 7);
        assert_eq!(valid.sign_in_id, "sign-in");
        assert_eq!(valid.expires_at, NOW + 300);
        assert_eq!(claims.jti.len(), 22, "128 bits");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::EdDSA);
    }

    #[test]
    fn time_is_checked_with_the_given_clock_and_leeway() {
        let (_dir, settings, ring) = ring_with_key();
        let (token, _) = ring.mint(7, "s", NOW, &settings).expect("mint");
        assert!(ring.validate(&token, NOW + 300 + 30, &settings).is_ok());
        assert_eq!(
            ring.validate(&token, NOW + 300 + 31, &settings),
            Err(TokenError::Expired)
        );
        assert!(ring.validate(&token, NOW - 30, &settings).is_ok());
        assert_eq!(
            ring.validate(&token, NOW - 31, &settings),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn iss_and_aud_are_exact() {
        let (_dir, settings, ring) = ring_with_key();
        let (token, _) = ring.mint(7, "s", NOW, &settings).expect("mint");
        let other_iss = JwtSettings {
            issuer: "tessera2".to_owned(),
            ..settings.clone()
        };
        assert_eq!(
            ring.validate(&token, NOW, &other_iss),
            Err(TokenError::Issuer)
        );
        let other_aud = JwtSettings {
            audience: "tessera-api2".to_owned(),
            ..settings.clone()
        };
        assert_eq!(
            ring.validate(&token, NOW, &other_aud),
            Err(TokenError::Audience)
        );
    }
}
