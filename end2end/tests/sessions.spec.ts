import { test, expect } from "@playwright/test";
import { register, signIn, uniqueUsername, waitForHydration } from "./helpers";

test("the sessions page lists both browsers; ending one signs that browser out", async ({ browser }) => {
  const username = uniqueUsername("dev");
  const laptop = await browser.newContext();
  const phone = await browser.newContext();
  const a = await laptop.newPage();
  const b = await phone.newPage();
  await register(a, username);
  await signIn(a, username);
  await signIn(b, username);
  await waitForHydration(b);

  await a.goto("/account/sessions");
  const rows = a.locator("#session-list .session");
  await expect(rows).toHaveCount(2);
  await expect(a.locator('.session[data-this-device="true"]')).toContainText("this device");
  await expect(rows.first()).toContainText(/Chrom/);
  await a.locator('.session[data-this-device="false"]').getByRole("button", { name: "End this session" }).click();
  await expect(a.locator("#sessions-notice")).toBeVisible();
  await expect(a.locator("#session-list .session")).toHaveCount(1);

  // The other browser's countdown checks with the server when its window
  // gets focus: the session is gone, so it goes to sign-in on its own.
  await b.evaluate(() => window.dispatchEvent(new Event("focus")));
  await expect(b).toHaveURL(/\/login/);
  await laptop.close();
  await phone.close();
});

test("the activity page shows the sign-in with browser and system", async ({ page }) => {
  const username = uniqueUsername("act");
  await register(page, username);
  await signIn(page, username);
  await page.goto("/account/activity");
  const first = page.locator("#activity tbody tr").first();
  await expect(first).toContainText("Signed in with the password");
  await expect(first).toContainText(/Chrom\w* \d+ on Linux/);
  await expect(first).toContainText("127.0.0.1");
});
