/** Security: every role against every route, from one table (401 without a token, 403 for a wrong role). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, makeHarness, orderInput, PRINCIPALS, type Who } from "../support/harness.js";

let h: Harness;
let orderId: string;

beforeAll(async () => {
  h = await makeHarness();
  const created = await h.call("POST", "/v1/orders", { as: "admin", body: orderInput() });
  orderId = created.body.id;
});
afterAll(() => h.close());

type Role = (typeof PRINCIPALS)[Who];
const ROUTES: {
  method: string;
  path: () => string;
  body?: unknown;
  /** What an allowed role gets here (default: 200, 201, or 404 for the made-up ids). */
  passed?: number[];
  /** A body that is not JSON, with its own `headers` (content type). */
  raw?: string;
  headers?: Record<string, string>;
  allowed: Role[];
}[] = [
  {
    method: "POST",
    path: () => "/v1/check",
    body: { meetingId: "m1", ip: "8.8.8.8" },
    allowed: ["checker", "admin"],
  },
  {
    method: "POST",
    path: () => "/v1/check/batch",
    body: { checks: [{ meetingId: "m1", ip: "8.8.8.8" }] },
    allowed: ["checker", "admin"],
  },
  {
    method: "POST",
    path: () => "/v1/meetings/m1/recheck",
    body: { participants: [{ participantId: "p1", phone: "+74951234567" }] },
    allowed: ["checker", "admin"],
  },
  // A bad cursor: an allowed role passes auth and is told so (400), instead of holding a stream open.
  {
    method: "GET",
    path: () => "/v1/enforcement/events?since=not-a-cursor",
    allowed: ["checker", "admin"],
    passed: [400],
  },
  { method: "POST", path: () => "/v1/orders", body: orderInput(), allowed: ["responder", "admin"] },
  { method: "GET", path: () => "/v1/orders", allowed: ["responder", "approver", "auditor", "admin"] },
  {
    method: "GET",
    path: () => `/v1/orders/${orderId}`,
    allowed: ["responder", "approver", "auditor", "admin"],
  },
  {
    method: "GET",
    path: () => `/v1/orders/${orderId}/audit`,
    allowed: ["responder", "approver", "auditor", "admin"],
  },
  // Transitions on a fresh random id: an allowed role passes auth and gets 404, a refused one 403.
  { method: "POST", path: () => "/v1/orders/ord_missing/approve", body: {}, allowed: ["approver", "admin"] },
  {
    method: "POST",
    path: () => "/v1/orders/ord_missing/reject",
    body: { reason: "no" },
    allowed: ["approver", "admin"],
  },
  {
    method: "POST",
    path: () => "/v1/orders/ord_missing/withdraw",
    body: {},
    allowed: ["responder", "admin"],
  },
  {
    method: "POST",
    path: () => "/v1/orders/ord_missing/amendments",
    body: { changes: { reference: "X" }, reason: "typo" },
    allowed: ["responder", "admin"],
  },
  {
    method: "GET",
    path: () => "/v1/orders/ord_missing/amendments",
    allowed: ["responder", "approver", "auditor", "admin"],
  },
  {
    method: "POST",
    path: () => "/v1/orders/ord_missing/amendments/amd_1/approve",
    body: {},
    allowed: ["approver", "admin"],
  },
  {
    method: "POST",
    path: () => "/v1/orders/ord_missing/amendments/amd_1/reject",
    body: { reason: "no" },
    allowed: ["approver", "admin"],
  },
  { method: "GET", path: () => "/v1/ruleset", allowed: ["responder", "approver", "auditor", "admin"] },
  { method: "GET", path: () => "/v1/decisions", allowed: ["auditor", "admin"] },
  { method: "GET", path: () => "/v1/audit", allowed: ["auditor", "admin"] },
  { method: "GET", path: () => "/v1/reports/2026-H1", allowed: ["auditor", "admin"] },
  { method: "GET", path: () => "/v1/reports", allowed: ["auditor", "admin"] },
  // Not finalized: an allowed role passes auth and is told so (404).
  { method: "GET", path: () => "/v1/reports/2026-H1/manifest", allowed: ["auditor", "admin"] },
  // The harness's clock lies inside 2026-H1: an allowed role passes auth and is told it is too early.
  {
    method: "POST",
    path: () => "/v1/reports/2026-H1/finalize",
    allowed: ["auditor", "admin"],
    passed: [409],
  },
  // An empty delivery: an allowed role passes auth and is told the body is bad (400); others get 403.
  {
    method: "POST",
    path: () => "/v1/decisions/ingest",
    body: { records: [] },
    allowed: ["edge", "admin"],
    passed: [400],
  },
  {
    method: "POST",
    path: () => "/v1/admin/orders/import",
    raw: `${JSON.stringify(orderInput({ createdAt: "2026-02-20T10:00:00Z", createdBy: "asha" }))}\n`,
    headers: { "content-type": "application/x-ndjson" },
    allowed: ["admin"],
  },
];
const ROLES: Role[] = ["checker", "responder", "approver", "auditor", "edge", "admin"];
const whoFor = (role: Role) => (Object.keys(PRINCIPALS) as Who[]).find((w) => PRINCIPALS[w] === role) as Who;

describe.each(ROUTES)("$method $path", (route) => {
  it("answers 401 UNAUTHORIZED without a token", async () => {
    const res = await h.call(route.method, route.path(), {
      body: route.body,
      raw: route.raw,
      headers: route.headers,
    });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("UNAUTHORIZED");
  });

  it("answers 401 UNAUTHORIZED for an unknown token", async () => {
    const res = await h.call(route.method, route.path(), {
      body: route.body,
      raw: route.raw,
      headers: { ...route.headers, authorization: "Bearer not-a-real-token-at-all-000000" },
    });
    expect(res.status).toBe(401);
  });

  it.each(ROLES)("role %s is allowed only where the design says", async (role) => {
    const res = await h.call(route.method, route.path(), {
      as: whoFor(role),
      body: route.body,
      raw: route.raw,
      headers: route.headers,
    });
    if (route.allowed.includes(role)) {
      expect(route.passed ?? [200, 201, 404]).toContain(res.status);
    } else {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("FORBIDDEN");
      expect(res.body.error.message).toContain(role);
    }
  });
});

describe("public routes", () => {
  it.each(["/healthz", "/readyz", "/openapi.json"])("%s needs no token", async (path) => {
    const res = await h.call("GET", path);
    expect(res.status).toBe(200);
  });
});

describe("the access table covers every route", () => {
  it("lists every bearer route of the OpenAPI document, and no route is public but these", async () => {
    const doc = (await h.call("GET", "/openapi.json")).body;
    const guarded: string[] = [];
    const open: string[] = [];
    for (const [path, operations] of Object.entries<Record<string, { security?: unknown[] }>>(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        (op.security?.length ? guarded : open).push(`${method.toUpperCase()} ${path}`);
      }
    }
    // The table's paths with their ids put back as OpenAPI parameters.
    const tabled = ROUTES.map(
      (r) =>
        `${r.method} ${r.path().replace(orderId, "{id}").replace("ord_missing", "{id}").replace("amd_1", "{aid}").replace("2026-H1", "{period}").replace("/meetings/m1/", "/meetings/{meetingId}/").replace(/\?.*$/, "")}`,
    );
    expect(guarded.sort()).toEqual([...new Set(tabled)].sort());
    expect(open.sort()).toEqual(["GET /healthz", "GET /readyz"]);
  });
});
