//! TOTP secrets at rest: AES-256-GCM (the `aes-gcm` crate, RustCrypto)
//! with a random 96-bit nonce per sealing and the user id as associated
//! data, so a sealed secret copied onto another user's row does not open.
//!
//! The key lives in a file outside the database (`[mfa] key_file`): a copy
//! of the database alone does not reveal any secret. Format: 64 hex digits
//! (32 bytes), whitespace around them ignored; `make run` creates one for
//! development with mode 0600.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

const NONCE_BYTES: usize = 12;
/// A version byte in front, so that a later format can be told apart.
const FORMAT_V1: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Wrong key, wrong user, or the bytes were changed: all look the same.
    #[error("the sealed secret does not open with this key for this user")]
    DoesNotOpen,
    #[error("the sealed secret is malformed")]
    Malformed,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read the MFA key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the MFA key file {path} must hold 64 hexadecimal digits (32 random bytes); \
         create one with `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`"
    )]
    Format { path: String },
}

/// The key that seals TOTP secrets. `Debug` prints nothing of it.
#[derive(Clone)]
pub struct SealingKey {
    cipher: Aes256Gcm,
    /// A second key derived from this one (HMAC-SHA256 with a label), for
    /// the audit log's keyed session hashes: one secret to keep, two uses
    /// that cannot be confused.
    audit_key: [u8; 32],
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

impl SealingKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(bytes.into()),
            audit_key: crate::ssr::keyed_hash::hmac_sha256(
                bytes,
                &[b"tessera audit session hash v1"],
            ),
        }
    }

    /// The key for the audit log's session hashes.
    pub fn audit_key(&self) -> [u8; 32] {
        self.audit_key
    }

    /// Reads the key file; `Ok(None)` if there is none.
    pub fn load(path: &Path) -> Result<Option<Self>, KeyFileError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(KeyFileError::Read {
                    path: shown,
                    source,
                })
            }
        };
        Self::from_hex(text.trim())
            .map(Some)
            .ok_or(KeyFileError::Format { path: shown })
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self::from_bytes(&bytes))
    }

    /// `version || nonce || ciphertext+tag`.
    pub fn seal(&self, user_id: i64, plaintext: &[u8]) -> Vec<u8> {
        use rand::RngCore;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = user_id.to_be_bytes();
        // Encryption fails only for inputs over 64 GiB.
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut sealed = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, user_id: i64, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let Some((&FORMAT_V1, rest)) = sealed.split_first() else {
            return Err(SealError::Malformed);
        };
        if rest.len() < NONCE_BYTES + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let aad = user_id.to_be_bytes();
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::DoesNotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealingKey {
        SealingKey::from_bytes(&[byte; 32])
    }

    #[test]
    fn round_trip() {
        let sealed = key(7).seal(42, b"secret");
        assert_eq!(
            key(7).open(42, &sealed).expect("opens").as_slice(),
            b"secret"
        );
        // A fresh nonce each time: equal secrets do not look equal.
        assert_ne!(sealed, key(7).seal(42, b"secret"));
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn wrong_key_wrong_user_or_tampering_does_not_open() {
        let sealed = key(7).seal(42, b"secret");
        assert_eq!(key(8).open(42, &sealed), Err(SealError::DoesNotOpen));
        assert_eq!(key(7).open(43, &sealed), Err(SealError::DoesNotOpen));
        for i in 1..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert_eq!(
                key(7).open(42, &tampered),
                Err(SealError::DoesNotOpen),
                "byte {i}"
            );
        }
        assert_eq!(key(7).open(42, &sealed[..10]), Err(SealError::Malformed));
        assert_eq!(key(7).open(42, &[]), Err(SealError::Malformed));
        let mut other_version = sealed.clone();
        other_version[0] = 2;
        assert_eq!(key(7).open(42, &other_version), Err(SealError::Malformed));
    }

    #[test]
    fn key_files_are_hex_and_never_printed() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let key = SealingKey::from_hex(hex).expect("valid");
        assert_eq!(format!("{key:?}"), "SealingKey([redacted])");
        assert!(SealingKey::from_hex(&hex[..62]).is_none());
        assert!(SealingKey::from_hex(&hex.replace('0', "g")).is_none());
        let dir = std::env::temp_dir().join(format!("tessera-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert!(SealingKey::load(&dir.join("absent.key"))
            .expect("no error")
            .is_none());
        std::fs::write(dir.join("bad.key"), "not hex").expect("write");
        assert!(matches!(
            SealingKey::load(&dir.join("bad.key")),
            Err(KeyFileError::Format { .. })
        ));
        std::fs::write(dir.join("good.key"), format!("{hex}\n")).expect("write");
        assert!(SealingKey::load(&dir.join("good.key"))
            .expect("reads")
            .is_some());
        let _ = std::fs::remove_dir_all(dir);
    }
}
