import { expect, Page } from "@playwright/test";
import * as crypto from "node:crypto";

export const PASSWORD = "Quartz ladle orbit 97 yawn";

let counter = 0;
/** A username no other test uses. */
export function uniqueUsername(prefix = "user"): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${process.pid % 1000}${counter}`;
}

/** A click before hydration is lost: wait for the wasm to take over. */
export async function waitForHydration(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true", { timeout: 15_000 });
}

export async function register(page: Page, username: string) {
  await page.goto("/register");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/login\?registered=1/);
}

export async function signIn(page: Page, username: string) {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/account$/);
}

/** The first step of a sign-in with two-step verification on: the
 *  password, which leads to the second-step page. */
export async function passwordStep(page: Page, username: string) {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/login\/verify$/);
}

/** The session cookie's value in the browser. */
export async function sessionCookie(page: Page): Promise<string | undefined> {
  return (await page.context().cookies()).find((c) => c.name === "__Host-sid")?.value;
}

/** RFC 4648 base32 (the key the security page shows), spaces ignored. */
function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of text.replace(/[\s=]/g, "").toUpperCase()) {
    const value = alphabet.indexOf(ch);
    if (value < 0) throw new Error(`not base32: ${ch}`);
    bits += value.toString(2).padStart(5, "0");
  }
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of `step`, as an authenticator app computes it. */
export function totpAt(base32Key: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac("sha1", base32Decode(base32Key)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, "0");
}

/** Each 30-second step is accepted once per user: the codes of the
 *  current step and the next (the server accepts one step of skew), one
 *  after the other. */
export class Authenticator {
  private used = -1;
  constructor(readonly key: string) {}
  code(): string {
    const now = Math.floor(Date.now() / 1000 / 30);
    const step = Math.max(now, this.used + 1);
    if (step > now + 1) throw new Error("no unused code left in this step; wait 30 s");
    this.used = step;
    return totpAt(this.key, step);
  }
}
