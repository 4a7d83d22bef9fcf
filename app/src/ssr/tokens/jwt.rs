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
//!
//! Keys: one PKCS#8 PEM file per key in `[jwt] key_dir`, named
//! `<created_at>-<random>.pem` (the name is the `kid`). The newest key
//! signs; an older key is retired when the next one is created and stays
//! published (accepted, listed in the JWKS) until the last token it can
//! have signed has expired: retired_at + ttl + leeway. `rotate` adds a key
//! and deletes the files past that point. Every server reads the directory
//! again every `[jwt] reload_secs`, so a rotation on one machine (a shared
//! directory or a copied file) reaches all of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ssr::clock::UnixTime;
use crate::ssr::config::JwtSettings;

/// RFC 9068 section 2.1; "application/at+jwt" is the same type spelled out.
pub const TOKEN_TYPE: &str = "at+jwt";
/// A token longer than this is refused unread (ours are about 400 bytes).
const MAX_TOKEN_BYTES: usize = 4096;

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

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

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the access-token key directory {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write an access-token key in {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the access-token key {path} is not an Ed25519 PKCS#8 PEM key")]
    Invalid { path: String },
    #[error("the access-token key {0} cannot sign or be encoded")]
    Unusable(String),
    #[error(
        "access tokens are not configured: [jwt] key_dir {0} has no key (run `server jwt rotate`)"
    )]
    NoKey(String),
}

/// One key as loaded from its file.
struct Key {
    kid: String,
    created_at: UnixTime,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The raw public key, base64url: the JWK's `x`.
    public_x: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The keys of a key directory, oldest first.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<Key>,
}

/// `<created_at>-<8 hex digits>`, the form `create_key` writes; anything
/// else in the directory is not ours and is ignored.
fn created_at_of(kid: &str) -> Option<UnixTime> {
    let (time, random) = kid.split_once('-')?;
    (random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| time.parse().ok())
        .flatten()
}

fn key_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, KeyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(KeyError::Read {
                path: dir.display().to_string(),
                source,
            })
        }
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(kid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".pem"))
        else {
            continue;
        };
        if created_at_of(kid).is_some() {
            files.push((kid.to_owned(), path));
        }
    }
    files.sort_by_key(|(kid, _)| (created_at_of(kid), kid.clone()));
    Ok(files)
}

