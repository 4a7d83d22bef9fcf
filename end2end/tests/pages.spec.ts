import { test, expect, Page } from "@playwright/test";
import { register, signIn, uniqueUsername, waitForHydration } from "./helpers";

/** Everything the browser reports as wrong while `visit` runs: console
 * errors and warnings (hydration mismatches, panics, CSP, a header the
 * browser cannot read, such as a Permissions-Policy feature it does not
 * know, which Chromium reports as a warning), failed requests and answers
 * of 400 or more (a missing favicon, a missing asset). */
async function problemsDuring(page: Page, visit: () => Promise<void>): Promise<string[]> {
  const problems: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  };
  const onPageError = (e: Error) => problems.push(`page error: ${e.message}`);
  // A request cut short by the next navigation (net::ERR_ABORTED, e.g. the
  // favicon of a page left at once) is not a fault of the page.
  const onFailed = (r: { url(): string; failure(): { errorText: string } | null }) => {
    const reason = r.failure()?.errorText ?? "";
    if (!reason.includes("ERR_ABORTED")) problems.push(`failed: ${r.url()} ${reason}`);
  };
  const onResponse = (r: { url(): string; status(): number }) => {
    if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
  };
  page.on("console", onConsole);
  page.on("pageerror", onPageError);
  page.on("requestfailed", onFailed);
  page.on("response", onResponse);
  await visit();
  page.off("console", onConsole);
  page.off("pageerror", onPageError);
  page.off("requestfailed", onFailed);
  page.off("response", onResponse);
  return problems;
}

/** Goes to `path` and checks the page came with a nonce CSP (issue 13):
 * a refused inline script or style would be a console error. */
async function gotoUnderCsp(page: Page, path: string) {
  const res = await page.goto(path);
  const csp = res?.headers()["content-security-policy"] ?? "";
  expect(csp, path).toContain("'nonce-");
  expect(csp, path).not.toContain("unsafe-inline");
}

test("every page loads and hydrates its islands under the CSP with no error in the console", async ({ page }) => {
  const username = uniqueUsername("pages");
  await register(page, username);
  const anonymous = await problemsDuring(page, async () => {
    for (const path of ["/", "/about", "/login", "/register", "/login/verify"]) {
      await gotoUnderCsp(page, path);
      await waitForHydration(page);
    }
  });
  expect(anonymous).toEqual([]);

  await signIn(page, username);
  const signedIn = await problemsDuring(page, async () => {
    for (const path of [
      "/account", "/", "/about", "/account/security", "/account/sessions",
      "/account/activity", "/step-up", "/admin",
    ]) {
      await gotoUnderCsp(page, path);
      await waitForHydration(page);
      // The countdown island runs on every signed-in page.
      await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
    }
  });
  expect(signedIn).toEqual([]);
});

test("the about page states the session policy to visitors", async ({ page }) => {
  await page.goto("/about");
  await expect(page.locator("#policy-idle")).toHaveText("30 minutes");
  await expect(page.locator("#policy-absolute")).toHaveText("8 hours");
  expect((await page.context().cookies()).find((c) => c.name === "__Host-sid")).toBeUndefined();
});

test("pages are never cached; the build's assets have content-hashed names cached for a year", async ({ page }) => {
  const assets: { url: string; cacheControl: string }[] = [];
  page.on("response", (r) => {
    if (/\/pkg\/tessera[^/]*\.(wasm|js|css)$/.test(r.url())) {
      assets.push({ url: r.url(), cacheControl: r.headers()["cache-control"] ?? "" });
    }
  });
  const document = await page.goto("/login");
  await waitForHydration(page);
  expect(document?.headers()["cache-control"]).toBe("no-store");
  // The stylesheet, the JS glue and the wasm, each by its hashed name.
  expect(assets.map((a) => a.url.split(".").pop()).sort()).toEqual(["css", "js", "wasm"]);
  for (const asset of assets) {
    expect(asset.url).toMatch(/\/pkg\/tessera\.[A-Za-z0-9_-]{22}\.(js|wasm|css)$/);
    expect(asset.cacheControl, asset.url).toBe("public, max-age=31536000, immutable");
  }
  // The plain names still answer, revalidated on each use.
  const plain = await page.request.get("/pkg/tessera.css");
  expect(plain.headers()["cache-control"]).toBe("no-cache");
});

test("the profile form answers in the page: a refusal keeps the text, then it saves", async ({ page }) => {
  const username = uniqueUsername("profile");
  await register(page, username);
  await signIn(page, username);
  await waitForHydration(page);
  await page.getByLabel("About you").fill("Some words I typed");
  await page.locator("#profile-display-name").evaluate((el: HTMLInputElement) => {
    el.value = "bell\u0007name";
  });
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.getByRole("alert")).toContainText("control characters");
  await expect(page.locator("#profile-saved")).toBeHidden();
  await expect(page.getByLabel("About you")).toHaveValue("Some words I typed");
  await expect(page).toHaveURL(/\/account$/);

  await page.getByLabel("Display name").fill("Bell");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.locator("#profile-saved")).toBeVisible();
  await expect(page.getByRole("alert")).toHaveCount(0);
  await page.reload();
  await expect(page.getByLabel("Display name")).toHaveValue("Bell");
});
