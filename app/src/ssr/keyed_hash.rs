//! HMAC-SHA256 for the server's keyed hashes: the audit log's session and
//! sign-in hashes, the sessions pages' handles, and the audit key derived
//! from the MFA key. One place, so they cannot drift apart.

use hmac::{Hmac, Mac};

/// HMAC-SHA256 of `parts` (concatenated) under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // Cannot fail: HMAC takes a key of any length (RFC 2104 hashes a long
    // key and pads a short one); only fixed-key-size MACs refuse lengths.
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
