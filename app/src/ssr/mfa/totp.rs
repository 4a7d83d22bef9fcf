//! Time-based one-time passwords (RFC 6238) as authenticator apps expect
//! them: SHA-1, 6 digits, 30-second steps, issuer "Tessera".
//!
//! totp-rs computes the codes; this module decides which steps count. A
//! code is accepted for the current step and one step either side (clock
//! drift between phone and server), and the caller must refuse any step
//! at or below the last one it accepted for that user: `check` in totp-rs
//! alone would accept the same code again within its window (ASVS 6.5.1,
//! single use).

use totp_rs::{Algorithm, Secret, TOTP};
use zeroize::Zeroizing;

pub const ISSUER: &str = "Tessera";
pub const DIGITS: usize = 6;
pub const STEP_SECS: u64 = 30;
/// Steps accepted either side of the server's current one.
pub const SKEW_STEPS: i64 = 1;
/// 160 bits, the size RFC 4226 recommends and authenticator apps expect.
pub const SECRET_BYTES: usize = 20;

/// A TOTP shared secret. Never printed (`Debug` is redacted), wiped from
/// memory on drop.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() == SECRET_BYTES).then(|| Self(Zeroizing::new(bytes)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret in base32, for typing into an app by hand.
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(Secret::Raw(self.0.to_vec()).to_encoded().to_string())
    }

    fn totp(&self, account: &str) -> Option<TOTP> {
        TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECS,
            self.0.to_vec(),
            Some(ISSUER.to_owned()),
            account.to_owned(),
        )
        .ok()
    }

    /// The `otpauth://` URI the QR code carries.
    pub fn provisioning_uri(&self, account: &str) -> Option<Zeroizing<String>> {
        self.totp(account).map(|t| Zeroizing::new(t.get_url()))
    }

    /// The code of one time step.
    pub fn code_at_step(&self, step: i64) -> Option<String> {
        let time = u64::try_from(step).ok()?.checked_mul(STEP_SECS)?;
        Some(self.totp("user")?.generate(time))
    }

    /// The time step `code` belongs to, if it is the code of the step of
    /// `now_secs` or of one step either side. Spaces in `code` are ignored.
    /// Comparisons are constant-time.
    pub fn matching_step(&self, code: &str, now_secs: i64) -> Option<i64> {
        let code = normalize_code(code)?;
        let current = now_secs.div_euclid(STEP_SECS as i64);
        let mut found = None;
        // Every candidate is computed and compared, so the time taken does
        // not tell which step matched.
        for step in current - SKEW_STEPS..=current + SKEW_STEPS {
            if let Some(expected) = self.code_at_step(step) {
                if constant_time_eq(expected.as_bytes(), code.as_bytes()) && found.is_none() {
                    found = Some(step);
                }
            }
        }
        found
    }
}

/// The digits of a typed code: spaces (and the dash some apps show) are
/// dropped; anything but exactly six digits is not a code.
pub fn normalize_code(code: &str) -> Option<String> {
    let digits: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1: the secret is the ASCII string
    /// "12345678901234567890"; the 6-digit codes are the last six digits
    /// of the 8-digit values the RFC lists.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).expect("20 bytes")
    }

    #[test]
    fn rfc_6238_test_vectors() {
        let secret = rfc_secret();
        for (time, code) in [
            (59_i64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(
                secret.code_at_step(time / 30).as_deref(),
                Some(code),
                "t={time}"
            );
            assert_eq!(
                secret.matching_step(code, time),
                Some(time / 30),
                "t={time}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_either_side_and_no_more() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let step = now / 30;
        for offset in [-1, 0, 1] {
            let code = secret.code_at_step(step + offset).expect("code");
            assert_eq!(secret.matching_step(&code, now), Some(step + offset));
        }
        for offset in [-2, 2] {
            let code = secret.code_at_step(step + offset).expect("code");
            assert_eq!(secret.matching_step(&code, now), None, "offset {offset}");
        }
    }

    #[test]
    fn spaces_are_ignored_and_junk_is_not_a_code() {
        let secret = rfc_secret();
        assert_eq!(
            secret.matching_step(" 005 924 ", 1_234_567_890),
            Some(41_152_263)
        );
        for junk in ["", "00592", "0059245", "abcdef", "٠٠٥٩٢٤", "005924\0"] {
            assert_eq!(secret.matching_step(junk, 1_234_567_890), None, "{junk:?}");
        }
    }

    #[test]
    fn fresh_secrets_differ_and_print_nothing() {
        let (a, b) = (TotpSecret::generate(), TotpSecret::generate());
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_eq!(format!("{a:?}"), "TotpSecret([redacted])");
        let uri = a.provisioning_uri("alice").expect("uri");
        assert!(uri.starts_with("otpauth://totp/Tessera:alice?"), "{}", *uri);
        assert!(uri.contains("issuer=Tessera"));
        assert_eq!(a.base32().len(), 32);
    }
}
