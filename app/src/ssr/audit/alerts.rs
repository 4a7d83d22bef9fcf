//! Alerts (issue 12): abnormal behaviour worth a person's attention. Each
//! is an audit event (`alert`, with its kind and severity in the details),
//! and a `warn` log line for whoever watches the logs.
//!
//! Raised for: a burst of failed sign-ins for one account or from one
//! address, a sign-in from a browser and system the account has not
//! signed in with before, a session whose browser or system changed
//! (revoked as stolen), a sign-in that succeeds right after many failures,
//! sessions made and ended fast for one user. Thresholds: `[alerts]`. The
//! rules count recent audit events, so they hold across restarts.

use serde_json::{json, Value};

use crate::ssr::audit;
use crate::ssr::audit::Event;
use crate::ssr::audit::Outcome;
use crate::ssr::db::audit_events;
use crate::ssr::session::ClientInfo;
use crate::ssr::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// Failed sign-ins hit a throttle (one account, or one address).
    FailedSignInBurst,
    /// A sign-in from a browser and system not seen for the account.
    NewDevice,
    /// A session presented another browser or system: revoked.
    SessionBrowserChanged,
    /// A sign-in succeeded after several failures for the account.
    SuccessAfterFailures,
    /// Sessions made and ended fast for one user.
    RapidSessions,
    /// A passkey was added: a new way in that needs no password (review
    /// E4: an attacker's passkey would outlive a password change).
    PasskeyAdded,
    /// Wrong second-factor codes for one account: the password is known
    /// to whoever sends them (review E6).
    CodeGuessing,
    /// A sign-in from too far from the last to have travelled in between
    /// (issue 25; `audit::travel`).
    ImpossibleTravel,
}

impl Alert {
    pub const ALL: [Alert; 8] = [
        Alert::FailedSignInBurst,
        Alert::NewDevice,
        Alert::SessionBrowserChanged,
        Alert::SuccessAfterFailures,
        Alert::RapidSessions,
        Alert::PasskeyAdded,
        Alert::CodeGuessing,
        Alert::ImpossibleTravel,
    ];

    pub fn from_kind(kind: &str) -> Option<Alert> {
        Alert::ALL.into_iter().find(|alert| alert.kind() == kind)
    }

    /// The alert in words, with its details (`words`: the activity page,
    /// `/admin` and the webhook's `summary` say it this way).
    pub fn describe(self, details: &Value) -> String {
        let number = |key: &str| details.get(key).and_then(Value::as_i64).unwrap_or(0);
        match self {
            Alert::FailedSignInBurst => {
                if text(details, "per") == Some("address") {
                    format!(
                        "Many failed sign-ins from one address ({})",
                        number("failures")
                    )
                } else {
                    format!(
                        "Many failed sign-ins to this account ({})",
                        number("failures")
                    )
                }
            }
            Alert::NewDevice => format!(
                "New browser: {}",
                text(details, "device").unwrap_or("an unknown browser")
            ),
            Alert::SessionBrowserChanged => format!(
                "A session was used from another browser or system and was ended{}",
                change(details)
            ),
            Alert::SuccessAfterFailures => format!(
                "Signed in after {} failed attempts",
                number("failures_before")
            ),
            Alert::RapidSessions => format!(
                "Many sign-ins and sign-outs in a short time ({})",
                number("sign_ins_and_outs")
            ),
            Alert::PasskeyAdded => match text(details, "name") {
                Some(name) => format!("A passkey was added: \u{201c}{name}\u{201d}"),
                None => "A passkey was added".to_owned(),
            },
            Alert::CodeGuessing => format!(
                "Many wrong codes after a right password ({}): someone may know the password",
                number("failures")
            ),
            Alert::ImpossibleTravel => {
                let place = |end: &str| {
                    details
                        .get(end)
                        .and_then(|end| text(end, "place"))
                        .unwrap_or("an unknown place")
                        .to_owned()
                };
                format!(
                    "Signed in from {} {} after {}: {} km in that time is {} km/h",
                    place("to"),
                    super::travel::elapsed_words(number("elapsed_secs")),
                    place("from"),
                    thousands(number("distance_km")),
                    thousands(number("speed_kmh")),
                )
            }
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Alert::FailedSignInBurst => "failed_sign_in_burst",
            Alert::NewDevice => "new_device",
            Alert::SessionBrowserChanged => "session_browser_changed",
            Alert::SuccessAfterFailures => "success_after_failures",
            Alert::RapidSessions => "rapid_sessions",
            Alert::PasskeyAdded => "passkey_added",
            Alert::CodeGuessing => "code_guessing",
            Alert::ImpossibleTravel => "impossible_travel",
        }
    }

    pub fn severity(self) -> &'static str {
        match self {
            Alert::NewDevice => "info",
            Alert::FailedSignInBurst
            | Alert::SuccessAfterFailures
            | Alert::RapidSessions
            | Alert::PasskeyAdded => "warning",
            Alert::CodeGuessing | Alert::ImpossibleTravel => "high",
            Alert::SessionBrowserChanged => "high",
        }
    }
}

