// Servers with short session timeouts, started by playwright.config.ts.
export const SHORT_ADDRESS = process.env.E2E_SHORT_ADDRESS ?? "127.0.0.1:3101"; // idle 30 s, warn 20 s
export const ABSOLUTE_ADDRESS = process.env.E2E_ABSOLUTE_ADDRESS ?? "127.0.0.1:3102"; // absolute 30 s
export const SHORT_URL = `http://${SHORT_ADDRESS}`;
export const ABSOLUTE_URL = `http://${ABSOLUTE_ADDRESS}`;