impl KeyRing {
    /// Reads every key file of `dir` (none: an empty ring).
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for (kid, path) in key_files(dir)? {
            let invalid = || KeyError::Invalid {
                path: path.display().to_string(),
            };
            let pem = Zeroizing::new(std::fs::read_to_string(&path).map_err(|source| {
                KeyError::Read {
                    path: path.display().to_string(),
                    source,
                }
            })?);
            let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| invalid())?;
            let public = signing.verifying_key().to_bytes();
            keys.push(Key {
                created_at: created_at_of(&kid).unwrap_or_default(),
                kid,
                encoding: EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|_| invalid())?,
                decoding: DecodingKey::from_ed_der(&public),
                public_x: b64url(&public),
            });
        }
        Ok(Self { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key that signs new tokens: the newest.
    fn signing(&self) -> Option<&Key> {
        self.keys.last()
    }

    /// Whether key `index` may still have signed an unexpired token: the
    /// newest always; an older one until the next key's creation plus the
    /// token lifetime plus the leeway.
    fn is_published(&self, index: usize, now: UnixTime, settings: &JwtSettings) -> bool {
        match self.keys.get(index + 1) {
            None => true,
            Some(next) => {
                let last_expiry = next.created_at.saturating_add(settings.ttl_secs as i64);
                now <= last_expiry.saturating_add(settings.leeway_secs as i64)
            }
        }
    }

    fn published<'a>(
        &'a self,
        now: UnixTime,
        settings: &'a JwtSettings,
    ) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.is_published(*i, now, settings))
            .map(|(_, key)| key)
    }

    /// The published key named `kid`.
    fn find<'a>(&'a self, kid: &str, now: UnixTime, settings: &'a JwtSettings) -> Option<&'a Key> {
        self.published(now, settings).find(|key| key.kid == kid)
    }

    /// The JSON Web Key Set of the published public keys (RFC 7517, RFC
    /// 8037 for Ed25519).
    pub fn jwks(&self, now: UnixTime, settings: &JwtSettings) -> serde_json::Value {
        let keys: Vec<_> = self
            .published(now, settings)
            .map(|key| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": key.public_x,
                    "kid": key.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Signs a new access token for `user_id`'s sign-in `sign_in_id`.
    pub fn mint(
        &self,
        user_id: i64,
        sign_in_id: &str,
        now: UnixTime,
        settings: &JwtSettings,
    ) -> Result<(String, AccessClaims), KeyError> {
        let key = self
            .signing()
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

/// Writes a new key to `dir` (created 0700 if missing; the file 0600) and
/// returns its `kid`.
pub fn create_key(dir: &Path, now: UnixTime) -> Result<String, KeyError> {
    let write_error = |source| KeyError::Write {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(write_error)?;
    }
    let seed = Zeroizing::new(rand::random::<[u8; 32]>());
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let pem = signing
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|_| KeyError::Unusable("a new key".to_owned()))?;
    // Keys are ordered by the time in their name: a key made in the same
    // second as the newest (or on a server whose clock is behind) is dated
    // one second after it, so that it is the one that signs.
    let newest = key_files(dir)?
        .last()
        .and_then(|(kid, _)| created_at_of(kid));
    let created_at = newest.map_or(now, |newest| now.max(newest.saturating_add(1)));
    let kid = format!("{created_at}-{:08x}", rand::random::<u32>());
    let path = dir.join(format!("{kid}.pem"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(write_error)?;
    std::io::Write::write_all(&mut file, pem.as_bytes()).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    Ok(kid)
}

/// What `rotate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub new_kid: String,
    /// Retired keys past their last token's expiry, deleted.
    pub removed: Vec<String>,
}

/// A new signing key; the previous one retires now and stays published for
/// one token lifetime (plus leeway); keys already past that are deleted.
pub fn rotate(dir: &Path, now: UnixTime, settings: &JwtSettings) -> Result<Rotation, KeyError> {
    let new_kid = create_key(dir, now)?;
    let files = key_files(dir)?;
    let mut removed = Vec::new();
    for (i, (kid, path)) in files.iter().enumerate() {
        let Some((next_kid, _)) = files.get(i + 1) else {
            continue;
        };
        let retired_at = created_at_of(next_kid).unwrap_or(now);
        let last_expiry = retired_at
            .saturating_add(settings.ttl_secs as i64)
            .saturating_add(settings.leeway_secs as i64);
        if now > last_expiry {
            std::fs::remove_file(path).map_err(|source| KeyError::Write {
                path: path.display().to_string(),
                source,
            })?;
            removed.push(kid.clone());
        }
    }
    Ok(Rotation { new_kid, removed })
}

/// The key ring of a running server, read again every `reload_secs`.
#[derive(Debug)]
pub struct AccessTokens {
    settings: JwtSettings,
    loaded: std::sync::RwLock<(Instant, Arc<KeyRing>)>,
}

impl AccessTokens {
    /// Loads `key_dir`, creating a first key when it has none and
    /// `create_key_if_missing` is on.
    pub fn start(settings: &JwtSettings, now: UnixTime) -> Result<Self, KeyError> {
        let mut ring = KeyRing::load(&settings.key_dir)?;
        if ring.is_empty() && settings.create_key_if_missing {
            create_key(&settings.key_dir, now)?;
            ring = KeyRing::load(&settings.key_dir)?;
        }
        Ok(Self {
            settings: settings.clone(),
            loaded: std::sync::RwLock::new((Instant::now(), Arc::new(ring))),
        })
    }

    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// The current ring; read from disk again (off the async threads) when
    /// the last read is older than `reload_secs`. A directory that cannot be
    /// read keeps the keys already loaded (and says so in the log).
    pub async fn ring(&self) -> Arc<KeyRing> {
        let (read_at, ring) = {
            let loaded = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            (loaded.0, loaded.1.clone())
        };
        if read_at.elapsed().as_secs() < self.settings.reload_secs {
            return ring;
        }
        let dir = self.settings.key_dir.clone();
        match tokio::task::spawn_blocking(move || KeyRing::load(&dir)).await {
            Ok(Ok(fresh)) => {
                let fresh = Arc::new(fresh);
                *self.loaded.write().unwrap_or_else(|p| p.into_inner()) =
                    (Instant::now(), fresh.clone());
                fresh
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "access-token keys not reloaded; keeping the loaded ones");
                ring
            }
            Err(error) => {
                tracing::warn!(%error, "access-token key reload failed");
                ring
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_800_000_000;

    fn settings(dir: &Path) -> JwtSettings {
        JwtSettings {
            key_dir: dir.to_owned(),
            ..JwtSettings::default()
        }
    }

    fn ring_with_key() -> (tempfile::TempDir, JwtSettings, KeyRing) {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = settings(dir.path());
        create_key(dir.path(), NOW).expect("key");
        let ring = KeyRing::load(dir.path()).expect("load");
        (dir, settings, ring)
    }

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

    #[test]
    fn a_retired_key_is_published_until_its_last_token_expires_then_deleted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = settings(dir.path());
        create_key(dir.path(), NOW).expect("key");
        let old = KeyRing::load(dir.path()).expect("load");
        let (token, _) = old.mint(1, "s", NOW + 10, &settings).expect("mint");

        let rotation = rotate(dir.path(), NOW + 10, &settings).expect("rotate");
        assert!(rotation.removed.is_empty());
        let ring = KeyRing::load(dir.path()).expect("load");
        assert_eq!(
            ring.signing().map(|k| k.kid.as_str()),
            Some(rotation.new_kid.as_str())
        );
        assert!(
            ring.validate(&token, NOW + 20, &settings).is_ok(),
            "still published"
        );
        assert_eq!(
            ring.jwks(NOW + 20, &settings)["keys"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        let gone = NOW + 10 + 300 + 30 + 1;
        assert_eq!(
            ring.jwks(gone, &settings)["keys"].as_array().map(Vec::len),
            Some(1)
        );

        let later = rotate(dir.path(), gone, &settings).expect("rotate again");
        assert_eq!(later.removed.len(), 1, "the first key is deleted");
        assert_eq!(key_files(dir.path()).expect("files").len(), 2);
    }

    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let kid = create_key(&dir.path().join("jwt"), NOW).expect("key");
        let file = dir.path().join("jwt").join(format!("{kid}.pem"));
        let mode = std::fs::metadata(file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(dir.path().join("jwt"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn other_files_in_the_key_directory_are_ignored() {
        let (dir, _settings, _ring) = ring_with_key();
        std::fs::write(dir.path().join("README.pem"), "not a key").expect("write");
        std::fs::write(dir.path().join("1-zzzzzzzz.pem"), "not a key").expect("write");
        assert_eq!(KeyRing::load(dir.path()).expect("load").keys.len(), 1);
    }
}
