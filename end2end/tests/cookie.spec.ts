import { test, expect } from "@playwright/test";
import { register, signIn, uniqueUsername } from "./helpers";

test("the browser holds the session cookie with the right attributes", async ({ page, baseURL }) => {
  const username = uniqueUsername("cookie");
  await register(page, username);
  const before = Date.now() / 1000;
  await signIn(page, username);

  const cookies = await page.context().cookies();
  const sid = cookies.find((c) => c.name === "__Host-sid");
  expect(sid, "Chromium accepted the __Host- cookie on loopback").toBeDefined();
  expect(sid!.secure).toBe(true);
  expect(sid!.httpOnly).toBe(true);
  expect(sid!.sameSite).toBe("Strict");
  expect(sid!.path).toBe("/");
  expect(sid!.domain).toBe(new URL(baseURL!).hostname); // host-only
  expect(sid!.value).toMatch(/^[A-Za-z0-9_-]{22}$/);
  // Max-Age = the idle timeout (30 minutes).
  expect(sid!.expires).toBeGreaterThan(before + 1800 - 60);
  expect(sid!.expires).toBeLessThan(before + 1800 + 60);
  // No other cookies: nothing for anonymous pages, nothing to fingerprint.
  expect(cookies.map((c) => c.name)).toEqual(["__Host-sid"]);

  // Scripts cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain("__Host-sid");
});
