//! Recovery codes: ten single-use codes shown once, stored as SHA-256
//! hashes only.
//!
//! Each code is 25 characters from a 31-letter alphabet, 123 random bits,
//! shown as `xxxxx-xxxxx-xxxxx-xxxxx-xxxxx`. ASVS 5.0 6.5.2 lets a look-up
//! secret be stored with a plain (unsalted, fast) approved hash only when
//! it has at least 112 bits of entropy; below that it needs a salted
//! password hash. At 123 bits guessing a code from its hash is as hard as
//! guessing the code, and a check costs one indexed lookup instead of an
//! argon2 run per stored code.
//!
//! Codes made before this length (16 characters, 79 bits, `LEGACY_LEN`)
//! still work until they are used or renewed, so nobody who kept them on
//! paper is locked out; their rows carry `bits = 79` and the security page
//! asks the user to make new ones.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const COUNT: usize = 10;
const GROUPS: usize = 5;
const GROUP_LEN: usize = 5;
/// The length of the codes made before they had 112 bits (4 groups of 4).
const LEGACY_LEN: usize = 16;
/// No 0/O or 1/I/L: codes are read off paper.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// The entropy of a code made now, whole bits (25 x log2 31 = 123.9),
/// stored with each code's hash.
pub const BITS: i64 = 123;
/// ASVS 6.5.2's bar for storing a look-up secret with a plain hash.
pub const MIN_BITS_FOR_PLAIN_HASH: i64 = 112;
/// A remaining count at or below which the user is told to make new ones.
pub const LOW_WATERMARK: usize = 3;

/// A recovery code as shown to the user. `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(Zeroizing<String>);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

impl RecoveryCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> [u8; 32] {
        hash_normalized(&normalize(&self.0).unwrap_or_default())
    }
}

/// `COUNT` fresh codes from the OS CSPRNG.
pub fn generate() -> Vec<RecoveryCode> {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let mut code = Zeroizing::new(String::with_capacity(GROUPS * (GROUP_LEN + 1)));
            for group in 0..GROUPS {
                if group > 0 {
                    code.push('-');
                }
                for _ in 0..GROUP_LEN {
                    code.push(char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]));
                }
            }
            RecoveryCode(code)
        })
        .collect()
}

/// The code as typed, lower case, without spaces and dashes; `None` when
/// it cannot be a recovery code at all.
pub fn normalize(typed: &str) -> Option<Zeroizing<String>> {
    let code: Zeroizing<String> = Zeroizing::new(
        typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    let length_of_a_code = code.len() == GROUPS * GROUP_LEN || code.len() == LEGACY_LEN;
    (length_of_a_code && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The stored form of a typed code, if it can be one.
pub fn hash_typed(typed: &str) -> Option<[u8; 32]> {
    normalize(typed).map(|code| hash_normalized(&code))
}

fn hash_normalized(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_in_the_shown_format() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let mut hashes: Vec<_> = codes.iter().map(RecoveryCode::hash).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), COUNT);
        for code in &codes {
            let text = code.as_str();
            assert_eq!(text.len(), 29, "{text}");
            assert_eq!(text.split('-').count(), 5);
            assert_eq!(format!("{code:?}"), "RecoveryCode([redacted])");
        }
    }

    #[test]
    fn typed_codes_match_whatever_the_case_spaces_and_dashes() {
        let code = &generate()[0];
        let expected = code.hash();
        let typed = code.as_str().to_uppercase().replace('-', " ");
        assert_eq!(hash_typed(&typed), Some(expected));
        assert_eq!(hash_typed(&code.as_str().replace('-', "")), Some(expected));
        // The hash is of the code, never the code itself.
        assert_ne!(&expected[..16], code.as_str().replace('-', "").as_bytes());
    }

    #[test]
    fn a_code_has_at_least_112_bits_so_a_plain_hash_may_store_it() {
        let bits = (GROUPS * GROUP_LEN) as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= MIN_BITS_FOR_PLAIN_HASH as f64, "{bits}");
        assert_eq!(BITS, bits.floor() as i64);
        // Every letter of the alphabet turns up: the codes use all of it.
        let letters: std::collections::BTreeSet<char> = (0..20)
            .flat_map(|_| generate())
            .flat_map(|c| c.as_str().chars().filter(|c| *c != '-').collect::<Vec<_>>())
            .collect();
        assert_eq!(letters.len(), ALPHABET.len());
    }

    #[test]
    fn a_code_of_the_older_shorter_kind_is_still_read() {
        let typed = "ABCD-efgh-jkmn-pqrs";
        assert_eq!(hash_typed(typed), Some(hash_normalized("abcdefghjkmnpqrs")));
    }

    #[test]
    fn junk_is_not_a_code() {
        for junk in [
            "",
            "abcd",
            "abcd-efgh-jkmn-pqr0",
            "abcd-efgh-jkmn-pqrst",
            "ßbcd-efgh-jkmn-pqrs",
            "abcde-fghjk-mnpqr-stuvw-xyz20",
            "abcde-fghjk-mnpqr-stuvw-xyz2",
        ] {
            assert_eq!(hash_typed(junk), None, "{junk:?}");
        }
    }
}
