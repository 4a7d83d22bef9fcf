//! A sign-in's device binding, as the protocol and each request need it
//! (issue 26): the offer at sign-in, registration, refresh, and the check
//! of the bound cookie on every request. The proofs are `proof`'s; the
//! rows `db::device_bindings`'.

use sha2::{Digest, Sha256};

use super::proof::{self, DeviceKey, ProofError, Use};
use crate::ssr::db::device_bindings;
use crate::ssr::session::auth::DeviceOffer;
use crate::ssr::session::store::DeviceBinding;
use crate::ssr::state::AppState;

pub const COOKIE_NAME: &str = "__Host-tessera_dbsc";
pub const REGISTER_PATH: &str = "/dbsc/register";
pub const REFRESH_PATH: &str = "/dbsc/refresh";
/// After registration, requests already on their way without the bound
/// cookie are let through this long (the libraries that came before found
/// it necessary: the page's own subresources race the registration).
pub const GRACE_SECS: i64 = 5;

/// 128 random bits, base64url: challenges, identifiers, cookie values.
pub fn random_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

pub fn cookie_hash(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `Secure-Session-Registration`'s value for `challenge`.
pub fn registration_header(challenge: &str) -> String {
    format!(
        "{};path=\"{REGISTER_PATH}\";challenge=\"{challenge}\"",
        proof::OFFERED
    )
}

/// `Secure-Session-Challenge`'s value.
pub fn challenge_header(challenge: &str, session_identifier: &str) -> String {
    format!("\"{challenge}\";id=\"{session_identifier}\"")
}

/// The bound cookie's `Set-Cookie`.
pub fn set_cookie(value: &str, max_age_secs: u64) -> String {
    format!("{COOKIE_NAME}={value}; Max-Age={max_age_secs}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// The session instructions (the JSON body of a registration or refresh):
/// this origin only, the static files and the DBSC endpoints left out
/// (Chrome would otherwise refresh once per asset on a cold load).
pub fn instructions(session_identifier: &str, origin: &str) -> serde_json::Value {
    let mut excluded: Vec<serde_json::Value> = ["/pkg/", "/dbsc/", "/health"]
        .iter()
        .chain(crate::ssr::http::cache::STATIC_FILES)
        .map(|path| serde_json::json!({ "type": "exclude", "path": path }))
        .collect();
    excluded.dedup();
    serde_json::json!({
        "session_identifier": session_identifier,
        "refresh_url": REFRESH_PATH,
        "scope": {
            "origin": origin,
            "include_site": false,
            "scope_specification": excluded,
        },
        "credentials": [{
            "type": "cookie",
            "name": COOKIE_NAME,
            "attributes": "Path=/; Secure; HttpOnly; SameSite=Lax",
        }],
        "allowed_refresh_initiators": [],
    })
}

/// What a request's bound cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<'a> {
    /// No binding and no open offer: nothing to check.
    Unbound,
    /// Offered, not registered: pages carry the registration header with
    /// this challenge.
    Offered(&'a str),
    /// Bound, and the request carries a live bound cookie (or is within
    /// the grace after registration: `None`): until when that cookie
    /// lives, which tells when the device last proved itself.
    Proven { cookie_expires_at: Option<i64> },
    /// Bound, and the request does not prove the device: not signed in.
    Missing,
}

/// A step-up wants the device to have proved itself this recently: its
/// bound cookie issued within this many seconds (issue 26: the spec's
/// `307` makes Chrome refresh before it repeats the request).
pub const FRESH_PROOF_SECS: i64 = 30;

/// Whether a proven request's bound cookie was issued within
/// `FRESH_PROOF_SECS` (`max_age_secs`: its lifetime). Within the grace
/// after registration it was just issued.
pub fn proof_is_fresh(cookie_expires_at: Option<i64>, max_age_secs: u64, now: i64) -> bool {
    let max_age = i64::try_from(max_age_secs).unwrap_or(i64::MAX);
    cookie_expires_at.is_none_or(|until| until.saturating_sub(max_age) >= now - FRESH_PROOF_SECS)
}

/// Checks `cookie` (the request's bound cookie) against `binding` at
/// `now`; a sign-in not bound yet may have an open `offer` (its session's).
pub fn check<'a>(
    binding: Option<&DeviceBinding>,
    offer: Option<&'a DeviceOffer>,
    cookie: Option<&str>,
    now: i64,
) -> Check<'a> {
    let Some(binding) = binding else {
        return match offer.filter(|offer| offer.expires_at > now) {
            Some(offer) => Check::Offered(&offer.challenge),
            None => Check::Unbound,
        };
    };
    if now < binding.bound_at.saturating_add(GRACE_SECS) {
        return Check::Proven {
            cookie_expires_at: None,
        };
    }
    let Some(presented) = cookie.map(|value| hex(&cookie_hash(value))) else {
        return Check::Missing;
    };
    let live = |held: &Option<(String, i64)>| {
        held.as_ref()
            .filter(|(hash, until)| *until > now && *hash == presented)
            .map(|(_, until)| *until)
    };
    match live(&binding.cookie).or_else(|| live(&binding.previous)) {
        Some(until) => Check::Proven {
            cookie_expires_at: Some(until),
        },
        None => Check::Missing,
    }
}

/// A new registration offer (after each sign-in, and a step-up of a
/// sign-in not yet bound), if `[dbsc]` is on: its pages then carry it.
pub fn new_offer(state: &AppState) -> Option<DeviceOffer> {
    state.settings.dbsc.enabled.then(|| DeviceOffer {
        challenge: random_token(),
        expires_at: state
            .clock
            .now()
            .saturating_add(state.settings.dbsc.challenge_ttl_secs()),
    })
}

/// Ends the sign-in's binding (sign-out).
pub async fn end(state: &AppState, sign_in_id: &str) {
    if let Err(error) = device_bindings::delete_of_sign_in(&state.db, sign_in_id).await {
        tracing::error!(%error, "device binding not deleted");
    }
}

/// Bindings whose sign-in has no session left (the clean-up).
pub async fn delete_orphans(state: &AppState) -> Result<u64, sqlx::Error> {
    device_bindings::delete_orphans(&state.db).await
}

/// A new bound cookie and challenge, as stored and as sent.
pub struct Fresh {
    pub cookie: String,
    pub challenge: String,
}

impl Fresh {
    pub fn new() -> Self {
        Self {
            cookie: random_token(),
            challenge: random_token(),
        }
    }
}

/// The cookie value is a credential: never in a log line.
impl std::fmt::Debug for Fresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fresh { .. }")
    }
}

