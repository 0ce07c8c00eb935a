/**
 * The README's tour says what the API answers when the person who entered an order tries to approve it
 * (issue 15: it claimed FOUR_EYES where a responder gets FORBIDDEN). Both answers, checked on the app.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, makeHarness, orderInput } from "./support/harness.js";
import { ROOT } from "./support/server.js";

let h: Harness;
beforeAll(async () => {
  h = await makeHarness();
});
afterAll(() => h.close());

it("says what the API answers: FORBIDDEN to the responder who entered it, FOUR_EYES to an admin", async () => {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const step = readme.slice(readme.indexOf("# 2. "), readme.indexOf("# 3. "));
  expect(step).toMatch(/responder who entered it would get 403 FORBIDDEN/);
  expect(step).toMatch(/admin .* gets 403 FOUR_EYES/s);
  expect(step).not.toMatch(/creator would get 403 FOUR_EYES/);

  const byResponder = await h.call("POST", "/v1/orders", { as: "responder", body: orderInput() });
  const responderTries = await h.call("POST", `/v1/orders/${byResponder.body.id}/approve`, {
    as: "responder",
    body: {},
  });
  expect(responderTries.status).toBe(403);
  expect(responderTries.body.error.code).toBe("FORBIDDEN");

  const byAdmin = await h.call("POST", "/v1/orders", { as: "admin", body: orderInput() });
  const adminTries = await h.call("POST", `/v1/orders/${byAdmin.body.id}/approve`, { as: "admin", body: {} });
  expect(adminTries.status).toBe(403);
  expect(adminTries.body.error.code).toBe("FOUR_EYES");
});
