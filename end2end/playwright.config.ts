import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import * as crypto from "node:crypto";

// Two ways to run these tests:
// - `make test` sets E2E_START_SERVER=1: Playwright starts the freshly built
//   server itself on a test port with its own temporary database.
// - `cargo leptos end-to-end` starts the server on 127.0.0.1:3000 at the
//   same time as this command; global-setup.ts waits until it answers.
const startServer = process.env.E2E_START_SERVER === "1";
const address = startServer
  ? process.env.E2E_ADDRESS ?? "127.0.0.1:3100"
  : process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000";
const baseURL = `http://${address}`;
// The main server's directory (its database and MFA key), the same in the
// runner and in its workers (each loads this file again and inherits the
// runner's environment): a test runs the server's command line on it
// (`server admin grant`, as an operator does).
if (startServer && !process.env.E2E_MAIN_DIR) {
  process.env.E2E_MAIN_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-e2e-"));
}
import { execFileSync } from "node:child_process";
import {
  ABSOLUTE_ADDRESS,
  CLUSTER_ADDRESS,
  DBSC_ADDRESS,
  DBSC_COOKIE_SECS,
  DBSC_URL,
  GEOIP_ADDRESS,
  GEOIP_DATABASE,
  SHORT_ADDRESS,
  TLS_ADDRESS,
  TLS_URL,
} from "./tests/servers";

// The DBSC server's directory (its certificate, which the DBSC test
// allow-lists for Chromium), the same in the runner and its workers.
if (!process.env.E2E_DBSC_DIR) {
  process.env.E2E_DBSC_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-e2e-dbsc-"));
}

// The GeoIP server's database: `make test-e2e` writes it before Playwright
// starts; written here when missing (`cargo leptos end-to-end`).
if (!fs.existsSync(path.join("..", GEOIP_DATABASE))) {
  fs.mkdirSync(path.dirname(path.join("..", GEOIP_DATABASE)), { recursive: true });
  execFileSync("cargo", ["run", "-q", "-p", "testkit", "--bin", "geoip-fixture", "--", GEOIP_DATABASE], {
    cwd: "..",
    stdio: "inherit",
  });
}

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 5_000 },
  fullyParallel: true,
  // Two cores: more workers only add contention with the server.
  workers: 2,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  globalSetup: startServer ? undefined : "./global-setup.ts",
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download is impossible here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  // The main server, and two with short timeouts for the expiry countdown
  // (real seconds: the countdown corrects for the browser's clock, so a
  // faked browser clock cannot stand in for the server's).
  webServer: [
    ...(startServer ? [server(address, {}, process.env.E2E_MAIN_DIR)] : []),
    server(SHORT_ADDRESS, {
      TESSERA_SESSION_IDLE_TIMEOUT_SECS: "30",
      TESSERA_SESSION_WARN_BEFORE_SECS: "20",
      TESSERA_SESSION_TOUCH_INTERVAL_SECS: "2",
    }),
    server(ABSOLUTE_ADDRESS, {
      TESSERA_SESSION_IDLE_TIMEOUT_SECS: "30",
      TESSERA_SESSION_ABSOLUTE_TIMEOUT_SECS: "30",
      TESSERA_SESSION_WARN_BEFORE_SECS: "20",
      TESSERA_SESSION_TOUCH_INTERVAL_SECS: "2",
    }),
    server(TLS_ADDRESS, { TLS: "on", TESSERA_WEBAUTHN_ORIGINS: TLS_URL }),
    server(
      DBSC_ADDRESS,
      {
        TLS: "on",
        TESSERA_WEBAUTHN_ORIGINS: DBSC_URL,
        TESSERA_DBSC_COOKIE_MAX_AGE_SECS: String(DBSC_COOKIE_SECS),
      },
      process.env.E2E_DBSC_DIR,
    ),
    server(GEOIP_ADDRESS, {
      TESSERA_GEOIP_DATABASE: GEOIP_DATABASE,
      TESSERA_PROXY_TRUSTED: "127.0.0.1",
    }),
    cluster(CLUSTER_ADDRESS),
  ],
});

// PostgreSQL, two instances and haproxy, by the project's own script; its
// SIGTERM trap stops all of it and deletes its directory.
function cluster(addr: string) {
  return {
    command: "scripts/cluster.sh run",
    cwd: "..",
    url: `http://${addr}/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    gracefulShutdown: { signal: "SIGTERM" as const, timeout: 15_000 },
    stdout: "ignore" as const,
    stderr: "pipe" as const,
    env: {
      ...(process.env as Record<string, string>),
      CLUSTER_PORT: addr.split(":").pop()!,
      CLUSTER_BIN: "target/debug/server",
      CLUSTER_ANNOUNCE: "1",
      LEPTOS_SITE_ROOT: "target/site",
      LEPTOS_OUTPUT_NAME: "tessera",
      TESSERA_LOGIN_MAX_REGISTRATIONS_PER_ADDRESS: "10000",
      TESSERA_SESSION_IDLE_TIMEOUT_SECS: "30",
      TESSERA_SESSION_WARN_BEFORE_SECS: "20",
      TESSERA_SESSION_TOUCH_INTERVAL_SECS: "2",
      RUST_LOG: "warn",
    },
  };
}

function server(addr: string, { TLS, ...settings }: Record<string, string>, mainDir?: string) {
  const dir = mainDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "tessera-e2e-"));
  const tls = TLS === "on"
    ? {
        TESSERA_TLS_CERT_PATH: path.join(dir, "cert.pem"),
        TESSERA_TLS_KEY_PATH: path.join(dir, "key.pem"),
        TESSERA_TLS_SELF_SIGNED: "true",
      }
    : {};
  // Each server gets its own MFA key, as `make run` makes one.
  const keyFile = path.join(dir, "mfa.key");
  if (!fs.existsSync(keyFile)) {
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString("hex"), { mode: 0o600 });
  }
  return {
    command: "target/debug/server",
    cwd: "..",
    url: `${TLS === "on" ? "https" : "http"}://${addr}/health`,
    ignoreHTTPSErrors: TLS === "on",
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
    env: {
      LEPTOS_SITE_ADDR: addr,
      LEPTOS_SITE_ROOT: "target/site",
      LEPTOS_OUTPUT_NAME: "tessera",
      TESSERA_DATABASE_PATH: path.join(dir, "e2e.db"),
      TESSERA_MFA_KEY_FILE: keyFile,
      // Passkeys need a domain, not an IP: tests browse http://localhost:PORT.
      // Every test registers from 127.0.0.1: the per-address registration
      // limit would otherwise throttle the suite itself.
      TESSERA_LOGIN_MAX_REGISTRATIONS_PER_ADDRESS: "10000",
      TESSERA_WEBAUTHN_ORIGINS: `http://localhost:${addr.split(":").pop()}`,
      // An access-token key of its own (POST /api/token).
      TESSERA_JWT_KEY_DIR: path.join(dir, "jwt"),
      TESSERA_JWT_CREATE_KEY_IF_MISSING: "true",
      RUST_LOG: "warn",
      ...tls,
      ...settings,
    },
  };
}
