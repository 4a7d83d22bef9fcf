// What people see (issue 27): every page as a person reads it. axe-core
// finds no WCAG 2.x A/AA violation on any page, every timestamp is a
// <time> in the reader's zone, events read as words, and a screenshot of
// each page is kept with the test's results (end2end/test-results/).
import { test, expect, Page, TestInfo } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { Authenticator, PASSWORD, register, signIn, uniqueUsername, waitForHydration } from "./helpers";

/** Runs the server's command line on the main server's database, as an
 *  operator does (`server admin grant NAME`). */
function serverCommand(...args: string[]) {
  const dir = process.env.E2E_MAIN_DIR!;
  execFileSync(path.join(__dirname, "../../target/debug/server"), args, {
    env: {
      ...process.env,
      TESSERA_DATABASE_PATH: path.join(dir, "e2e.db"),
      TESSERA_MFA_KEY_FILE: path.join(dir, "mfa.key"),
      RUST_LOG: "warn",
    },
    stdio: "pipe",
  });
}

/** An admin (`[mfa] require = "admins"`, the default): granted on the
 *  command line, then signed in, which leads straight to turning on
 *  two-step verification; the password just typed counts as the step-up
 *  for it and for entering the admin area. One code from the app. */
async function admin(page: Page): Promise<{ username: string }> {
  const username = uniqueUsername("admin");
  await register(page, username);
  serverCommand("admin", "grant", username);
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account\/security/);
  await waitForHydration(page);
  await page.getByRole("button", { name: "Turn on two-step verification" }).click();
  const key = (await page.locator("#totp-secret").textContent()) ?? "";
  await page.getByLabel("Code", { exact: true }).fill(new Authenticator(key).code());
  await page.getByRole("button", { name: "Turn on", exact: true }).click();
  await page.getByRole("button", { name: "I have saved them" }).click();
  await expect(page.locator("#mfa-status")).toContainText("on");
  return { username };
}

/** Enters the admin area from `/admin` (the step-up still holds). */
async function enterAdminArea(page: Page) {
  await page.goto("/admin");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Enter the admin area" }).click();
  await expect(page.locator("#admin-sessions")).toBeVisible();
}

/** Text that looks like a time or date outside any <time> element, and
 *  <time> elements whose `datetime` is not a date. */
async function strayTimes(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    for (const time of Array.from(document.querySelectorAll("time"))) {
      if (Number.isNaN(Date.parse(time.getAttribute("datetime") ?? ""))) problems.push(time.outerHTML);
    }
    const body = document.body.cloneNode(true) as HTMLElement;
    // Scripts, and the stored record an admin can open (JSON, no times).
    body.querySelectorAll("time, script, style, code").forEach((e) => e.remove());
    const text = body.textContent ?? "";
    problems.push(...(text.match(/\d{4}-\d{2}-\d{2}|\b\d{1,2}:\d{2}\b|\bUTC\b/g) ?? []));
    return problems;
  });
}

/** axe-core's WCAG 2.0-2.2 A and AA rules on the page as it is now. */
async function axeViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"])
    .analyze();
  return results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
}

/** The page at `path`, hydrated, checked and photographed. */
async function check(page: Page, testInfo: TestInfo, path: string, name: string) {
  if (path) {
    await page.goto(path);
    await waitForHydration(page);
  }
  expect(await axeViolations(page), `axe on ${name}`).toEqual([]);
  expect(await strayTimes(page), `times on ${name}`).toEqual([]);
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
}

