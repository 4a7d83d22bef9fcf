import { test, expect, Page, CDPSession } from "@playwright/test";
import {
  Authenticator,
  PASSWORD,
  passwordStep,
  register,
  sessionCookie,
  signIn,
  uniqueUsername,
  waitForHydration,
} from "./helpers";

// Passkeys need a domain, never an IP address: these tests browse the main
// test server as http://localhost:PORT (its [webauthn] origins say so).
const port = (process.env.E2E_ADDRESS ?? "127.0.0.1:3100").split(":").pop();
test.use({ baseURL: `http://localhost:${port}` });

/** Chromium's virtual authenticator (CDP): a platform passkey provider
 *  with resident keys and user verification, which answers at once. */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

/** A user with two-step verification on (a passkey needs it), signed in
 *  and stepped up (the enrolment asked for the password). */
async function userWithTwoStep(page: Page): Promise<{ username: string; app: Authenticator }> {
  const username = uniqueUsername("pk");
  await register(page, username);
  await signIn(page, username);
  await page.goto("/account/security");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Turn on two-step verification" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Your password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Confirm" }).click();
  const app = new Authenticator((await page.locator("#totp-secret").textContent()) ?? "");
  await page.getByLabel("Code", { exact: true }).fill(app.code());
  await page.getByRole("button", { name: "Turn on", exact: true }).click();
  await page.getByRole("button", { name: "I have saved them" }).click();
  await expect(page.locator("#mfa-status")).toContainText("on");
  return { username, app };
}

async function addPasskey(page: Page, name: string) {
  await page.goto("/account/security");
  await waitForHydration(page);
  await page.getByLabel("Name of the new passkey").fill(name);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page).toHaveURL(/passkey=added/);
  await expect(page.locator("#passkey-list")).toContainText(name);
}

async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed_out/);
}

test("add a passkey, sign in with it alone, step up with it, remove it", async ({ page }) => {
  await virtualAuthenticator(page);
  const { username } = await userWithTwoStep(page);
  // A token minted before the passkey is added dies with the change of
  // factors (ASVS 7.4.3), though this session made it.
  const sameOrigin = { origin: `http://localhost:${port}`, "sec-fetch-site": "same-origin" };
  const minted = await page.request.post("/api/token", { headers: sameOrigin });
  expect(minted.status()).toBe(200);
  const token = (await minted.json()).access_token as string;
  const me = () => page.request.get("/api/v1/me", { headers: { authorization: `Bearer ${token}` } });
  expect((await me()).status()).toBe(200);
  await addPasskey(page, "Test laptop");
  expect((await me()).status()).toBe(401);
  await expect(page.locator("#passkey-list .passkey-used")).toHaveText("never used");
  await signOut(page);

  // Sign in with the passkey: no username, no password, no code. The
  // finish is captured to be replayed below.
  let finish: { body: string | null } = { body: null };
  page.on("request", (r) => {
    if (r.url().endsWith("/api/passkey_finish")) finish.body = r.postData();
  });
  const before = await sessionCookie(page);
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.locator(".who")).toContainText(username);
  const after = await sessionCookie(page);
  expect(after).toBeTruthy();
  expect(after).not.toEqual(before);

  // The same answer again is refused: its challenge was used up.
  expect(finish.body).toBeTruthy();
  const replay = await page.request.post("/api/passkey_finish", {
    data: finish.body!,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: `http://localhost:${port}`,
      "sec-fetch-site": "same-origin",
    },
  });
  expect(replay.status()).toBe(400);
  await expect(page.locator(".who")).toContainText(username);

  // Step-up with the passkey: a sensitive action asks, the passkey answers.
  await page.goto("/account/security");
  await waitForHydration(page);
  await expect(page.locator("#passkey-list .passkey-used")).toContainText("last used");
  await page.getByRole("button", { name: "Make new recovery codes" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  const beforeStepUp = await sessionCookie(page);
  await dialog.getByRole("button", { name: "Confirm with your passkey" }).click();
  await expect(page.locator("#recovery-codes code")).toHaveCount(10);
  // A step-up is a re-authentication: the session moved to a new ID.
  expect(await sessionCookie(page)).not.toEqual(beforeStepUp);
  await page.getByRole("button", { name: "I have saved them" }).click();
  // The new ID kept the session's browser and address (issue 27).
  await page.goto("/account/sessions");
  const here = page.locator('.session[data-this-device="true"]');
  await expect(here).toContainText(/Chrom\w* \d+ on Linux/);
  await expect(here).toContainText("from 127.0.0.1");
  await page.goto("/account/security");
  await waitForHydration(page);

  // Removing it (the step-up still holds).
  await page.locator("#passkey-list").getByRole("button", { name: "Remove" }).click();
  await expect(page).toHaveURL(/passkey=removed/);
  await expect(page.locator("#no-passkeys")).toBeVisible();

  // All of it is on the user's activity page.
  await page.goto("/account/activity");
  for (const what of ["Added a passkey", "Signed in with a passkey", "Confirmed it was you with a passkey", "Removed a passkey"]) {
    await expect(page.locator("#activity")).toContainText(what);
  }
});

