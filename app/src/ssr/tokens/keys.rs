//! The access tokens' signing keys: one PKCS#8 PEM file per Ed25519 key in
//! `[jwt] key_dir`, named `<created_at>-<random>.pem` (the name is the
//! `kid`). The newest key signs; an older key is retired when the next one
//! is created and stays published (accepted, listed in the JWKS) until the
//! last token it can have signed has expired: retired_at + ttl + leeway.
//! `rotate` adds a key and deletes the files past that point. Every server
//! reads the directory again every `[jwt] reload_secs`, so a rotation on one
//! machine (a shared directory or a copied file) reaches all of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use zeroize::Zeroizing;

use crate::ssr::clock::UnixTime;
use crate::ssr::tokens::settings::JwtSettings;

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

pub(crate) fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One key as loaded from its file.
pub(crate) struct Key {
    pub(crate) kid: String,
    pub(crate) created_at: UnixTime,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    /// The raw public key, base64url: the JWK's `x`.
    pub(crate) public_x: String,
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

    /// The key that signs new tokens: the newest that every server has had
    /// `reload_secs` to load (review E9: a token signed with a key another
    /// server has not read yet would fail there as unknown). The first key
    /// signs at once, as there is no other.
    pub(crate) fn signing(&self, now: UnixTime, settings: &JwtSettings) -> Option<&Key> {
        let loaded_everywhere =
            |key: &&Key| key.created_at.saturating_add(settings.reload_secs as i64) <= now;
        self.keys
            .iter()
            .rev()
            .find(loaded_everywhere)
            .or(self.keys.first())
    }

    /// Whether key `index` may still have signed an unexpired token: the
    /// newest always; an older one until the next key took over signing
    /// (its creation plus `reload_secs`), plus the token lifetime and the
    /// leeway.
    fn is_published(&self, index: usize, now: UnixTime, settings: &JwtSettings) -> bool {
        match self.keys.get(index + 1) {
            None => true,
            Some(next) => now <= last_token_expiry(next.created_at, settings),
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
    pub(crate) fn find<'a>(
        &'a self,
        kid: &str,
        now: UnixTime,
        settings: &'a JwtSettings,
    ) -> Option<&'a Key> {
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

/// The last moment a token signed by a key may still be valid, when the
/// next key was created at `next_created_at`: the old key signs until the
/// new one has been loaded everywhere (`reload_secs`), and its last token
/// lives `ttl_secs`, accepted `leeway_secs` longer.
fn last_token_expiry(next_created_at: UnixTime, settings: &JwtSettings) -> UnixTime {
    next_created_at
        .saturating_add(settings.reload_secs as i64)
        .saturating_add(settings.ttl_secs as i64)
        .saturating_add(settings.leeway_secs as i64)
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
        if now > last_token_expiry(retired_at, settings) {
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
pub(crate) mod tests {
    use super::*;

    pub(crate) const NOW: UnixTime = 1_800_000_000;

    pub(crate) fn settings(dir: &Path) -> JwtSettings {
        JwtSettings {
            key_dir: dir.to_owned(),
            ..JwtSettings::default()
        }
    }

    pub(crate) fn ring_with_key() -> (tempfile::TempDir, JwtSettings, KeyRing) {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = settings(dir.path());
        create_key(dir.path(), NOW).expect("key");
        let ring = KeyRing::load(dir.path()).expect("load");
        (dir, settings, ring)
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
        // The new key signs once every server has had `reload_secs` (10)
        // to load it; until then the old one still does (review E9).
        assert_eq!(
            ring.signing(NOW + 19, &settings).map(|k| k.kid.as_str()),
            ring.keys.first().map(|k| k.kid.as_str())
        );
        assert_eq!(
            ring.signing(NOW + 20, &settings).map(|k| k.kid.as_str()),
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
        let gone = NOW + 10 + 10 + 300 + 30 + 1;
        assert_eq!(
            ring.jwks(gone - 1, &settings)["keys"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "published until the last token the old key signed expires"
        );
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