/// "16,960": a whole number with thousands separated.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A detail's text.
pub(super) fn text<'a>(details: &'a Value, key: &str) -> Option<&'a str> {
    details.get(key).and_then(Value::as_str)
}

/// " (Firefox 128 on Linux, then Chrome 131 on Windows 10)" from `from`/`to`.
pub(super) fn change(details: &Value) -> String {
    match (text(details, "from"), text(details, "to")) {
        (Some(from), Some(to)) => format!(" ({from}, then {to})"),
        _ => String::new(),
    }
}

/// Records `alert` (audit event + `warn` log). Never fails the caller.
pub async fn raise(
    state: &AppState,
    alert: Alert,
    user_id: Option<i64>,
    client: &ClientInfo,
    session_hash: Option<[u8; 32]>,
    details: Value,
) {
    tracing::warn!(
        alert = alert.kind(),
        severity = alert.severity(),
        user_id,
        ip = client.ip.as_deref().unwrap_or("unknown"),
        "alert"
    );
    let entry = audit::Entry {
        event: Event::Alert,
        outcome: Outcome::Success,
        user_id,
        username: None,
        session_hash,
        client: client.clone(),
        details: json!({ "kind": alert.kind(), "severity": alert.severity(), "details": details }),
    };
    let at = state.clock.now();
    audit::record(&state.db, at, entry).await;
    if let Some(webhook) = &state.alert_webhook {
        webhook.offer(json!({
            "alert": alert.kind(),
            "severity": alert.severity(),
            "at": at,
            "user_id": user_id,
            "ip": client.ip,
            "details": details,
            // For a person reading the alert where it lands (a chat
            // channel, an e-mail): the activity page's words.
            "summary": alert.describe(&details),
        }));
    }
}

/// A count an alert rule reads; a count that fails is logged and read as
/// 0 (a rule stays quiet rather than failing the request).
fn or_zero(count: Result<i64, sqlx::Error>) -> i64 {
    count.unwrap_or_else(|error| {
        tracing::error!(%error, "alert rule could not count");
        0
    })
}

fn since(state: &AppState) -> i64 {
    let window = i64::try_from(state.settings.alerts.window_secs).unwrap_or(i64::MAX);
    state.clock.now().saturating_sub(window)
}

/// After a failed sign-in: a burst for the account or from the address
/// raises one alert when its count reaches the threshold (not one per
/// failure).
pub async fn after_failed_sign_in(state: &AppState, user_id: Option<i64>, client: &ClientInfo) {
    let rules = &state.settings.alerts;
    let since = since(state);
    let Some(user_id) = user_id else {
        // An unknown name costs the same count as a known one (user 0 has
        // no events): its answer is not later by a query (review E19).
        let _ = audit_events::failed_sign_ins_of_user(&state.db, 0, since, 1).await;
        return after_failed_sign_in_from(state, client, since).await;
    };
    let threshold = rules.failed_sign_ins_per_account;
    let failures = or_zero(
        audit_events::failed_sign_ins_of_user(&state.db, user_id, since, threshold + 1).await,
    );
    if failures == i64::from(threshold) {
        let details = json!({ "failures": failures, "per": "account" });
        raise(
            state,
            Alert::FailedSignInBurst,
            Some(user_id),
            client,
            None,
            details,
        )
        .await;
    }
    after_failed_sign_in_from(state, client, since).await;
}

/// The per-address half of `after_failed_sign_in`.
async fn after_failed_sign_in_from(state: &AppState, client: &ClientInfo, since: i64) {
    let rules = &state.settings.alerts;
    if let Some(ip) = &client.ip {
        let threshold = rules.failed_sign_ins_per_address;
        let failures =
            or_zero(audit_events::failed_sign_ins_from(&state.db, ip, since, threshold + 1).await);
        if failures == i64::from(threshold) {
            let details = json!({ "failures": failures, "per": "address" });
            raise(state, Alert::FailedSignInBurst, None, client, None, details).await;
        }
    }
}

/// After a wrong second-factor code (a sign-in's or a step-up's): a burst
/// for the account raises one alert when its count reaches the threshold.
/// Whoever sends them knows the password; the codes are the last defence
/// (review E6).
pub async fn after_failed_code(state: &AppState, user_id: i64, client: &ClientInfo) {
    let threshold = state.settings.alerts.failed_codes_per_account;
    let failures = or_zero(
        audit_events::failed_codes_of_user(&state.db, user_id, since(state), threshold + 1).await,
    );
    if failures == i64::from(threshold) {
        let details = json!({ "failures": failures });
        raise(
            state,
            Alert::CodeGuessing,
            Some(user_id),
            client,
            None,
            details,
        )
        .await;
    }
}