impl Default for Fresh {
    fn default() -> Self {
        Self::new()
    }
}

/// How a registration ended.
#[derive(Debug)]
pub enum Registered {
    /// Bound: the identifier and what to send.
    Bound {
        session_identifier: String,
        fresh: Fresh,
        /// What the device signs with (ES256, or RS256 on TPM 1.2).
        algorithm: &'static str,
    },
    /// The proof did not check out.
    BadProof(ProofError),
    /// No open offer for this sign-in answered by that challenge (taken,
    /// expired, another session's).
    NoOffer,
}

/// Registration: the proof must be signed by the key it names and answer
/// the challenge offered to this very sign-in (`offer`, from its session),
/// still open; once (the sign-in's binding row is made once).
pub async fn register(
    state: &AppState,
    sign_in_id: &str,
    user_id: i64,
    offer: Option<&DeviceOffer>,
    proof_header: &str,
) -> Result<Registered, sqlx::Error> {
    let proof = match proof::verify(proof_header, Use::Registration) {
        Ok(proof) => proof,
        Err(error) => return Ok(Registered::BadProof(error)),
    };
    let Some(key) = proof.key else {
        return Ok(Registered::BadProof(ProofError::NoKey));
    };
    let now = state.clock.now();
    let answered = offer.is_some_and(|offer| {
        offer.expires_at > now && subtle_eq(offer.challenge.as_bytes(), proof.challenge.as_bytes())
    });
    if !answered {
        return Ok(Registered::NoOffer);
    }
    let algorithm = key.algorithm();
    let key = serde_json::to_string(&key).unwrap_or_default();
    let fresh = Fresh::new();
    let session_identifier = random_token();
    let issued = device_bindings::Issued {
        next_challenge: &fresh.challenge,
        challenge_expires_at: now.saturating_add(state.settings.dbsc.challenge_ttl_secs()),
        cookie_hash: &cookie_hash(&fresh.cookie),
        cookie_expires_at: now.saturating_add(cookie_max_age(state)),
        now,
    };
    let taken = device_bindings::insert(
        &state.db,
        sign_in_id,
        user_id,
        &key,
        &session_identifier,
        &issued,
    )
    .await?;
    Ok(match taken {
        true => Registered::Bound {
            session_identifier,
            fresh,
            algorithm,
        },
        false => Registered::NoOffer,
    })
}

/// Challenges compared in constant time.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn cookie_max_age(state: &AppState) -> i64 {
    i64::try_from(state.settings.dbsc.cookie_max_age_secs).unwrap_or(600)
}

/// How a refresh ended.
#[derive(Debug)]
pub enum Refreshed {
    /// A new bound cookie, and the challenge for the next refresh.
    Renewed(Fresh),
    /// No proof, or one answering a challenge no longer open: answer 403
    /// with this new challenge (Chrome signs it and tries again).
    Challenge(String),
    /// The proof was not the device's (wrong key, a key of its own, a
    /// pinned field changed): the sign-in ends.
    BadProof(ProofError),
}

