// `cargo leptos end-to-end` starts the server and this test command at the
// same time: wait until the server answers before any test runs.
export default async function globalSetup() {
  const address = process.env.LEPTOS_SITE_ADDR ?? "127.0.0.1:3000";
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`http://${address}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the server at ${address} did not start`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
