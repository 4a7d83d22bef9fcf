import { test, expect, Page } from "@playwright/test";
import { register, signIn, uniqueUsername, waitForHydration } from "./helpers";
import { TLS_URL } from "./servers";

// Built-in TLS (issue 13): the server's self-signed localhost certificate.
test.use({ baseURL: TLS_URL, ignoreHTTPSErrors: true });

function collectProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.text().includes("Content Security Policy")) {
      problems.push(`console: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

test("over HTTPS with the CSP on, sign-in, the countdown and the account forms work with no console error", async ({ page }) => {
  const problems = collectProblems(page);
  const res = await page.goto("/login");
  expect(res?.headers()["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
  expect(res?.headers()["content-security-policy"]).toContain("'nonce-");
  expect(new URL(page.url()).protocol).toBe("https:");

  const username = uniqueUsername("https");
  await register(page, username);
  await signIn(page, username);
  await waitForHydration(page);
  // The countdown island and the hydrated profile form.
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  await page.getByLabel("Display name").fill("Over TLS");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.locator("#profile-saved")).toBeVisible();
  const cookies = await page.context().cookies();
  const sid = cookies.find((c) => c.name === "__Host-sid");
  expect(sid?.secure).toBe(true);
  expect(sid?.httpOnly).toBe(true);
  for (const path of ["/account/security", "/account/sessions", "/account/activity"]) {
    await page.goto(path);
    await waitForHydration(page);
  }
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  expect(problems).toEqual([]);
});
