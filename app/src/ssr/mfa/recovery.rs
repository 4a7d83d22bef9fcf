//! Recovery codes: ten single-use codes shown once, stored as SHA-256
//! hashes only.
//!
//! Each code is 16 characters from a 31-letter alphabet (79 random bits)
//! shown as `xxxx-xxxx-xxxx-xxxx`. With 79 bits a fast unsalted hash is
//! enough: guessing a code from its hash is as hard as guessing the code
//! (a slow password hash is for low-entropy human secrets).

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const COUNT: usize = 10;
const GROUPS: usize = 4;
const GROUP_LEN: usize = 4;
/// No 0/O or 1/I/L: codes are read off paper.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
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
    (code.len() == GROUPS * GROUP_LEN && code.bytes().all(|b| ALPHABET.contains(&b)))
        .then_some(code)
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
            assert_eq!(text.len(), 19, "{text}");
            assert_eq!(text.split('-').count(), 4);
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
    fn junk_is_not_a_code() {
        for junk in [
            "",
            "abcd",
            "abcd-efgh-jkmn-pqr0",
            "abcd-efgh-jkmn-pqrst",
            "ßbcd-efgh-jkmn-pqrs",
        ] {
            assert_eq!(hash_typed(junk), None, "{junk:?}");
        }
    }
}
