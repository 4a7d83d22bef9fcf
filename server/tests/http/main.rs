//! HTTP-level tests: the real app on port 0, a fresh database per test, a
//! manual clock for every timeout (no sleeps).

// The shared helpers (testkit/), under the name every test file uses.
use testkit as helpers;
use testkit::postgres as support;

mod admin;
mod bad_input;
mod cache;
mod clock_skew;
mod concurrency;
mod cookies;
mod cross_site;
mod database_url;
mod device_binding;
mod enumeration;
mod expiry;
mod fixation;
mod headers;
mod limits;
mod locations;
mod logout;
mod mfa;
mod monitoring;
mod pages;
mod passkeys;
mod race;
mod shared_cache;
mod status_and_extend;
mod stored_sessions;
mod throttle;
mod tokens;
mod touch_throttle;
mod transport;
