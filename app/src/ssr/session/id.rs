//! Session identifiers: how they are made and how they are stored.

use rand::{rngs::OsRng, Rng};
use sha2::{Digest, Sha256};
use tower_sessions::session::Id;

/// A fresh session ID: 128 bits straight from the operating system's CSPRNG
/// (ASVS 7.2.3 asks for at least 128 bits of entropy; OWASP's cheat sheet
/// for at least 64). tower-sessions encodes it as 22 base64url characters.
pub fn new_session_id() -> Id {
    Id(OsRng.gen::<i128>())
}

/// What the database stores instead of the ID: SHA-256 of its 16 bytes.
///
/// A plain hash (not a slow KDF, not an HMAC) is enough because the input is
/// 128 random bits: nothing to guess, nothing to precompute. The raw ID then
/// exists only in the cookie, so a leaked database or backup cannot be
/// replayed as a session.
pub fn storage_key(id: &Id) -> [u8; 32] {
    Sha256::digest(id.0.to_le_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_use_all_128_bits() {
        let ids: Vec<Id> = (0..2000).map(|_| new_session_id()).collect();
        let distinct: HashSet<i128> = ids.iter().map(|id| id.0).collect();
        assert_eq!(distinct.len(), ids.len());
        // Every one of the 128 bit positions is set in some ID and clear in another.
        let (mut any_set, mut any_clear) = (0u128, 0u128);
        for id in &ids {
            any_set |= id.0 as u128;
            any_clear |= !(id.0 as u128);
        }
        assert_eq!(any_set, u128::MAX);
        assert_eq!(any_clear, u128::MAX);
    }

    #[test]
    fn the_storage_key_is_a_sha256_and_does_not_contain_the_id() {
        let id = new_session_id();
        let key = storage_key(&id);
        assert_eq!(key.len(), 32);
        let raw = id.0.to_le_bytes();
        assert!(!key.windows(raw.len()).any(|w| w == raw));
        assert_eq!(key, storage_key(&Id(id.0)));
    }
}
