/**
 * Hardening of the API surface (issue 10, hole 7): every API answer says `Cache-Control: no-store`
 * (orders, decisions and errors must not sit in a shared cache), and `/readyz` shows its details (file
 * paths, the Redis address, probes) only to a caller with a valid token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, makeHarness, orderInput } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await makeHarness();
});
afterAll(() => h.close());

describe("Cache-Control: no-store on every API answer", () => {
  it.each([
    ["a check", "POST", "/v1/check", { as: "checker", body: { meetingId: "m1", ip: "8.8.8.8" } }, 200],
    ["a new order", "POST", "/v1/orders", { as: "responder", body: orderInput() }, 201],
    ["the order list", "GET", "/v1/orders", { as: "auditor" }, 200],
    ["a missing token", "GET", "/v1/orders", {}, 401],
    ["a wrong role", "GET", "/v1/orders", { as: "checker" }, 403],
    ["a bad body", "POST", "/v1/check", { as: "checker", body: { meetingId: "m1", ip: "x" } }, 400],
    ["an unknown route", "GET", "/v1/nothing", { as: "auditor" }, 404],
    ["a body too large", "POST", "/v1/check", { as: "checker", raw: "x".repeat(70_000) }, 413],
    ["liveness", "GET", "/healthz", {}, 200],
    ["readiness", "GET", "/readyz", {}, 200],
    ["readiness with details", "GET", "/readyz", { as: "auditor" }, 200],
  ] as const)("%s", async (_name, method, path, opts, status) => {
    const res = await h.call(method, path, opts as never);
    expect(res.status).toBe(status);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});

describe("GET /readyz", () => {
  it("answers only whether it is ready without a token", async () => {
    const res = await h.call("GET", "/readyz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ready: true });
  });

  it("answers only whether it is ready to an unknown token", async () => {
    const res = await h.call("GET", "/readyz", {
      headers: { authorization: "Bearer not-a-real-token-at-all-000000" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ready: true });
  });

  it("shows the details to a valid token of any role", async () => {
    for (const who of ["checker", "auditor"] as const) {
      const res = await h.call("GET", "/readyz", { as: who });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        ready: true,
        ruleset: { loaded: true },
        geo: { databaseType: "GeoIP2-City" },
        checks: [],
      });
    }
  });

  it("keeps 503 for not ready, without details", async () => {
    const loading = await makeHarness({
      geo: { lookup: () => ({ location: null, source: "none", dbVersion: null }), info: () => null },
    });
    try {
      const bare = await loading.call("GET", "/readyz");
      expect(bare.status).toBe(503);
      expect(bare.body).toEqual({ ready: false });
      const detailed = await loading.call("GET", "/readyz", { as: "checker" });
      expect(detailed.status).toBe(503);
      expect(detailed.body).toMatchObject({ ready: false, geo: null });
    } finally {
      await loading.close();
    }
  });
});