/// Refresh of `binding` (found by its identifier, already matched to the
/// request's sign-in).
pub async fn refresh(
    state: &AppState,
    binding: &device_bindings::Binding,
    proof_header: Option<&str>,
) -> Result<Refreshed, sqlx::Error> {
    let identifier = binding.session_identifier.as_deref().unwrap_or_default();
    let now = state.clock.now();
    let ttl = state.settings.dbsc.challenge_ttl_secs();
    let rechallenge = || async {
        let challenge = random_token();
        device_bindings::rechallenge(&state.db, identifier, &challenge, now.saturating_add(ttl))
            .await
            .map(|_| Refreshed::Challenge(challenge))
    };
    let Some(proof_header) = proof_header else {
        return rechallenge().await;
    };
    let Some(stored) = binding
        .public_key
        .as_deref()
        .and_then(|key| serde_json::from_str::<DeviceKey>(key).ok())
    else {
        return Ok(Refreshed::BadProof(ProofError::UnsupportedKey));
    };
    let proof = match proof::verify(proof_header, Use::Refresh(&stored)) {
        Ok(proof) => proof,
        Err(error) => return Ok(Refreshed::BadProof(error)),
    };
    let fresh = Fresh::new();
    let issued = device_bindings::Issued {
        next_challenge: &fresh.challenge,
        challenge_expires_at: now.saturating_add(ttl),
        cookie_hash: &cookie_hash(&fresh.cookie),
        cookie_expires_at: now.saturating_add(cookie_max_age(state)),
        now,
    };
    // The device's own signature over a challenge no longer open (a
    // replay, or Chrome's cache behind a parallel refresh): benign, a new
    // challenge.
    match device_bindings::refresh(&state.db, identifier, &proof.challenge, &issued).await? {
        true => Ok(Refreshed::Renewed(fresh)),
        false => rechallenge().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(now: i64, cookie: &str) -> DeviceBinding {
        DeviceBinding {
            bound_at: now - 60,
            cookie: Some((hex(&cookie_hash(cookie)), now + 600)),
            previous: Some((hex(&cookie_hash("old")), now + 10)),
        }
    }

    #[test]
    fn a_bound_session_needs_its_live_bound_cookie() {
        let now = 1_000_000;
        let binding = bound(now, "v1");
        let proven = |until| Check::Proven {
            cookie_expires_at: Some(until),
        };
        assert_eq!(
            check(Some(&binding), None, Some("v1"), now),
            proven(now + 600)
        );
        assert_eq!(
            check(Some(&binding), None, Some("old"), now),
            proven(now + 10),
            "the previous, while it lasts"
        );
        assert_eq!(
            check(Some(&binding), None, Some("old"), now + 10),
            Check::Missing
        );
        assert_eq!(
            check(Some(&binding), None, Some("v1"), now + 600),
            Check::Missing,
            "expired"
        );
        assert_eq!(
            check(Some(&binding), None, Some("forged"), now),
            Check::Missing
        );
        assert_eq!(check(Some(&binding), None, None, now), Check::Missing);
        assert_eq!(check(None, None, None, now), Check::Unbound);
    }

    #[test]
    fn just_after_registration_requests_in_flight_pass() {
        let binding = DeviceBinding {
            bound_at: 100,
            cookie: None,
            previous: None,
        };
        assert_eq!(
            check(Some(&binding), None, None, 100 + GRACE_SECS - 1),
            Check::Proven {
                cookie_expires_at: None
            }
        );
        assert_eq!(
            check(Some(&binding), None, None, 100 + GRACE_SECS),
            Check::Missing
        );
    }

    #[test]
    fn a_step_up_wants_a_cookie_issued_in_the_last_30_seconds() {
        // A 600 s cookie expiring at 1,600 was issued at 1,000.
        assert!(proof_is_fresh(Some(1_600), 600, 1_030));
        assert!(!proof_is_fresh(Some(1_600), 600, 1_031));
        assert!(proof_is_fresh(None, 600, 1_000_000), "within the grace");
    }

    #[test]
    fn an_open_offer_is_shown_until_it_expires() {
        let offer = DeviceOffer {
            challenge: "c".to_owned(),
            expires_at: 50,
        };
        assert_eq!(check(None, Some(&offer), None, 49), Check::Offered("c"));
        assert_eq!(check(None, Some(&offer), None, 50), Check::Unbound);
        // Once bound, an offer left in the session counts no more.
        let bound = bound(49, "v1");
        assert_eq!(check(Some(&bound), Some(&offer), None, 49), Check::Missing);
    }

    #[test]
    fn the_headers_are_as_chrome_reads_them() {
        assert_eq!(
            registration_header("abc"),
            "(ES256 RS256);path=\"/dbsc/register\";challenge=\"abc\""
        );
        assert_eq!(challenge_header("c", "id"), "\"c\";id=\"id\"");
        let body = instructions("sid", "https://localhost:3443");
        assert_eq!(body["scope"]["include_site"], false);
        assert_eq!(body["credentials"][0]["name"], COOKIE_NAME);
        let excluded = body["scope"]["scope_specification"].to_string();
        assert!(excluded.contains("/pkg/") && excluded.contains("/dbsc/"));
    }
}
