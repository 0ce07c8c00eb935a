/** GET / sends a browser to the console (issue 15: it was a JSON 404, and nothing named the address). */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, makeHarness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await makeHarness();
});
afterAll(() => h.close());

it("redirects GET / to the console, which then offers its sign-in", async () => {
  const res = await h.app.request("/");
  expect(res.status).toBe(302);
  expect(res.headers.get("location")).toBe("/console");
  const console = await h.app.request("/console");
  expect([200, 302, 303]).toContain(console.status);
  if (console.status !== 200) expect(console.headers.get("location")).toMatch(/^\/console\/sign-in/);
});

it("leaves other unknown paths a JSON 404", async () => {
  const res = await h.app.request("/nope");
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
});
