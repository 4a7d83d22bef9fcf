import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";

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
const dataDir = startServer ? fs.mkdtempSync(path.join(os.tmpdir(), "tessera-e2e-")) : "";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
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
  webServer: startServer
    ? {
        command: "../target/debug/server",
        cwd: "..",
        url: `${baseURL}/health`,
        reuseExistingServer: false,
        timeout: 60_000,
        stdout: "ignore",
        stderr: "pipe",
        env: {
          LEPTOS_SITE_ADDR: address,
          LEPTOS_SITE_ROOT: "target/site",
          LEPTOS_OUTPUT_NAME: "tessera",
          TESSERA_DATABASE_PATH: path.join(dataDir, "e2e.db"),
          RUST_LOG: "warn",
        },
      }
    : undefined,
});
