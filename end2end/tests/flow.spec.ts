import { test, expect } from "@playwright/test";
import { PASSWORD, register, signIn, uniqueUsername, waitForHydration } from "./helpers";

test("register, sign in, see the account, sign out; Back shows no account data", async ({ page }) => {
  const username = uniqueUsername("flow");
  await register(page, username);
  await expect(page.getByText("Your account was created. Please sign in.")).toBeVisible();

  await signIn(page, username);
  await expect(page.locator("#account-username")).toHaveText(username);
  await expect(page.locator("#idle-policy")).toContainText("30 minutes without activity");
  // A clock time (readable.spec.ts checks the zone).
  await expect(page.locator("#idle-expires time")).toHaveText(/^(tomorrow at )?\d\d:\d\d( UTC)?$/);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
  await expect(page.getByText("You have signed out.")).toBeVisible();
  expect((await page.context().cookies()).find((c) => c.name === "__Host-sid")).toBeUndefined();

  await page.goBack();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByText(username)).toHaveCount(0);
  await expect(page.locator("#account-details")).toHaveCount(0);

  // A full reload of the account page after sign-out asks to sign in again.
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=%2Faccount|\/login\?next=\/account/);
  await expect(page.getByText(username)).toHaveCount(0);
});

test("a wrong password shows one message and no session", async ({ page }) => {
  const username = uniqueUsername("wrong");
  await register(page, username);
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD + "x");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("Incorrect username or password.");
  await expect(page).toHaveURL(/\/login/);
  expect((await page.context().cookies()).find((c) => c.name === "__Host-sid")).toBeUndefined();
});

test("the account page asks an anonymous visitor to sign in, then returns there", async ({ page }) => {
  const username = uniqueUsername("next");
  await register(page, username);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=/);
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.locator("#account-username")).toHaveText(username);
});
