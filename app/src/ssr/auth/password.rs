//! Password hashing (argon2id): the parameters, one hash, one check. They
//! block for tens of milliseconds, so the server runs them through
//! `auth::hasher` (its own threads, a bounded queue). The rules a new
//! password must meet are in `password_rules`.
//!
//! Parameters: OWASP Password Storage Cheat Sheet's first argon2id option,
//! m = 19456 KiB, t = 2, p = 1 (~19 MiB and tens of milliseconds of CPU
//! each).

use std::cell::RefCell;
use std::fmt;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::{rngs::OsRng, RngCore};

/// A password in memory. It cannot be printed or logged by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Self {
        Self(text)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2: {0}")]
    Argon2(String),
    #[error("cannot start a hashing thread: {0}")]
    Thread(std::io::Error),
    #[error("the hashing task panicked")]
    Panicked,
    #[error("the hashing pool is closed")]
    Closed,
    /// The queue for a hashing slot is full, or the wait for one timed out.
    #[error("too many passwords are waiting to be checked")]
    Busy,
    /// The client went away while the request waited for a slot.
    #[error("the client left before its password was checked")]
    Abandoned,
}

/// OWASP's first argon2id option: m = 19456 KiB, t = 2, p = 1.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn argon2() -> Argon2<'static> {
    // Constant parameters, so this cannot fail.
    let params = Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// Each hashing thread keeps one argon2 memory (19 MiB) for its whole
    /// life instead of allocating and freeing it per hash: memory stays at
    /// exactly `hash_concurrency` x 19 MiB whatever the allocator caches
    /// (make bench saw 87 to 138 MB after W2 with a fresh block per hash),
    /// and no page is faulted in again. Like the freed blocks before it,
    /// it holds only one-way argon2 state, never the password.
    static ARGON2_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out`, in this thread's kept memory when the
/// parameters are Tessera's, in a temporary one otherwise (an old hash
/// with other parameters).
fn argon2_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    if blocks != Params::new(M_COST, T_COST, P_COST, None).map_or(0, |p| p.block_count()) {
        return argon2.hash_password_into(password, salt, out);
    }
    ARGON2_MEMORY.with_borrow_mut(|memory| {
        if memory.len() != blocks {
            *memory = vec![Block::default(); blocks];
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..])
    })
}

fn hash_error(e: impl fmt::Display) -> HashError {
    HashError::Argon2(e.to_string())
}

/// One argon2id hash with Tessera's parameters, as a PHC string. Blocks
/// for tens of milliseconds: the server calls it through `PasswordHasher`;
/// public for the raw-rate measurement (`server argon2-rate`).
pub fn hash_now(password: &str) -> Result<String, HashError> {
    let mut random = [0u8; 16];
    OsRng.fill_bytes(&mut random);
    let salt = SaltString::encode_b64(&random).map_err(hash_error)?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(hash_error)?;
    let argon2 = argon2();
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2_into(&argon2, password.as_bytes(), salt_bytes, out)
            .map_err(|_| password_hash::Error::Crypto)
    })
    .map_err(hash_error)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(hash_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// One argon2 verification against a PHC string (the same cost as
/// `hash_now`); blocking. The parameters, salt and algorithm come from the
/// string; the comparison is constant-time (`password_hash::Output`).
pub fn verify_now(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        argon2_into(&argon2, password.as_bytes(), salt_bytes, out)
            .map_err(|_| password_hash::Error::Crypto)
    })
    .is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters_and_verify() {
        let phc = hash_now("correct horse battery staple").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_now("correct horse battery staple", &phc));
        assert!(!verify_now("correct horse battery stapler", &phc));
        assert!(!verify_now("anything", "not a phc string"));
    }

    #[test]
    fn our_hashes_and_argon2s_own_verify_each_other() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let password = "correct horse battery staple";
        let ours = hash_now(password).expect("hash");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok());
        assert!(argon2().verify_password(b"wrong", &parsed).is_err());

        let salt = SaltString::encode_b64(b"sixteen byte slt").expect("salt");
        let theirs = argon2()
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string();
        assert!(verify_now(password, &theirs));
        assert!(!verify_now("wrong", &theirs));
        // Other parameters (an older hash) go through a temporary memory.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).expect("params"),
        )
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string();
        assert!(verify_now(password, &light));
        assert!(!verify_now("wrong", &light));
        // A damaged hash never verifies.
        let cut = &theirs[..theirs.len() - 4];
        assert!(!verify_now(password, cut));
    }

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let p = Password::new("hunter2-secret".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
