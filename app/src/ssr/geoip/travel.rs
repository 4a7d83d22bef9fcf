//! Impossible travel (issue 25): could one person have signed in at both
//! places in the time between? Plain arithmetic, no I/O.
//!
//! The OWASP Session Management Cheat Sheet asks to track where sign-ins
//! come from and to notice "logins from different geographical locations
//! in a short period". The rule: the great-circle distance between the two
//! places, minus both accuracy radii (MaxMind's circle of 67% confidence:
//! the person may be anywhere in it), never below 0; flagged when that is
//! at least `min_distance_km` and covering it in the time between would
//! take more than `max_speed_kmh`. Datadog's rule over Auth0's logs uses
//! the same defaults (> 500 km, > 1000 km/h, just above an airliner's
//! cruise); Okta's default speed is 805 km/h.

use serde::{Deserialize, Serialize};

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Two sign-ins closer in time than this are judged as this far apart: a
/// sign-in in the same second as the last must not divide by zero, and
/// two places 500 km apart within a minute are still far too fast.
pub const MIN_ELAPSED_SECS: i64 = 60;

/// Where a GeoIP database puts an address: a point and how sure it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
    /// The database's accuracy radius, km (0 when it gives none).
    pub accuracy_radius_km: f64,
}

/// The thresholds (`[geoip] min_distance_km`, `max_speed_kmh`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TravelRules {
    pub min_distance_km: f64,
    pub max_speed_kmh: f64,
}

/// The judgement of one journey, with its evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Journey {
    /// Great-circle distance between the two points, km.
    pub distance_km: f64,
    /// `distance_km` minus both accuracy radii, never below 0: what the
    /// person must at least have travelled.
    pub least_distance_km: f64,
    /// Seconds between the two sign-ins (at least `MIN_ELAPSED_SECS`).
    pub elapsed_secs: i64,
    /// `least_distance_km` over the elapsed time, km/h.
    pub speed_kmh: f64,
    pub impossible: bool,
}

