import { test, expect, Page } from "@playwright/test";
import * as http from "node:http";
import { PASSWORD, register, signIn, uniqueUsername, waitForHydration } from "./helpers";
import { ABSOLUTE_URL, SHORT_URL } from "./servers";

// Server: idle 30 s, warning 20 s before the end (so at 10 s), touch 2 s.
test.use({ baseURL: SHORT_URL });

type Status = { server_now_ms: number; idle_expires_at: number; absolute_expires_at: number };

async function status(page: Page): Promise<{ code: number; body?: Status }> {
  const res = await page.request.get("/api/session_status");
  return { code: res.status(), body: res.ok() ? await res.json() : undefined };
}

async function signedInOnAccount(page: Page, prefix: string): Promise<string> {
  const username = uniqueUsername(prefix);
  await register(page, username);
  await signIn(page, username);
  await waitForHydration(page);
  return username;
}

const dialog = (page: Page) => page.getByRole("alertdialog");

test("the warning appears on time, announced, with focus on Stay signed in", async ({ page }) => {
  await signedInOnAccount(page, "ontime");
  const shownAt = Date.now();
  const { body } = await status(page);
  const warnAt = body!.idle_expires_at * 1000 - 20_000;

  await expect(dialog(page)).toBeVisible({ timeout: 20_000 });
  const appeared = Date.now();
  // Not early, and not late (the server's clock is this machine's clock).
  expect(appeared).toBeGreaterThan(warnAt - 1_500);
  expect(appeared).toBeLessThan(warnAt + 3_000);
  expect(appeared - shownAt).toBeGreaterThan(5_000);

  await expect(dialog(page)).toHaveAttribute("aria-modal", "true");
  await expect(page.locator("#session-warning-text")).toHaveText(
    /^Your session will end in 0:(1\d|20) because of inactivity\.$/,
  );
  await expect(page.locator("#stay-signed-in")).toBeFocused();
  // The countdown is live.
  const first = await page.locator("#session-warning-text").textContent();
  await expect(page.locator("#session-warning-text")).not.toHaveText(first!, { timeout: 3_000 });

  // Escape is not "sign out": the dialog stays, the session too.
  await page.keyboard.press("Escape");
  await expect(dialog(page)).toBeVisible();
  expect((await status(page)).code).toBe(200);
  // Fully keyboard operable: Tab stays inside the dialog.
  await page.keyboard.press("Tab");
  await expect(page.locator("#sign-out-now")).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.locator("#stay-signed-in")).toBeFocused();

  // Sign out now really ends the session.
  await page.locator("#sign-out-now").click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
  expect((await status(page)).code).toBe(401);
});

test("Stay signed in extends the session on the server, again and again", async ({ page }) => {
  await signedInOnAccount(page, "extend");
  for (let round = 0; round < 2; round++) {
    await expect(dialog(page)).toBeVisible({ timeout: 20_000 });
    const before = (await status(page)).body!;
    await page.keyboard.press("Enter"); // focus is on Stay signed in
    await expect(dialog(page)).toBeHidden();
    const after = (await status(page)).body!;
    expect(after.idle_expires_at).toBeGreaterThan(before.idle_expires_at);
    expect(after.absolute_expires_at).toBe(before.absolute_expires_at);
  }
  // Ten explicit extends in a row all work (the button's own request).
  let last = (await status(page)).body!.idle_expires_at;
  for (let i = 0; i < 10; i++) {
    await page.waitForTimeout(1_000);
    const res = await page.request.post("/api/extend_session", {
      headers: { origin: SHORT_URL, "sec-fetch-site": "same-origin" },
    });
    expect(res.status()).toBe(200);
    const next = (await res.json()).idle_expires_at;
    expect(next).toBeGreaterThanOrEqual(last);
    last = next;
  }
});

test("reading the status does not extend the session", async ({ page }) => {
  await signedInOnAccount(page, "passive");
  const first = (await status(page)).body!;
  for (let i = 0; i < 4; i++) {
    await page.waitForTimeout(1_500); // past the 2 s touch interval in total
    expect((await status(page)).body!.idle_expires_at).toBe(first.idle_expires_at);
  }
});