test("an answer without user verification is refused", async ({ page }) => {
  const { cdp, id } = await virtualAuthenticator(page);
  await userWithTwoStep(page);
  await addPasskey(page, "Key");
  await signOut(page);
  await cdp.send("WebAuthn.setResponseOverrideBits", { authenticatorId: id, isBadUV: true });
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.locator("#passkey-sign-in-error")).toContainText("could not be used");
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login/);
});

test("after the password, the passkey is offered first; cancelling it leaves the code", async ({ page }) => {
  const { cdp, id } = await virtualAuthenticator(page);
  const { username, app } = await userWithTwoStep(page);
  await addPasskey(page, "Phone");
  await signOut(page);

  // The password, then the passkey as the second factor.
  await passwordStep(page, username);
  await waitForHydration(page);
  const pending = await sessionCookie(page);
  await page.getByRole("button", { name: "Use your passkey" }).click();
  await expect(page).toHaveURL(/\/account$/);
  expect(await sessionCookie(page)).not.toEqual(pending);
  await signOut(page);

  // The device has no passkey any more (as if the user cancelled): a
  // clear message, and the code still works.
  await cdp.send("WebAuthn.clearCredentials", { authenticatorId: id });
  await passwordStep(page, username);
  await waitForHydration(page);
  await page.getByRole("button", { name: "Use your passkey" }).click();
  await expect(page.locator("#verify-passkey-error")).toContainText("No passkey was used");
  await page.getByLabel("Code from your authenticator app").fill(app.code());
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/account$/);
});

test("a sign counter that goes backwards is refused (a cloned passkey)", async ({ page }) => {
  const { cdp, id } = await virtualAuthenticator(page);
  await userWithTwoStep(page);
  await addPasskey(page, "Original");
  await signOut(page);
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await signOut(page);

  // The same key with its counter wound back, as a copy of it would be.
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: id });
  expect(credentials).toHaveLength(1);
  const clone = { ...credentials[0], signCount: 0 };
  await cdp.send("WebAuthn.clearCredentials", { authenticatorId: id });
  await cdp.send("WebAuthn.addCredential", { authenticatorId: id, credential: clone });
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.locator("#passkey-sign-in-error")).toContainText("could not be used");
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login/);
});

test("one account's passkey answer is refused for another account's sign-in", async ({ page, browser }) => {
  await virtualAuthenticator(page);
  await userWithTwoStep(page);
  await addPasskey(page, "Alice's");
  await signOut(page);
  let aliceAnswer: string | null = null;
  page.on("request", (r) => {
    if (r.url().endsWith("/api/passkey_finish")) aliceAnswer = r.postData();
  });
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page).toHaveURL(/\/account$/);
  expect(aliceAnswer).toBeTruthy();

  // Bob, with a passkey of his own, is at his second step.
  const bobContext = await browser.newContext({ baseURL: `http://localhost:${port}` });
  const bob = await bobContext.newPage();
  await virtualAuthenticator(bob);
  const { username } = await userWithTwoStep(bob);
  await addPasskey(bob, "Bob's");
  await signOut(bob);
  await passwordStep(bob, username);
  const headers = {
    "content-type": "application/x-www-form-urlencoded",
    origin: `http://localhost:${port}`,
    "sec-fetch-site": "same-origin",
  };
  const begun = await bob.request.post("/api/passkey_begin", { data: "purpose=second_factor", headers });
  expect(begun.status()).toBe(200);
  const answer = aliceAnswer!.replace("purpose=sign_in", "purpose=second_factor");
  const refused = await bob.request.post("/api/passkey_finish", { data: answer, headers });
  expect(refused.status()).toBe(401);
  await bob.goto("/account");
  await expect(bob).toHaveURL(/\/login/);
  await bobContext.close();
});

test("adding a passkey raises an alert, and a password change names the passkeys that still sign in", async ({ page }) => {
  // Review E4: a passkey signs in without the password, so one an attacker
  // added would outlive the victim's password change unannounced.
  await virtualAuthenticator(page);
  await userWithTwoStep(page);
  await addPasskey(page, "Unknown key");
  await page.goto("/account/activity");
  await expect(page.locator("#activity tr").filter({ hasText: "A passkey was added" })).toContainText(
    "Warning A passkey was added: “Unknown key”",
  );

  // The step-up made for the passkey still holds: the change goes through.
  await page.goto("/account/security");
  await waitForHydration(page);
  const newPassword = "Velvet harbour 42 nimbus kite";
  await page.getByLabel("New password", { exact: true }).fill(newPassword);
  await page.getByLabel("Confirm new password").fill(newPassword);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page).toHaveURL(/\/account\/security\?password=changed/);
  const notice = page.locator("#security-notice");
  await expect(notice).toContainText("Your password was changed");
  await expect(notice).toContainText("can still sign in without it");
  await expect(notice).toContainText("“Unknown key”");
  await expect(notice).toContainText("Remove any you do not recognise");
});
