// Servers with short session timeouts, started by playwright.config.ts.
export const SHORT_ADDRESS = process.env.E2E_SHORT_ADDRESS ?? "127.0.0.1:3101"; // idle 30 s, warn 20 s
export const ABSOLUTE_ADDRESS = process.env.E2E_ABSOLUTE_ADDRESS ?? "127.0.0.1:3102"; // absolute 30 s
export const SHORT_URL = `http://${SHORT_ADDRESS}`;
export const ABSOLUTE_URL = `http://${ABSOLUTE_ADDRESS}`;
// Built-in TLS (issue 13): a self-signed certificate for localhost made by
// the server in its temporary directory; pages hydrate under the CSP.
export const TLS_ADDRESS = process.env.E2E_TLS_ADDRESS ?? "127.0.0.1:3103";
export const TLS_URL = `https://localhost:${TLS_ADDRESS.split(":").pop()}`;
// Two servers on a throwaway PostgreSQL behind haproxy (issue 14), started
// by scripts/cluster.sh: idle 30 s, warn 20 s, as SHORT.
export const CLUSTER_ADDRESS = process.env.E2E_CLUSTER_ADDRESS ?? "127.0.0.1:3104";
export const CLUSTER_URL = `http://${CLUSTER_ADDRESS}`;
// Where sign-ins come from (issue 25): the tests' GeoIP database (written by
// `testkit`'s geoip-fixture, documentation ranges only) and X-Forwarded-For
// believed from 127.0.0.1, so that a browser context can sign in "from"
// London or Sydney.
export const GEOIP_ADDRESS = process.env.E2E_GEOIP_ADDRESS ?? "127.0.0.1:3105";
export const GEOIP_URL = `http://${GEOIP_ADDRESS}`;
export const GEOIP_DATABASE = "target/e2e-geoip/GeoLite2-City.mmdb";
export const LONDON = "192.0.2.10";
export const SYDNEY = "203.0.113.50";
// Device-bound sessions (issue 26): Tessera over its own TLS with a
// self-signed localhost certificate in a directory of its own (the test
// allow-lists its key for Chromium), and a bound cookie that lives 5 s.
export const DBSC_ADDRESS = process.env.E2E_DBSC_ADDRESS ?? "127.0.0.1:3106";
export const DBSC_URL = `https://localhost:${DBSC_ADDRESS.split(":").pop()}`;
export const DBSC_COOKIE_SECS = 5;
