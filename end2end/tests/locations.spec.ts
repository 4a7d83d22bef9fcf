import { test, expect } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { PASSWORD, register, signIn, uniqueUsername, waitForHydration } from "./helpers";
import { GEOIP_URL, LONDON, SYDNEY } from "./servers";

// Issue 25: a sign-in from Sydney a minute after one from London (addresses
// from X-Forwarded-For, places from the tests' GeoIP database) is impossible
// travel. Both browsers see the notice and its two buttons; the far one must
// confirm it is the user before "It was me" counts; the near one secures the
// account: the far session ends and the password form comes next.
test("impossible travel: the notice, its two buttons, and what each does", async ({ browser }) => {
  const username = uniqueUsername("trav");
  const home = await browser.newContext({ baseURL: GEOIP_URL, extraHTTPHeaders: { "X-Forwarded-For": LONDON } });
  const away = await browser.newContext({ baseURL: GEOIP_URL, extraHTTPHeaders: { "X-Forwarded-For": SYDNEY } });
  const london = await home.newPage();
  const sydney = await away.newPage();
  await register(london, username);
  await signIn(london, username);
  await signIn(sydney, username);

  for (const page of [london, sydney]) {
    await page.goto("/account");
    const notice = page.locator("#travel-notice");
    await expect(notice).toBeVisible();
    await expect(notice).toContainText(/Signed in from Sydney, AU \d+ minutes? after London, GB/);
    await expect(notice).toContainText("was this you?");
    await expect(notice.getByRole("button", { name: "It was me" })).toBeVisible();
    await expect(notice.getByRole("button", { name: "Secure my account" })).toBeVisible();
  }
  // The notice and its buttons pass axe-core's WCAG 2.2 A/AA rules.
  await waitForHydration(sydney);
  const axe = await new AxeBuilder({ page: sydney })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"])
    .analyze();
  expect(axe.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);

  // Places beside the addresses.
  await london.goto("/account/sessions");
  await expect(london.locator("#session-list")).toContainText("London, GB");
  await expect(london.locator("#session-list")).toContainText("Sydney, AU");

  // The far session: "It was me" asks it to confirm first.
  await sydney.goto("/account");
  await sydney.locator("#travel-notice").getByRole("button", { name: "It was me" }).click();
  await expect(sydney).toHaveURL(/\/step-up\?next=/);

  // The near session secures the account (after confirming it is them).
  await london.goto("/account");
  await london.locator("#travel-notice").getByRole("button", { name: "Secure my account" }).click();
  await expect(london).toHaveURL(/\/step-up\?next=/);
  await london.locator("#step-up-secret").fill(PASSWORD);
  await london.locator("#step-up-form").getByRole("button").click();
  await expect(london).toHaveURL(/\/account$/);
  await london.locator("#travel-notice").getByRole("button", { name: "Secure my account" }).click();
  await expect(london).toHaveURL(/\/account\/security\?secured=1#password-heading/);
  await expect(london.locator("#security-notice")).toContainText("signed out everywhere else");
  await expect(london.locator("#password-form")).toBeVisible();
  await london.goto("/account");
  await expect(london.locator("#travel-notice")).toHaveCount(0);

  // The far browser is signed out.
  await sydney.goto("/account");
  await expect(sydney).toHaveURL(/\/login/);
  await home.close();
  await away.close();
});