test.describe("every page", () => {
  test.skip(!process.env.E2E_MAIN_DIR, "needs the server's command line on its database (make test)");
  test.use({ viewport: { width: 1280, height: 900 } });

  test("axe finds no WCAG A/AA violation, every time is a <time>, each page photographed", async ({ page }, testInfo) => {
    test.setTimeout(120_000);
    for (const [path, name] of [
      ["/", "home"], ["/about", "about"], ["/login", "login"], ["/register", "register"],
      ["/login/verify", "verify-without-sign-in"], ["/no-such-page", "not-found"],
    ]) {
      await check(page, testInfo, path, name);
    }
    const { username } = await admin(page);
    // The profile's display name: the header greets it.
    await page.goto("/account");
    await waitForHydration(page);
    await page.getByLabel("Display name").fill("Ada Lovelace");
    await page.getByRole("button", { name: "Save profile" }).click();
    await expect(page.locator("#profile-saved")).toBeVisible();
    for (const [path, name] of [
      ["/account", "account"], ["/account/security", "security"], ["/account/sessions", "sessions"],
      ["/account/activity", "activity"], ["/step-up?next=/account", "step-up"], ["/admin", "admin-before-entering"],
    ]) {
      await check(page, testInfo, path, name);
    }
    await expect(page.locator(".who")).toHaveText(`Hello, Ada Lovelace (${username})`);
    await enterAdminArea(page);
    await check(page, testInfo, "", "admin");
    // Wide enough for its tables: no timestamp or button broken over lines.
    for (const selector of ["#admin-sessions td.when time", "#admin-sessions td.action button", "#admin-users td.action button"]) {
      const box = await page.locator(selector).first().boundingBox();
      expect(box!.height, selector).toBeLessThan(32);
    }
    // The stored record is one click away for the admin.
    const firstEvent = page.locator("#admin-events tbody tr").first();
    await firstEvent.getByText("Record").click();
    await expect(firstEvent.locator("code")).toBeVisible();
    await check(page, testInfo, "", "admin-record-open");
  });

  test("the live-sessions row of an elevated admin names its browser and address", async ({ page }) => {
    const { username } = await admin(page);
    await enterAdminArea(page);
    const row = page.locator("#admin-sessions tbody tr").filter({ hasText: username });
    await expect(row).toHaveCount(1);
    await expect(row).toContainText(/Chrom\w* \d+ on Linux/);
    await expect(row).toContainText("127.0.0.1");
    await expect(row).not.toContainText("Unknown browser");
  });
});

test("on the sessions page each row's words stay beside its button, and times stay on one line", async ({ page, browser }) => {
  const username = uniqueUsername("rows");
  await register(page, username);
  await signIn(page, username);
  const other = await browser.newContext();
  await signIn(await other.newPage(), username);
  await page.goto("/account/sessions");
  const row = page.locator('.session[data-this-device="false"]');
  await expect(row).toHaveCount(1);
  const words = (await row.locator(".session-about").boundingBox())!;
  const button = (await row.getByRole("button", { name: "End this session" }).boundingBox())!;
  expect(words.x + words.width, "the words end before the button starts").toBeLessThanOrEqual(button.x);
  for (const time of await row.locator("time").all()) {
    expect((await time.boundingBox())!.height, "one line").toBeLessThan(30);
  }
  await other.close();
});

test.describe("times in the reader's time zone", () => {
  // India: UTC+05:30 all year, so the expected words do not depend on
  // the day the test runs.
  test.use({ timezoneId: "Asia/Kolkata" });

  test("the server writes UTC, the browser rewrites it as local time and keeps the instant", async ({ page }) => {
    const username = uniqueUsername("zone");
    await register(page, username);
    // A wrong password first: a failure for the activity page.
    await page.request.post("/api/login", { form: { username, password: "not the password" } });
    await signIn(page, username);
    // As the server sends it (and as a browser without JavaScript shows it).
    const html = (await (await page.request.get("/account")).text()).replaceAll("<!>", "");
    expect(html).toMatch(/id="idle-expires"><time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" data-time="deadline" title="[^"]+ UTC">\d\d:\d\d UTC<\/time>/);
    expect(html).toMatch(/<time datetime="[^"]+" data-time="past" title="[^"]+">just now<\/time>/);

    await page.goto("/account");
    await waitForHydration(page);
    const idle = page.locator("#idle-expires time");
    const instant = new Date((await idle.getAttribute("datetime"))!);
    const local = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Kolkata", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).format(instant);
    await expect(idle).toHaveText(new RegExp(`^(tomorrow at )?${local}$`));
    await expect(idle).toHaveAttribute("title", /\(UTC\+05:30\)$/);
    await expect(page.locator("#account-details time").first()).toHaveText("just now");

    // Events in words, each with its time; nothing of the stored record.
    await page.goto("/account/activity");
    await waitForHydration(page);
    const table = page.locator("#activity");
    await expect(table).toContainText("Signed in with the password");
    await expect(table.locator("tr.failed")).toContainText("Failed Sign-in failed: wrong username or password");
    const text = (await table.textContent()) ?? "";
    expect(text).not.toMatch(/[{}]|\b[a-z]+_[a-z_]+\b/);
    const rows = table.locator("tbody tr");
    for (let i = 0; i < (await rows.count()); i++) {
      await expect(rows.nth(i).locator("td.when time")).toHaveText(/^(just now|\d+ minutes? ago)$/);
    }
  });
});
