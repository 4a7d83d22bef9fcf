import { test, expect, chromium, CDPSession } from "@playwright/test";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { register, signIn, uniqueUsername } from "./helpers";
import { DBSC_COOKIE_SECS, DBSC_URL } from "./servers";

// Device-bound sessions (issue 26) in a real Chromium. DBSC needs the full
// browser (not the headless shell), its software key provider (Linux has
// no secure hardware key Chromium will use), and HTTPS with a certificate
// Chromium trusts: the server's self-signed one, allow-listed by its key.
const CHROMIUM = process.env.DBSC_CHROMIUM_PATH ?? "/usr/lib/chromium/chromium";

function spkiHash(certFile: string): string {
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return crypto.createHash("sha256").update(spki).digest("base64");
}

type DbscEvent = { kind: string; succeeded: boolean; raw: unknown };

function watchDbsc(cdp: CDPSession): DbscEvent[] {
  const events: DbscEvent[] = [];
  cdp.on("Network.deviceBoundSessionEventOccurred" as never, (event: Record<string, unknown>) => {
    const kind =
      ["creationEventDetails", "refreshEventDetails", "terminationEventDetails", "challengeEventDetails"].find(
        (k) => k in event,
      ) ?? "other";
    events.push({ kind, succeeded: event.succeeded === true, raw: event });
  });
  return events;
}

test("a real Chromium binds the session, refreshes the bound cookie on its own, and the cookie copied elsewhere is refused", async () => {
  test.setTimeout(90_000);
  const cert = path.join(process.env.E2E_DBSC_DIR ?? "", "cert.pem");
  expect(fs.existsSync(cert), `the DBSC server's certificate at ${cert}`).toBe(true);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--enable-features=DeviceBoundSessions,EnableBoundSessionCredentialsSoftwareKeysForManualTesting",
      `--ignore-certificate-errors-spki-list=${spkiHash(cert)}`,
    ],
  });
  try {
    const context = await browser.newContext({ baseURL: DBSC_URL });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.enableDeviceBoundSessions" as never, { enable: true } as never);
    const events = watchDbsc(cdp);

    const username = uniqueUsername("dbsc");
    await register(page, username);
    await signIn(page, username);
    // Registration: Chromium answers the page's offer with its key.
    await expect
      .poll(() => events.some((e) => e.kind === "creationEventDetails" && e.succeeded), {
        timeout: 15_000,
        message:
          `Chromium (${CHROMIUM}) did not register a device-bound session: this build ignores DBSC ` +
          `(it needs the full browser, the DeviceBoundSessions and software-key features, and a trusted HTTPS origin). ` +
          `Events seen: ${JSON.stringify(events.map((e) => e.raw))}`,
      })
      .toBe(true);
    const bound = (await context.cookies()).find((c) => c.name === "__Host-tessera_dbsc");
    expect(bound, "the bound cookie").toBeDefined();

    // The bound cookie expires; Chromium refreshes it by itself (a proof
    // signed with its key) before the request goes out, and the page works.
    await page.waitForTimeout((DBSC_COOKIE_SECS + 1) * 1000);
    await page.goto("/account");
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.locator("#account-username")).toHaveText(username);
    await expect
      .poll(() => events.some((e) => e.kind === "refreshEventDetails" && e.succeeded), { timeout: 15_000 })
      .toBe(true);
    const renewed = (await context.cookies()).find((c) => c.name === "__Host-tessera_dbsc");
    expect(renewed?.value).not.toBe(bound?.value);
    await page.goto("/account/activity");
    await expect(page.locator("#activity")).toContainText("Bound the session to this device's key");

    // The session cookie alone, copied into a browser without the key: a
    // visitor, sent to sign in.
    const sid = (await context.cookies()).find((c) => c.name === "__Host-sid");
    expect(sid).toBeDefined();
    const thief = await browser.newContext({ baseURL: DBSC_URL });
    await thief.addCookies([{ ...sid!, expires: -1 }]);
    const stolen = await thief.newPage();
    await stolen.goto("/account");
    await expect(stolen).toHaveURL(/\/login/);
    await thief.close();
    // The real browser goes on.
    await page.goto("/account");
    await expect(page).toHaveURL(/\/account$/);
  } finally {
    await browser.close();
  }
});
