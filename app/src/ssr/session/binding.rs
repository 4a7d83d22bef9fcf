//! Binding a session to the browser it was made in (OWASP Session
//! Management Cheat Sheet, "Binding the Session ID to Other User
//! Properties"): a request whose browser family or system differs from the
//! session's is a stolen cookie, and the session ends; another version or
//! another address is noted.

use axum::http::header;
use axum::http::request::Parts;
use axum::response::Response;

use crate::ssr::audit;
use crate::ssr::audit::alerts;
use crate::ssr::audit::alerts::Alert;
use crate::ssr::audit::Event;
use crate::ssr::audit::Outcome;
use crate::ssr::context::client_info;
use crate::ssr::context::peer_of;
use crate::ssr::context::CurrentUser;
use crate::ssr::error::internal;
use crate::ssr::error::internal_error;
use crate::ssr::session::AuthSession;
use crate::ssr::state::AppState;

/// How the browser of a request compares with the one its session
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserAgentCheck {
    /// The same, or nothing recorded to compare with.
    Same,
    /// Same browser family and system, another version: browsers update
    /// themselves. Noted, not fatal.
    Updated,
    /// Another browser family or system: the cookie is being used
    /// elsewhere. The session is revoked as stolen (OWASP Session
    /// Management Cheat Sheet, "Binding the Session ID to Other User
    /// Properties").
    Changed { from: String, to: String },
}

/// Compares a request's user agent with the session's. Plain string
/// equality first: the parser only runs when they differ.
pub fn compare_user_agents(recorded: Option<&str>, now: Option<&str>) -> UserAgentCheck {
    let Some(recorded) = recorded else {
        return UserAgentCheck::Same;
    };
    if now == Some(recorded) {
        return UserAgentCheck::Same;
    }
    let parser = woothee::parser::Parser::new();
    let family = |ua: Option<&str>| {
        ua.and_then(|ua| parser.parse(ua))
            .map(|p| (p.name.to_owned(), p.os.to_owned()))
            .unwrap_or_else(|| ("UNKNOWN".to_owned(), "UNKNOWN".to_owned()))
    };
    if family(Some(recorded)) == family(now) {
        UserAgentCheck::Updated
    } else {
        UserAgentCheck::Changed {
            from: audit::describe_user_agent(Some(recorded)),
            to: audit::describe_user_agent(now),
        }
    }
}

/// Compares the request's browser and address with the session's (issue
/// 12). Another browser family or system: the session is revoked as stolen
/// (deleted now, audited, alerted) and the request goes on as a visitor's.
/// Another version of the same browser, or another IP address: noted by an
/// audit event when the request's activity write is due, which records the
/// new value with the throttled touch (review E8): no write of its own, no
/// deadline moved, nothing on a path that is not activity (the countdown's
/// status read stays read-only), and an address that flips back and forth
/// is noted at most once per `touch_interval_secs`.
pub async fn check_browser(
    state: &AppState,
    auth: &AuthSession,
    parts: &Parts,
    user: CurrentUser,
    activity: bool,
) -> Result<Option<CurrentUser>, Box<Response>> {
    let now = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let check = compare_user_agents(user.session.user_agent.as_deref(), now);
    let peer = peer_of(parts);
    let moved = user.session.ip.is_some() && peer.is_some() && user.session.ip != peer;
    if check == UserAgentCheck::Same && !moved {
        return Ok(Some(user));
    }
    // Not stolen, only moved or updated: noted with the next write of
    // activity, not now.
    let stolen = matches!(check, UserAgentCheck::Changed { .. });
    let noted_now = stolen || (activity && auth.activity_due(&user.session));
    if !noted_now {
        return Ok(Some(user));
    }
    let client = client_info(parts);
    let session_hash = auth
        .storage_key()
        .map(|key| audit::session_hash(&state.audit_key, &key));
    match check {
        UserAgentCheck::Same => {
            // Another network: an event, not fatal (issue 12). The touch
            // records the new address, so it is noted once per move.
            let entry = audit::Entry {
                event: Event::AddressChanged,
                outcome: Outcome::Success,
                user_id: Some(user.user_id),
                username: None,
                session_hash,
                client: client.clone(),
                details: serde_json::json!({
                    "from": user.session.ip.map(|ip| ip.to_string()),
                }),
            };
            audit::record(&state.db, state.clock.now(), entry).await;
            Ok(Some(user))
        }
        UserAgentCheck::Updated => {
            let entry = audit::Entry {
                event: Event::UserAgentChanged,
                outcome: Outcome::Success,
                user_id: Some(user.user_id),
                username: None,
                session_hash,
                client: client.clone(),
                details: serde_json::json!({ "from": user.session.user_agent }),
            };
            audit::record(&state.db, state.clock.now(), entry).await;
            Ok(Some(user))
        }
        UserAgentCheck::Changed { from, to } => {
            if let Err(e) = auth.log_out().await {
                let _ = internal(e);
                return Err(Box::new(internal_error("cannot revoke the session")));
            }
            let details = serde_json::json!({
                "reason": "browser_or_system_changed", "from": from, "to": to,
            });
            let entry = audit::Entry {
                event: Event::SessionRevoked,
                outcome: Outcome::Success,
                user_id: Some(user.user_id),
                username: None,
                session_hash,
                client: client.clone(),
                details: details.clone(),
            };
            audit::record(&state.db, state.clock.now(), entry).await;
            alerts::raise(
                state,
                Alert::SessionBrowserChanged,
                Some(user.user_id),
                &client,
                session_hash,
                details,
            )
            .await;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_130: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like \
                              Gecko) Chrome/130.0.0.0 Safari/537.36";
    const CHROME_131: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like \
                              Gecko) Chrome/131.0.0.0 Safari/537.36";
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                                  (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

    #[test]
    fn a_version_change_is_an_update_and_a_family_or_system_change_is_not() {
        assert_eq!(
            compare_user_agents(Some(CHROME_130), Some(CHROME_130)),
            UserAgentCheck::Same
        );
        assert_eq!(
            compare_user_agents(None, Some(FIREFOX)),
            UserAgentCheck::Same
        );
        assert_eq!(
            compare_user_agents(Some(CHROME_130), Some(CHROME_131)),
            UserAgentCheck::Updated
        );
        assert!(matches!(
            compare_user_agents(Some(CHROME_131), Some(FIREFOX)),
            UserAgentCheck::Changed { .. }
        ));
        assert!(matches!(
            compare_user_agents(Some(CHROME_131), Some(CHROME_WINDOWS)),
            UserAgentCheck::Changed { .. }
        ));
        assert!(matches!(
            compare_user_agents(Some(CHROME_131), None),
            UserAgentCheck::Changed { .. }
        ));
    }
}
