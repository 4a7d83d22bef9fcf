//! `[geoip]`: the operator's GeoIP database and the impossible-travel rule
//! (issue 25), and what makes a valid set of them.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GeoipSettings {
    /// A MaxMind DB file in the GeoIP2/GeoLite2-City format (the operator
    /// downloads it; Tessera never ships or fetches one). Empty: off.
    /// Read again when the file changes, or on SIGHUP.
    pub database: PathBuf,
    /// Two sign-ins' places closer than this (after both accuracy radii)
    /// are never impossible travel, km.
    pub min_distance_km: u32,
    /// Faster than this between two sign-ins is impossible travel, km/h.
    pub max_speed_kmh: u32,
    /// What impossible travel does besides the alert and the notice.
    pub on_impossible_travel: TravelAction,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TravelAction {
    /// The alert and the account-page notice only.
    Alert,
    /// Also: the new session must confirm it is the user (a step-up)
    /// before it changes anything. A challenge, never a denial.
    #[default]
    StepUp,
}

impl Default for GeoipSettings {
    fn default() -> Self {
        Self {
            database: PathBuf::new(),
            min_distance_km: 500,
            max_speed_kmh: 1000,
            on_impossible_travel: TravelAction::StepUp,
        }
    }
}

impl GeoipSettings {
    pub fn enabled(&self) -> bool {
        !self.database.as_os_str().is_empty()
    }

    /// The first rule these settings break, if any.
    pub fn problem(&self) -> Option<&'static str> {
        if self.min_distance_km > 20_040 {
            // Half the equator: no two places are further apart.
            return Some(
                "geoip.min_distance_km must be at most 20040 (half the Earth's circumference)",
            );
        }
        if !(1..=100_000).contains(&self.max_speed_kmh) {
            return Some("geoip.max_speed_kmh must be 1 to 100000");
        }
        None
    }

    pub fn rules(&self) -> super::travel::TravelRules {
        super::travel::TravelRules {
            min_distance_km: f64::from(self.min_distance_km),
            max_speed_kmh: f64::from(self.max_speed_kmh),
        }
    }
}
