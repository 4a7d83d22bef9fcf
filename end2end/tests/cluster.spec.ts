import { test, expect, Page } from "@playwright/test";
import { register, signIn, uniqueUsername, waitForHydration } from "./helpers";
import { CLUSTER_URL } from "./servers";

// Two servers behind haproxy on one PostgreSQL (scripts/cluster.sh): idle
// 30 s, warning at 10 s. The browser's requests go round robin to both.
test.use({ baseURL: CLUSTER_URL });

const dialog = (page: Page) => page.getByRole("alertdialog");

async function statuses(page: Page, n: number) {
  const seen: { instance: string; idle: number }[] = [];
  for (let i = 0; i < n; i++) {
    const res = await page.request.get("/api/session_status");
    expect(res.status()).toBe(200);
    seen.push({
      instance: res.headers()["x-tessera-instance"] ?? "?",
      idle: (await res.json()).idle_expires_at,
    });
  }
  return seen;
}

test("the countdown warns and extends behind a load balancer, on both servers", async ({ page }) => {
  const username = uniqueUsername("cluster");
  await register(page, username);
  await signIn(page, username);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: /account/i })).toBeVisible();

  // Both servers answer for this session, with the same deadline.
  const before = await statuses(page, 4);
  expect(new Set(before.map((s) => s.instance))).toEqual(new Set(["a", "b"]));
  expect(new Set(before.map((s) => s.idle)).size).toBe(1);

  // The warning comes on time (10 s after sign-in), and "Stay signed in"
  // extends the session on the server that gets the request: both see it.
  await expect(dialog(page)).toBeVisible({ timeout: 20_000 });
  await page.locator("#stay-signed-in").click();
  await expect(dialog(page)).toBeHidden();
  const after = await statuses(page, 4);
  expect(new Set(after.map((s) => s.instance))).toEqual(new Set(["a", "b"]));
  for (const s of after) {
    expect(s.idle).toBeGreaterThan(before[0].idle);
  }
  expect(new Set(after.map((s) => s.idle)).size).toBe(1);

  // Signing out (on whichever server) ends it on both.
  await page.getByRole("button", { name: /sign out/i }).first().click();
  await expect(page).toHaveURL(/\/login/);
  for (let i = 0; i < 4; i++) {
    expect((await page.request.get("/api/session_status")).status()).toBe(401);
  }
});