test("doing nothing leads to the sign-in page with the reason, and the draft comes back", async ({ page }) => {
  test.setTimeout(90_000);
  const username = await signedInOnAccount(page, "idle");
  await page.getByLabel("Display name").fill("Draft display name");
  await page.getByLabel("About you").fill("Typed before the session ended.\nSecond line.");

  await expect(page).toHaveURL(/\/login\?next=\/account&reason=idle/, { timeout: 45_000 });
  await expect(page.getByText("You were signed out because you were inactive")).toBeVisible();
  expect((await status(page)).code).toBe(401);

  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.locator("#draft-restored")).toBeVisible();
  await expect(page.getByLabel("Display name")).toHaveValue("Draft display name");
  await expect(page.getByLabel("About you")).toHaveValue("Typed before the session ended.\nSecond line.");
  // Saving it works.
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.locator("#profile-saved")).toBeVisible();
});

test("two tabs: extending in one closes the other's dialog; signing out in one signs out both", async ({ context }) => {
  const one = await context.newPage();
  await signedInOnAccount(one, "tabs");
  const two = await context.newPage();
  await two.goto("/account");
  await waitForHydration(two);

  await expect(dialog(one)).toBeVisible({ timeout: 20_000 });
  await expect(dialog(two)).toBeVisible({ timeout: 5_000 });
  await one.locator("#stay-signed-in").click();
  await expect(dialog(one)).toBeHidden();
  await expect(dialog(two)).toBeHidden();

  await one.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(one).toHaveURL(/\/login\?reason=signed_out/);
  await expect(two).toHaveURL(/\/login\?reason=signed_out/);
  expect((await status(two)).code).toBe(401);
});

test("a session ended elsewhere sends the page to sign-in", async ({ context }) => {
  const one = await context.newPage();
  await signedInOnAccount(one, "revoked");
  // Sign out behind the page's back (no broadcast): the next check finds
  // the session gone.
  const res = await one.request.post("/api/logout", {
    headers: { origin: SHORT_URL, "sec-fetch-site": "same-origin" },
  });
  expect(res.ok()).toBeTruthy();
  await one.evaluate(() => window.dispatchEvent(new Event("focus")));
  await expect(one).toHaveURL(/\/login\?next=\/account&reason=ended/);
  await expect(one.getByText("Your session has ended.")).toBeVisible();
});

test.describe("absolute deadline", () => {
  // Server: idle 30 s and absolute 30 s, so the absolute timeout ends it.
  test.use({ baseURL: ABSOLUTE_URL });

  test("near the absolute deadline the dialog says when, and offers no extend", async ({ page }) => {
    await signedInOnAccount(page, "absolute");
    await expect(dialog(page)).toBeVisible({ timeout: 20_000 });
    await expect(page.locator("#session-warning-text")).toHaveText(
      /maximum length and will end in 0:\d\d\. You will have to sign in again at \d\d:\d\d\./,
    );
    await expect(page.locator("#stay-signed-in")).toBeHidden();
    await expect(page.locator("#sign-out-now")).toBeFocused();
    await expect(page).toHaveURL(/reason=absolute/, { timeout: 30_000 });
    await expect(page.getByText("Your session reached its maximum length")).toBeVisible();
  });
});

test.describe("clock skew", () => {
  test("a browser clock an hour fast still warns on time", async ({ page }) => {
    await page.clock.install({ time: Date.now() + 3_600_000 });
    await signedInOnAccount(page, "skew");
    await expect(dialog(page)).toBeHidden();
    await expect(dialog(page)).toBeVisible({ timeout: 20_000 });
    await expect(page.locator("#session-warning-text")).toContainText("because of inactivity");
  });
});

/** A reverse proxy in front of `target` that holds back the answer to the
 *  first POST to `heldPath`: the server has handled that request (the
 *  session is on its new ID), the browser has not yet seen the answer or
 *  its new cookie. `GET /__held` tells the page whether that point has
 *  come; `statusRefused` resolves once a status check has been answered
 *  "not signed in". */
