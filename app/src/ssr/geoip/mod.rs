//! Where an address is (issue 25): the operator's GeoIP2/GeoLite2-City
//! database, held in memory and read again when the file changes, and the
//! impossible-travel rule (`travel`).
//!
//! - `settings`: `[geoip]`.
//! - `travel`: the rule, plain arithmetic.
//! - `Locator`: the database. A lookup is an in-memory tree walk of a few
//!   microseconds; a reload reads and checks the new file off the request
//!   path and swaps it in whole, and a broken file leaves the old one in
//!   use.

pub mod settings;
pub mod travel;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use travel::Coordinates;

/// How often the watcher looks at the file's size and modification time.
pub const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// What the database says of an address, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Place {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_radius_km: Option<u16>,
}

impl Place {
    /// Where it is, when the record has a point.
    pub fn coordinates(&self) -> Option<Coordinates> {
        Some(Coordinates {
            latitude: self.latitude.filter(|l| l.is_finite())?,
            longitude: self.longitude.filter(|l| l.is_finite())?,
            accuracy_radius_km: f64::from(self.accuracy_radius_km.unwrap_or(0)),
        })
    }

    /// The place an audit event's details kept (`details.location`, as a
    /// sign-in records it), if any.
    pub fn of_audit_details(details: &str) -> Option<Place> {
        if !details.contains("\"location\":{") {
            return None;
        }
        let details: serde_json::Value = serde_json::from_str(details).ok()?;
        serde_json::from_value(details.get("location")?.clone()).ok()
    }

    /// "London, GB"; a country alone by its name ("Bhutan"); `None` when
    /// the record names nothing.
    pub fn name(&self) -> Option<String> {
        match (&self.city, &self.country_code, &self.country) {
            (Some(city), Some(code), _) => Some(format!("{city}, {code}")),
            (Some(city), None, Some(country)) => Some(format!("{city}, {country}")),
            (Some(city), None, None) => Some(city.clone()),
            (None, _, Some(country)) => Some(country.clone()),
            (None, Some(code), None) => Some(code.clone()),
            (None, None, None) => None,
        }
    }
}

/// Whether an address can have a place: private (RFC 1918, IPv6 unique
/// local), loopback, link-local, CGNAT (100.64.0.0/10), unspecified and
/// multicast addresses are nowhere in particular.
pub fn is_locatable(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (b & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// The file as last read: a change of either means "read it again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp_of(path: &Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
    })
}

struct Loaded {
    reader: maxminddb::Reader<Vec<u8>>,
}

/// The operator's GeoIP database.
pub struct Locator {
    path: PathBuf,
    loaded: RwLock<Arc<Loaded>>,
    /// The file as the last (re)load found it, read or not.
    seen: Mutex<Option<FileStamp>>,
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator").field("path", &self.path).finish()
    }
}

/// Reads and checks the file (blocking: at start, or on a blocking thread).
fn read(path: &Path) -> Result<Loaded, String> {
    let shown = path.display();
    let bytes =
        std::fs::read(path).map_err(|e| format!("geoip.database: cannot read {shown}: {e}"))?;
    let reader = maxminddb::Reader::from_source(bytes)
        .map_err(|e| format!("geoip.database: {shown} is not a MaxMind DB file: {e}"))?;
    let kind = &reader.metadata().database_type;
    if !(kind.contains("City") || kind.contains("Enterprise")) {
        return Err(format!(
            "geoip.database: {shown} is a {kind} database; a GeoIP2 or GeoLite2 City database \
             is needed (it has coordinates)"
        ));
    }
    // The whole tree and data section, once: a file cut short or damaged
    // is refused here rather than failing lookups later.
    reader
        .verify()
        .map_err(|e| format!("geoip.database: {shown} is damaged: {e}"))?;
    Ok(Loaded { reader })
}

