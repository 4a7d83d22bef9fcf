//! The impossible-travel rule at sign-in (issue 25): where this sign-in
//! comes from, compared with the user's previous successful sign-in that
//! has a place. The rule itself is `geoip::travel`; this gathers its
//! evidence. What a flag does is `alerts::record_sign_in`'s: an alert
//! (webhook included) with both places, the distance and the speed, and
//! the notice on the account page; the request then holds the session for
//! a step-up when `[geoip] on_impossible_travel = "step_up"`.
//!
//! Unknown places never flag: a private address, one the database does
//! not have, no database at all.

use serde_json::{json, Value};

use crate::ssr::clock::describe_duration;
use crate::ssr::db::audit_events::LocatedSignIn;
use crate::ssr::geoip::travel::{judge_if_known, Journey};
use crate::ssr::geoip::Place;
use crate::ssr::session::ClientInfo;
use crate::ssr::state::AppState;

/// The place of the client's address, when `[geoip]` is on and it has one.
pub fn place_of(state: &AppState, client: &ClientInfo) -> Option<Place> {
    state.geoip.as_ref()?.locate_text(client.ip.as_deref()?)
}

/// "40 minutes", "12 hours": the time between two sign-ins, in words.
pub fn elapsed_words(secs: i64) -> String {
    let secs = u64::try_from(secs).unwrap_or(0);
    if secs < 2 * 3600 {
        describe_duration(secs.div_ceil(60).max(1) * 60)
    } else {
        describe_duration(secs / 3600 * 3600)
    }
}

/// "Signed in from Sydney, AU 40 minutes after London, GB".
pub fn what_happened(from: &str, to: &str, journey: &Journey) -> String {
    format!(
        "Signed in from {to} {} after {from}",
        elapsed_words(journey.elapsed_secs)
    )
}

/// A place's name for people, or "an unknown place".
fn name_of(place: &Place) -> String {
    place
        .name()
        .unwrap_or_else(|| "an unknown place".to_owned())
}

/// A journey judged impossible: the alert's details and the notice's words.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpossibleJourney {
    pub details: Value,
    /// "Signed in from Sydney, AU 40 minutes after London, GB".
    pub what: String,
}

/// After a successful sign-in from `place`: judges the journey from
/// `previous`, the user's latest earlier sign-in that had a place (read
/// with the sign-in's own record, `audit_events::insert_sign_in`).
pub fn judge_sign_in(
    state: &AppState,
    previous: Option<LocatedSignIn>,
    place: &Place,
    client: &ClientInfo,
) -> Option<ImpossibleJourney> {
    let (then, then_ip, details) = previous?;
    let then_place = Place::of_audit_details(&details)?;
    let now = state.clock.now();
    let (from, to) = (then_place.coordinates(), place.coordinates());
    let journey = judge_if_known(
        from.as_ref().map(|c| (c, then)),
        to.as_ref().map(|c| (c, now)),
        &state.settings.geoip.rules(),
    )?;
    if !journey.impossible {
        return None;
    }
    let (from_name, to_name) = (name_of(&then_place), name_of(place));
    let details = json!({
        "from": { "place": from_name, "ip": then_ip, "at": then, "location": then_place },
        "to": { "place": to_name, "ip": client.ip, "at": now, "location": place },
        // Whole kilometres: the evidence, not false precision.
        "distance_km": journey.least_distance_km.round() as i64,
        "great_circle_km": journey.distance_km.round() as i64,
        "elapsed_secs": journey.elapsed_secs,
        "speed_kmh": journey.speed_kmh.round() as i64,
        "action": state.settings.geoip.on_impossible_travel,
    });
    Some(ImpossibleJourney {
        details,
        what: what_happened(&from_name, &to_name, &journey),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_between_reads_as_people_say_it() {
        assert_eq!(elapsed_words(0), "1 minute");
        assert_eq!(elapsed_words(61), "2 minutes");
        assert_eq!(elapsed_words(40 * 60), "40 minutes");
        assert_eq!(elapsed_words(2 * 3600 + 59), "2 hours");
        assert_eq!(elapsed_words(12 * 3600 + 1800), "12 hours");
    }
}
