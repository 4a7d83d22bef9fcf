//! A small GeoIP2-City database for the tests (issue 25), written with
//! `mmdb-writer`: never downloaded. The places and radii are those of
//! MaxMind's own test database (London, Milton WA, Linköping, Boxford),
//! plus Sydney, on documentation and test ranges (RFC 5737, RFC 3849) so
//! that nothing here can be mistaken for a real address's place.

use std::collections::BTreeMap;
use std::path::Path;

use mmdb_writer::ipnet::IpNet;
use serde::Serialize;

/// One fixture place: its network and what the database says of it.
pub struct FixturePlace {
    pub network: &'static str,
    /// An address inside it, for `X-Forwarded-For`.
    pub address: &'static str,
    pub city: Option<&'static str>,
    pub country_code: &'static str,
    pub country: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_radius: u16,
}

pub const LONDON: FixturePlace = FixturePlace {
    network: "192.0.2.0/25",
    address: "192.0.2.10",
    city: Some("London"),
    country_code: "GB",
    country: "United Kingdom",
    latitude: 51.5142,
    longitude: -0.0931,
    accuracy_radius: 10,
};
/// 84 km from London.
pub const BOXFORD: FixturePlace = FixturePlace {
    network: "192.0.2.128/25",
    address: "192.0.2.200",
    city: Some("Boxford"),
    country_code: "GB",
    country: "United Kingdom",
    latitude: 51.75,
    longitude: -1.25,
    accuracy_radius: 100,
};
/// 7,732 km from London.
pub const MILTON: FixturePlace = FixturePlace {
    network: "198.51.100.0/24",
    address: "198.51.100.7",
    city: Some("Milton"),
    country_code: "US",
    country: "United States",
    latitude: 47.2513,
    longitude: -122.3149,
    accuracy_radius: 22,
};
/// 16,990 km from London.
pub const SYDNEY: FixturePlace = FixturePlace {
    network: "203.0.113.0/24",
    address: "203.0.113.50",
    city: Some("Sydney"),
    country_code: "AU",
    country: "Australia",
    latitude: -33.8688,
    longitude: 151.2093,
    accuracy_radius: 20,
};
/// 1,258 km from London.
pub const LINKOPING: FixturePlace = FixturePlace {
    network: "2001:db8:1::/48",
    address: "2001:db8:1::5",
    city: Some("Linköping"),
    country_code: "SE",
    country: "Sweden",
    latitude: 58.4167,
    longitude: 15.6167,
    accuracy_radius: 76,
};
/// A country-wide record with a wide radius (MaxMind's Bhutan entry).
pub const BHUTAN: FixturePlace = FixturePlace {
    network: "2001:db8:2::/48",
    address: "2001:db8:2::9",
    city: None,
    country_code: "BT",
    country: "Bhutan",
    latitude: 27.5,
    longitude: 90.5,
    accuracy_radius: 534,
};

pub const PLACES: [&FixturePlace; 6] = [&LONDON, &BOXFORD, &MILTON, &SYDNEY, &LINKOPING, &BHUTAN];

#[derive(Serialize)]
struct Names {
    names: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct Country {
    iso_code: &'static str,
    names: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    accuracy_radius: u16,
}

#[derive(Serialize)]
struct City {
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<Names>,
    country: Country,
    location: Location,
}

/// The database's bytes, with `places` in it.
pub fn database(places: &[&FixturePlace]) -> Vec<u8> {
    // MaxMind's files carry a description, and `verify` wants one.
    let mut writer = mmdb_writer::Writer::builder("GeoIP2-City")
        .description(&[("en", "Tessera test places on documentation ranges")])
        .build();
    for place in places {
        let record = City {
            city: place.city.map(|name| Names {
                names: BTreeMap::from([("en", name)]),
            }),
            country: Country {
                iso_code: place.country_code,
                names: BTreeMap::from([("en", place.country)]),
            },
            location: Location {
                latitude: place.latitude,
                longitude: place.longitude,
                accuracy_radius: place.accuracy_radius,
            },
        };
        let network: IpNet = place.network.parse().expect("a fixture network");
        writer.insert(network, &record).expect("a fixture record");
    }
    writer.to_bytes().expect("the fixture database")
}

/// Writes the database with every fixture place to `path` (by renaming a
/// finished file into place, as an operator should).
pub fn write_database(path: &Path, places: &[&FixturePlace]) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, database(places))?;
    std::fs::rename(&partial, path)
}
