import { test, expect } from "@playwright/test";
import { PASSWORD, uniqueUsername } from "./helpers";

// Forms must work before hydration. With JavaScript off they never
// hydrate, which is the strictest version of "before hydration".
test.use({ javaScriptEnabled: false });

test("register, sign in and sign out work without JavaScript", async ({ page }) => {
  const username = uniqueUsername("nojs");
  await page.goto("/register");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/login\?registered=1/);

  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.locator("#account-username")).toHaveText(username);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=/);
});

test("a failed sign-in without JavaScript shows the message", async ({ page }) => {
  await page.goto("/login");
  await page.getByLabel("Username").fill(uniqueUsername("nobody"));
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert")).toHaveText("Incorrect username or password.");
});

test("a refused registration without JavaScript explains why", async ({ page }) => {
  await page.goto("/register");
  await page.getByLabel("Username").fill(uniqueUsername("weak"));
  await page.getByLabel("Password", { exact: true }).fill("password123");
  await page.getByLabel("Confirm password").fill("password123");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toContainText("too easy to guess");
});