/// Records a successful sign-in (`entry`, an `Event::SignIn` success) and
/// applies the rules that look at what came before it: success right after
/// many failures, a browser and system the account has not signed in with
/// before, sessions made and ended fast.
///
/// The insert returns what the rules read, in one statement
/// (`db::audit_events::insert_sign_in`).
pub async fn record_sign_in(state: &AppState, mut entry: audit::Entry) -> SignInFindings {
    let now = state.clock.now();
    let (Some(user_id), Event::SignIn, Outcome::Success) =
        (entry.user_id, entry.event, entry.outcome)
    else {
        audit::record(&state.db, now, entry).await;
        return SignInFindings::default();
    };
    // Where it comes from, kept with the event: what the next sign-in is
    // judged against (issue 25).
    let place = super::travel::place_of(state, &entry.client);
    if let (Some(place), Some(details)) = (&place, entry.details.as_object_mut()) {
        details.insert("location".to_owned(), json!(place));
    }
    let rules = &state.settings.alerts;
    let client = entry.client.clone();
    let churn_threshold = rules.session_churn_per_user;
    let history = audit_events::insert_sign_in(
        &state.db,
        &entry.row(now),
        rules.failures_before_success,
        since(state),
        churn_threshold,
        place.is_some(),
    )
    .await;
    let audit_events::SignInHistory {
        event_id: this_event,
        failures,
        churn,
        churn_raised,
        signed_in_before,
        same_user_agent_seen,
        previous_located,
    } = match history {
        Ok(history) => history,
        Err(error) => {
            // Neither the event nor the counts: the rules stay quiet, the
            // sign-in goes on (a failed audit write never fails a request).
            tracing::error!(%error, event = entry.event.name(), "audit event not written");
            return SignInFindings::default();
        }
    };
    let client = &client;
    let journey = place
        .as_ref()
        .and_then(|place| super::travel::judge_sign_in(state, previous_located, place, client));
    let impossible_travel = journey.is_some();
    if let Some(journey) = journey {
        let notice = crate::shared::DeviceNotice {
            what: journey.what,
            at: Some(now),
            kind: crate::shared::NoticeKind::Travel,
        };
        let notice = json!(notice).to_string();
        if let Err(error) = set_device_notice(state, user_id, Some(&notice)).await {
            tracing::error!(%error, "impossible-travel notice not saved");
        }
        raise(
            state,
            Alert::ImpossibleTravel,
            Some(user_id),
            client,
            None,
            journey.details,
        )
        .await;
    }
    if failures >= i64::from(rules.failures_before_success) {
        let details = json!({ "failures_before": failures });
        raise(
            state,
            Alert::SuccessAfterFailures,
            Some(user_id),
            client,
            None,
            details,
        )
        .await;
    }

    // New device: the browser family and system of earlier successful
    // sign-ins (the last 50), compared as the sessions page shows them;
    // the same user agent string (the common case) needs no parsing and
    // no second query.
    if signed_in_before && !same_user_agent_seen {
        let earlier = audit_events::recent_sign_in_user_agents(&state.db, user_id, this_event)
            .await
            .unwrap_or_default();
        let parser = woothee::parser::Parser::new();
        let family = |ua: Option<&str>| {
            ua.and_then(|ua| parser.parse(ua))
                .map(|p| (p.name.to_owned(), p.os.to_owned()))
        };
        let this = family(client.user_agent.as_deref());
        let mut distinct: Vec<&Option<String>> = Vec::new();
        for ua in &earlier {
            if !distinct.contains(&ua) {
                distinct.push(ua);
            }
        }
        if !earlier.is_empty() && !distinct.iter().any(|ua| family(ua.as_deref()) == this) {
            let device = audit::describe_user_agent(client.user_agent.as_deref());
            let notice = crate::shared::DeviceNotice {
                what: format!(
                    "{device}{}",
                    client
                        .ip
                        .as_deref()
                        .map(|ip| format!(" from {ip}"))
                        .unwrap_or_default()
                ),
                at: Some(state.clock.now()),
                kind: crate::shared::NoticeKind::NewDevice,
            };
            let notice = json!(notice).to_string();
            let offered = crate::ssr::db::users::offer_device_notice(
                &state.db,
                &*state.sessions,
                user_id,
                &notice,
            );
            if let Err(error) = offered.await {
                tracing::error!(%error, "device notice not saved");
            }
            let details = json!({ "device": device });
            raise(
                state,
                Alert::NewDevice,
                Some(user_id),
                client,
                None,
                details,
            )
            .await;
        }
    }

    // The counts leave this sign-in out: it is the next one. One alert per
    // window, however long the churn goes on.
    if churn + 1 >= i64::from(churn_threshold) && !churn_raised {
        let details = json!({ "sign_ins_and_outs": churn + 1 });
        raise(
            state,
            Alert::RapidSessions,
            Some(user_id),
            client,
            None,
            details,
        )
        .await;
    }
    SignInFindings { impossible_travel }
}

/// What the sign-in rules found that the request must act on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInFindings {
    /// Too far from the last sign-in's place for the time between.
    pub impossible_travel: bool,
}

/// Sets (or with `None` clears) the new-device notice the account page
/// shows; sessions holding the user's row read it again.
pub async fn set_device_notice(
    state: &AppState,
    user_id: i64,
    notice: Option<&str>,
) -> Result<(), sqlx::Error> {
    crate::ssr::db::users::set_device_notice(&state.db, &*state.sessions, user_id, notice).await
}
