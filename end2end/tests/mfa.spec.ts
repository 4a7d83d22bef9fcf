import { test, expect, Page } from "@playwright/test";
import { Authenticator, PASSWORD, passwordStep, register, signIn, uniqueUsername, waitForHydration } from "./helpers";

/** Turns two-step verification on from the security page, stepping up with
 *  the password on the way; returns the app and the recovery codes. */
async function enrol(page: Page): Promise<{ app: Authenticator; codes: string[] }> {
  await page.goto("/account/security");
  await waitForHydration(page);
  await expect(page.locator("#mfa-status")).toContainText("off");
  await page.getByRole("button", { name: "Turn on two-step verification" }).click();
  // Changing factors needs a fresh confirmation (ASVS 7.5.1).
  await confirmWithPassword(page);
  await expect(page.locator("svg").first()).toBeVisible();
  const key = (await page.locator("#totp-secret").textContent()) ?? "";
  const app = new Authenticator(key);
  await page.getByLabel("Code", { exact: true }).fill(app.code());
  await page.getByRole("button", { name: "Turn on", exact: true }).click();
  // allTextContents() does not wait: the codes come with the answer.
  await expect(page.locator("#recovery-codes code")).toHaveCount(10);
  const codes = await page.locator("#recovery-codes code").allTextContents();
  // Copy puts them on the clipboard, one per line.
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.getByRole("button", { name: "Copy", exact: true }).click();
  await expect(page.getByRole("button", { name: "Copied" })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied.split(/\s+/).filter((l) => l.length > 0)).toEqual(codes);
  // And the download is a text file with the same codes.
  const download = await page.request.get("/account/security/recovery-codes.txt");
  expect(download.headers()["content-disposition"]).toContain("attachment");
  for (const code of codes) expect(await download.text()).toContain(code);
  await page.getByRole("button", { name: "I have saved them" }).click();
  await expect(page.locator("#mfa-status")).toContainText("on");
  await expect(page.locator("#recovery-codes")).toHaveCount(0);
  return { app, codes };
}

/** The step-up dialog (hydrated page): it opens instead of leaving the
 *  page, with focus on its field, and the action goes on after it. */
async function confirmWithPassword(page: Page) {
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  const field = dialog.getByLabel("Your password");
  await expect(field).toBeFocused();
  await field.fill(PASSWORD);
  await dialog.getByRole("button", { name: "Confirm" }).click();
}

async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
}


test("enrol, sign out, and sign in with a code from the app", async ({ page }) => {
  const username = uniqueUsername("mfa");
  await register(page, username);
  await signIn(page, username);
  const { app, codes } = await enrol(page);
  await signOut(page);

  await passwordStep(page, username);
  // The pending sign-in grants nothing.
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.goto("/login/verify");
  const field = page.getByLabel("Code from your authenticator app");
  await expect(field).toHaveAttribute("autocomplete", "one-time-code");
  await expect(field).toHaveAttribute("inputmode", "numeric");
  const code = app.code();
  await field.fill(`${code.slice(0, 3)} ${code.slice(3)}`);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.locator("#account-username")).toHaveText(username);

  // A sensitive action on this new session: the dialog asks for a code
  // (here a recovery code), then the password change goes through with
  // the values already typed.
  await page.goto("/account/security");
  await waitForHydration(page);
  const newPassword = "Velvet harbour 42 nimbus kite";
  await page.getByLabel("New password", { exact: true }).fill(newPassword);
  await page.getByLabel("Confirm new password").fill(newPassword);
  await page.getByRole("button", { name: "Change password" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel("Code from your authenticator app")).toBeFocused();
  await dialog.getByRole("button", { name: "Use a recovery code instead" }).click();
  await dialog.getByLabel("Recovery code").fill("aaaa-aaaa-aaaa-aaaa");
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await expect(dialog.getByRole("alert")).toContainText("not right");
  await dialog.getByLabel("Recovery code").fill(codes[1]);
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await expect(page).toHaveURL(/\/account\/security\?password=changed/);
  await expect(page.locator("#security-notice")).toContainText("Your password was changed");
});

test("a recovery code signs in once and is refused the second time", async ({ page }) => {
  const username = uniqueUsername("rec");
  await register(page, username);
  await signIn(page, username);
  const { codes } = await enrol(page);
  await signOut(page);

  await passwordStep(page, username);
  await page.getByRole("link", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(codes[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/account\/security\?codes_left=9/);
  await expect(page.getByRole("status").first()).toContainText("You have 9 left");
  await signOut(page);

  await passwordStep(page, username);
  await page.getByRole("link", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(codes[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("alert")).toContainText("already used");
  await expect(page).toHaveURL(/\/login\/verify/);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("a sensitive form goes to the step-up page and returns to the form", async ({ page }) => {
    const username = uniqueUsername("nojsmfa");
    await page.goto("/register");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Confirm password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(/\/account$/);

    await page.goto("/account/security");
    await page.getByRole("button", { name: "Turn on two-step verification" }).click();
    await expect(page).toHaveURL(/\/step-up\?next=%2Faccount%2Fsecurity|\/step-up\?next=\/account\/security/);
    // A wrong password: the message, and the page stays.
    await page.getByLabel("Your password").fill("not my password");
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect(page.getByRole("alert")).toContainText("not right");
    await page.getByLabel("Your password").fill(PASSWORD);
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect(page).toHaveURL(/\/account\/security$/);
    await expect(page.locator("#step-up-status")).toBeVisible();
    await page.getByRole("button", { name: "Turn on two-step verification" }).click();
    await expect(page.locator("#totp-secret")).toBeVisible();
  });
});