impl Locator {
    /// Opens `path` (at start: a missing or broken file is an error that
    /// names the setting).
    pub fn open(path: &Path) -> Result<Self, String> {
        let seen = stamp_of(path);
        let loaded = read(path)?;
        tracing::info!(
            file = %path.display(),
            kind = %loaded.reader.metadata().database_type,
            built = loaded.reader.metadata().build_epoch,
            "GeoIP database loaded"
        );
        Ok(Self {
            path: path.to_owned(),
            loaded: RwLock::new(Arc::new(loaded)),
            seen: Mutex::new(seen),
        })
    }

    fn current(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(loaded) => loaded.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The place of `ip`, if it is a public address the database knows.
    pub fn locate(&self, ip: IpAddr) -> Option<Place> {
        if !is_locatable(ip) {
            return None;
        }
        let loaded = self.current();
        let city = match loaded.reader.lookup(ip.to_canonical()) {
            Ok(found) => found.decode::<maxminddb::geoip2::City>(),
            Err(error) => Err(error),
        };
        let city = match city {
            Ok(Some(city)) => city,
            Ok(None) => return None,
            Err(error) => {
                tracing::debug!(%error, "GeoIP lookup failed");
                return None;
            }
        };
        let place = Place {
            city: city.city.names.english.map(str::to_owned),
            country_code: city.country.iso_code.map(str::to_owned),
            country: city.country.names.english.map(str::to_owned),
            latitude: city.location.latitude,
            longitude: city.location.longitude,
            accuracy_radius_km: city.location.accuracy_radius,
        };
        (place != Place::default()).then_some(place)
    }

    /// The place of an address as stored ("203.0.113.9"), for the pages.
    pub fn locate_text(&self, ip: &str) -> Option<Place> {
        self.locate(ip.parse().ok()?)
    }

    /// Reads the file again if it changed since it was last looked at
    /// (or always, with `force`: SIGHUP). Blocking. A file that does not
    /// read or check leaves the one in use, and says why, once per change.
    pub fn reload(&self, force: bool) -> Result<bool, String> {
        let stamp = stamp_of(&self.path);
        {
            let mut seen = match self.seen.lock() {
                Ok(seen) => seen,
                Err(poisoned) => poisoned.into_inner(),
            };
            if !force && stamp == *seen {
                return Ok(false);
            }
            *seen = stamp;
        }
        let fresh = Arc::new(read(&self.path)?);
        match self.loaded.write() {
            Ok(mut loaded) => *loaded = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(true)
    }

    /// Watches the file for the life of the locator (every `RELOAD_CHECK`)
    /// and reloads on SIGHUP, each read on a blocking thread.
    pub fn watch(self: &Arc<Self>) {
        let locator = Arc::downgrade(self);
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        let mut hangups = match hangups {
            Ok(hangups) => Some(hangups),
            Err(error) => {
                tracing::warn!(%error, "GeoIP database: no SIGHUP reload");
                None
            }
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RELOAD_CHECK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let force = tokio::select! {
                    _ = tick.tick() => false,
                    Some(()) = async {
                        match hangups.as_mut() {
                            Some(h) => h.recv().await,
                            None => std::future::pending().await,
                        }
                    } => true,
                };
                let Some(this) = locator.upgrade() else {
                    break;
                };
                let outcome = tokio::task::spawn_blocking(move || this.reload(force)).await;
                match outcome {
                    Ok(Ok(true)) => tracing::info!("GeoIP database reloaded"),
                    Ok(Ok(false)) => {}
                    Ok(Err(error)) => {
                        tracing::error!(%error, "GeoIP database not reloaded; the old one stays")
                    }
                    Err(error) => tracing::error!(%error, "GeoIP reload failed"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    struct Record {
        city: BTreeMap<&'static str, BTreeMap<&'static str, &'static str>>,
        country: BTreeMap<&'static str, &'static str>,
        location: BTreeMap<&'static str, f64>,
    }

    /// A one-network City database: `city` on 192.0.2.0/24.
    fn database(kind: &str, city: &'static str) -> Vec<u8> {
        let mut writer = mmdb_writer::Writer::builder(kind)
            .description(&[("en", "Tessera unit test")])
            .build();
        let record = Record {
            city: BTreeMap::from([("names", BTreeMap::from([("en", city)]))]),
            country: BTreeMap::from([("iso_code", "GB")]),
            location: BTreeMap::from([("latitude", 51.5), ("longitude", -0.1)]),
        };
        let network: mmdb_writer::ipnet::IpNet = "192.0.2.0/24".parse().expect("network");
        writer.insert(network, &record).expect("record");
        writer.to_bytes().expect("bytes")
    }

    #[test]
    fn private_and_special_addresses_are_nowhere() {
        for nowhere in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_locatable(nowhere.parse().expect("ip")), "{nowhere}");
        }
        for somewhere in [
            "81.2.69.142",
            "100.128.0.1",
            "2a02:ff80::1",
            "::ffff:81.2.69.142",
        ] {
            assert!(is_locatable(somewhere.parse().expect("ip")), "{somewhere}");
        }
    }

    #[test]
    fn places_are_named_as_people_read_them() {
        let place = |city: Option<&str>, code: Option<&str>, country: Option<&str>| Place {
            city: city.map(str::to_owned),
            country_code: code.map(str::to_owned),
            country: country.map(str::to_owned),
            ..Place::default()
        };
        let london = place(Some("London"), Some("GB"), Some("United Kingdom"));
        assert_eq!(london.name().as_deref(), Some("London, GB"));
        let bhutan = place(None, Some("BT"), Some("Bhutan"));
        assert_eq!(bhutan.name().as_deref(), Some("Bhutan"));
        assert_eq!(Place::default().name(), None);
        assert_eq!(
            Place::default().coordinates(),
            None,
            "no point, no judgement"
        );
    }

    #[test]
    fn a_database_is_read_checked_and_replaced_whole_or_not_at_all() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("city.mmdb");
        std::fs::write(&path, database("GeoLite2-City", "London")).expect("write");
        let locator = Locator::open(&path).expect("opens");
        let here: IpAddr = "192.0.2.9".parse().expect("ip");
        let found = locator.locate(here).expect("a place");
        assert_eq!(found.name().as_deref(), Some("London, GB"));
        assert_eq!(found.coordinates().map(|c| c.accuracy_radius_km), Some(0.0));
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().expect("ip");
        assert_eq!(locator.locate(mapped), Some(found.clone()), "as IPv4");
        assert_eq!(locator.locate("198.51.100.1".parse().expect("ip")), None);
        assert_eq!(locator.locate("127.0.0.1".parse().expect("ip")), None);
        assert!(
            !locator.reload(false).expect("unchanged"),
            "nothing to read"
        );

        // A broken replacement: an error once, the old database stays.
        std::fs::write(&path, b"not a database").expect("write");
        let why = locator.reload(false).expect_err("refused");
        assert!(why.starts_with("geoip.database:"), "{why}");
        assert_eq!(
            locator.locate(here).and_then(|p| p.city).as_deref(),
            Some("London")
        );
        assert!(
            !locator.reload(false).expect("seen"),
            "one error per change"
        );

        // A good one replaces it.
        std::fs::write(&path, database("GeoIP2-City", "Leeds")).expect("write");
        assert!(locator.reload(false).expect("read"));
        assert_eq!(
            locator.locate(here).and_then(|p| p.city).as_deref(),
            Some("Leeds")
        );
    }

    #[test]
    fn a_missing_truncated_or_wrong_kind_of_file_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("city.mmdb");
        let missing = Locator::open(&path).expect_err("missing");
        assert!(
            missing.starts_with("geoip.database: cannot read"),
            "{missing}"
        );
        let whole = database("GeoLite2-City", "London");
        std::fs::write(&path, &whole[..whole.len() / 2]).expect("write");
        let cut = Locator::open(&path).expect_err("cut short");
        assert!(cut.starts_with("geoip.database:"), "{cut}");
        std::fs::write(&path, database("GeoLite2-Country", "London")).expect("write");
        let country = Locator::open(&path).expect_err("not a City database");
        assert!(country.contains("City database is needed"), "{country}");
    }
}