async function holdingProxy(target: string, heldPath: string) {
  let handled!: () => void;
  const answerHeld = new Promise<void>((r) => (handled = r));
  let isHeld = false;
  void answerHeld.then(() => (isHeld = true));
  let releaseAnswer!: () => void;
  const answerReleased = new Promise<void>((r) => (releaseAnswer = r));
  let notSignedIn!: () => void;
  const statusRefused = new Promise<void>((r) => (notSignedIn = r));
  let holding = true;
  const proxy = http.createServer((req, res) => {
    if (req.url === "/__held") {
      res.writeHead(isHeld ? 200 : 404, { "cache-control": "no-store" });
      res.end();
      return;
    }
    const upstream = http.request(
      target + req.url,
      { method: req.method, headers: req.headers },
      async (answer) => {
        if (holding && req.method === "POST" && req.url?.startsWith(heldPath)) {
          holding = false;
          handled();
          await answerReleased;
        }
        if (req.url?.startsWith("/api/session_status") && answer.statusCode === 401) notSignedIn();
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    answerHeld,
    releaseAnswer,
    statusRefused,
    close: () => proxy.close(),
  };
}

test.describe("a request that moves the session to a new ID", () => {
  test("sent by a form before the page hydrated, it is not taken for an ended session", async ({ page }) => {
    const username = await signedInOnAccount(page, "prehydration");
    const held = await holdingProxy(SHORT_URL, "/api/step_up");
    // The wasm is fetched and compiled as usual, but the page hydrates only
    // once a form has been sent and the proxy holds its answer (a test-only
    // script, run before the page's own).
    await page.addInitScript(() => {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      addEventListener("submit", () => {
        const poll = () =>
          fetch("/__held").then((r) => (r.ok ? open() : setTimeout(poll, 50)), () => setTimeout(poll, 50));
        poll();
      });
      for (const name of ["instantiateStreaming", "instantiate"] as const) {
        const original = WebAssembly[name] as (...a: unknown[]) => Promise<unknown>;
        (WebAssembly as unknown as Record<string, unknown>)[name] = (...args: unknown[]) =>
          original.apply(WebAssembly, args).then((r) => gate.then(() => r));
      }
    });
    try {
      await page.goto(`${held.url}/step-up?next=%2Faccount%2Fsessions`);
      await page.getByLabel("Your password").fill(PASSWORD);
      // Playwright's click waits for the navigation it starts, which waits
      // for the held answer: not awaited until that is released.
      const clicked = page.getByRole("button", { name: "Confirm" }).click();
      // The server has stepped up and moved the session to a new ID; the
      // browser does not have the new cookie yet. The page hydrates now,
      // and the countdown's first check carries the old cookie.
      await held.answerHeld;
      await held.statusRefused;
      held.releaseAnswer();
      await clicked;
      await expect(page).toHaveURL(/\/account\/sessions$/);
      await expect(page.locator(".who")).toContainText(username);
    } finally {
      held.close();
    }
  });

  test("sent by a hydrated page, it is not taken for an ended session either", async ({ page }) => {
    await signedInOnAccount(page, "inflight");
    const held = await holdingProxy(SHORT_URL, "/api/step_up");
    try {
      await page.goto(`${held.url}/account/security`);
      await waitForHydration(page);
      await page.getByRole("button", { name: "Turn on two-step verification" }).click();
      const stepUp = page.getByRole("dialog");
      await stepUp.getByLabel("Your password").fill(PASSWORD);
      await stepUp.getByRole("button", { name: "Confirm" }).click();
      await held.answerHeld;
      // The countdown checks now (the window got focus), with the old cookie.
      await page.evaluate(() => window.dispatchEvent(new Event("focus")));
      await held.statusRefused;
      // Time for a countdown that believed the first "not signed in" to
      // leave the page (it would go at once), before the answer comes.
      await page.waitForTimeout(500);
      held.releaseAnswer();
      // The action goes on, on the new ID; nobody was sent to sign in.
      await expect(page.locator("#totp-secret")).toBeVisible();
      await page.waitForTimeout(1_500);
      await expect(page).toHaveURL(/\/account\/security$/);
    } finally {
      held.close();
    }
  });
});