/// Haversine distance between two points, km.
pub fn great_circle_km(from: &Coordinates, to: &Coordinates) -> f64 {
    let (lat1, lat2) = (from.latitude.to_radians(), to.latitude.to_radians());
    let d_lat = lat2 - lat1;
    let d_lon = (to.longitude - from.longitude).to_radians();
    let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// Judges the journey from `from` (at unix second `from_at`) to `to` (at
/// `to_at`).
pub fn judge(
    from: &Coordinates,
    from_at: i64,
    to: &Coordinates,
    to_at: i64,
    rules: &TravelRules,
) -> Journey {
    let distance_km = great_circle_km(from, to);
    let radii = from.accuracy_radius_km.max(0.0) + to.accuracy_radius_km.max(0.0);
    let least_distance_km = (distance_km - radii).max(0.0);
    let elapsed_secs = to_at.saturating_sub(from_at).max(MIN_ELAPSED_SECS);
    let speed_kmh = least_distance_km / (elapsed_secs as f64 / 3600.0);
    Journey {
        distance_km,
        least_distance_km,
        elapsed_secs,
        speed_kmh,
        impossible: least_distance_km >= rules.min_distance_km && speed_kmh > rules.max_speed_kmh,
    }
}

/// Judges only when both places are known: an unknown place (a private
/// address, one the database does not have, a record without
/// coordinates) never flags.
pub fn judge_if_known(
    from: Option<(&Coordinates, i64)>,
    to: Option<(&Coordinates, i64)>,
    rules: &TravelRules,
) -> Option<Journey> {
    let ((from, from_at), (to, to_at)) = (from?, to?);
    Some(judge(from, from_at, to, to_at, rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;
    // MaxMind's test database's entries (research B2), as the tests'
    // generated database has them.
    const LONDON: Coordinates = Coordinates {
        latitude: 51.5142,
        longitude: -0.0931,
        accuracy_radius_km: 10.0,
    };
    const MILTON_WA: Coordinates = Coordinates {
        latitude: 47.2513,
        longitude: -122.3149,
        accuracy_radius_km: 22.0,
    };
    const LINKOPING: Coordinates = Coordinates {
        latitude: 58.4167,
        longitude: 15.6167,
        accuracy_radius_km: 76.0,
    };
    const BOXFORD: Coordinates = Coordinates {
        latitude: 51.75,
        longitude: -1.25,
        accuracy_radius_km: 100.0,
    };
    const DEFAULTS: TravelRules = TravelRules {
        min_distance_km: 500.0,
        max_speed_kmh: 1000.0,
    };

    #[test]
    fn london_to_milton_in_an_hour_is_impossible_in_twelve_it_is_not() {
        let distance = great_circle_km(&LONDON, &MILTON_WA);
        assert!((7725.0..7740.0).contains(&distance), "{distance}");
        let in_an_hour = judge(&LONDON, 0, &MILTON_WA, HOUR, &DEFAULTS);
        assert!(in_an_hour.impossible);
        assert!((in_an_hour.least_distance_km - (distance - 32.0)).abs() < 1e-9);
        assert!(in_an_hour.speed_kmh > 7600.0);
        let in_twelve = judge(&LONDON, 0, &MILTON_WA, 12 * HOUR, &DEFAULTS);
        assert!(!in_twelve.impossible, "{:?}", in_twelve);
        assert!((600.0..700.0).contains(&in_twelve.speed_kmh));
    }

    #[test]
    fn london_to_linkoping_needs_less_than_the_flight() {
        let in_an_hour = judge(&LONDON, 0, &LINKOPING, HOUR, &DEFAULTS);
        assert!(in_an_hour.impossible, "{:?}", in_an_hour);
        assert!(!judge(&LONDON, 0, &LINKOPING, 2 * HOUR, &DEFAULTS).impossible);
    }

    #[test]
    fn places_84_km_apart_never_flag() {
        let distance = great_circle_km(&LONDON, &BOXFORD);
        assert!((80.0..90.0).contains(&distance), "{distance}");
        for elapsed in [0, 1, 60, HOUR] {
            assert!(!judge(&LONDON, 0, &BOXFORD, elapsed, &DEFAULTS).impossible);
        }
    }

    #[test]
    fn radii_larger_than_the_distance_leave_nothing_to_travel() {
        let vague = Coordinates {
            accuracy_radius_km: 1300.0,
            ..LINKOPING
        };
        let journey = judge(&LONDON, 0, &vague, 1, &DEFAULTS);
        assert_eq!(journey.least_distance_km, 0.0);
        assert_eq!(journey.speed_kmh, 0.0);
        assert!(!journey.impossible);
    }

    #[test]
    fn an_unknown_place_never_flags() {
        let london = Some((&LONDON, 0));
        assert_eq!(judge_if_known(london, None, &DEFAULTS), None);
        assert_eq!(
            judge_if_known(None, Some((&MILTON_WA, 60)), &DEFAULTS),
            None
        );
        assert!(
            judge_if_known(london, Some((&MILTON_WA, 60)), &DEFAULTS).is_some_and(|j| j.impossible)
        );
    }

    #[test]
    fn the_same_second_counts_as_a_minute_and_time_never_runs_backwards() {
        let same = judge(&LONDON, 100, &MILTON_WA, 100, &DEFAULTS);
        assert_eq!(same.elapsed_secs, MIN_ELAPSED_SECS);
        assert!(same.speed_kmh.is_finite() && same.impossible);
        let earlier = judge(&LONDON, 100, &MILTON_WA, 0, &DEFAULTS);
        assert_eq!(earlier.elapsed_secs, MIN_ELAPSED_SECS);
    }

    #[test]
    fn the_thresholds_are_the_operators() {
        let strict = TravelRules {
            min_distance_km: 50.0,
            max_speed_kmh: 100.0,
        };
        let near = Coordinates {
            accuracy_radius_km: 1.0,
            ..BOXFORD
        };
        let london = Coordinates {
            accuracy_radius_km: 1.0,
            ..LONDON
        };
        assert!(judge(&london, 0, &near, 600, &strict).impossible);
        assert!(!judge(&london, 0, &near, 600, &DEFAULTS).impossible);
    }
}
