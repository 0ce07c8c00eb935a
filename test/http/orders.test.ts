/** The response team's routes: orders, four eyes, the life cycle, audit, ruleset (I1, I3, I7). */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, makeHarness, orderInput, T0 } from "../support/harness.js";

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(() => h.close());

const create = (
  overrides: Record<string, unknown> = {},
  as: "responder" | "responder2" | "admin" = "responder",
) => h.call("POST", "/v1/orders", { as, body: orderInput(overrides) });

describe("POST /v1/orders", () => {
  it("stores a pending order with who entered it and when", async () => {
    const res = await create({ notes: "served by e-mail" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: "pending",
      enforcement: "none",
      mode: "enforce",
      createdBy: "responder",
      createdAt: new Date(T0).toISOString(),
      reference: "WP/1234/2026",
      jurisdictions: ["IN-MH"],
      notes: "served by e-mail",
    });
    expect(res.body.id).toMatch(/^ord_[0-9a-f]{20}$/);
    const read = await h.call("GET", `/v1/orders/${res.body.id}`, { as: "auditor" });
    expect(read.body).toEqual(res.body);
  });

  it("refuses a block jurisdiction outside the authority's with 422 JURISDICTION_OUTSIDE_AUTHORITY (I1)", async () => {
    const res = await create({
      authority: { name: "Mumbai police", jurisdiction: "IN-MH", kind: "police" },
      jurisdictions: ["IN"],
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("JURISDICTION_OUTSIDE_AUTHORITY");
    expect(res.body.error.message).toContain("IN");
    const other = await create({ jurisdictions: ["IN-MH", "PK-PB"] });
    expect(other.status).toBe(422);
    expect(other.body.error.message).toContain("PK-PB");
    expect((await h.call("GET", "/v1/orders", { as: "auditor" })).body.orders).toHaveLength(0);
  });
});

describe("the order life cycle", () => {
  it("lets a second person approve, and refuses the creator with 403 FOUR_EYES", async () => {
    const { body: order } = await create({}, "admin");
    const self = await h.call("POST", `/v1/orders/${order.id}/approve`, { as: "admin", body: {} });
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe("FOUR_EYES");
    const other = await h.call("POST", `/v1/orders/${order.id}/approve`, {
      as: "approver",
      body: { note: "checked scope" },
    });
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({
      status: "approved",
      enforcement: "active",
      decidedBy: "approver",
      note: "checked scope",
    });
  });

  it("approves without a body", async () => {
    const { body: order } = await create();
    const res = await h.app.request(`/v1/orders/${order.id}/approve`, {
      method: "POST",
      headers: { authorization: "Bearer test-secret-for-approver-0123456789" },
    });
    expect(res.status).toBe(200);
  });

  it("shows a future effectiveFrom as scheduled", async () => {
    const { body: order } = await create({ effectiveFrom: "2026-04-01T00:00:00Z" });
    const res = await h.call("POST", `/v1/orders/${order.id}/approve`, { as: "approver", body: {} });
    expect(res.body.enforcement).toBe("scheduled");
    h.clock.now = Date.parse("2026-04-01T00:00:00Z");
    expect((await h.call("GET", `/v1/orders/${order.id}`, { as: "auditor" })).body.enforcement).toBe(
      "active",
    );
  });

  it("rejects with a reason, and needs one", async () => {
    const { body: order } = await create();
    const noReason = await h.call("POST", `/v1/orders/${order.id}/reject`, { as: "approver", body: {} });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.issues[0].path).toBe("reason");
    const res = await h.call("POST", `/v1/orders/${order.id}/reject`, {
      as: "approver",
      body: { reason: "overbroad" },
    });
    expect(res.body).toMatchObject({ status: "rejected", reason: "overbroad", decidedBy: "approver" });
  });

  it.each([
    ["approve", "approved", {}],
    ["approve", "rejected", {}],
    ["approve", "withdrawn", {}],
    ["reject", "approved", { reason: "x" }],
    ["reject", "withdrawn", { reason: "x" }],
    ["withdraw", "rejected", {}],
    ["withdraw", "withdrawn", {}],
  ] as const)("answers 409 ILLEGAL_TRANSITION to %s on an order that is %s", async (action, status, body) => {
    const { body: order } = await create();
    if (status === "approved")
      await h.call("POST", `/v1/orders/${order.id}/approve`, { as: "approver", body: {} });
    if (status === "rejected")
      await h.call("POST", `/v1/orders/${order.id}/reject`, { as: "approver", body: { reason: "r" } });
    if (status === "withdrawn")
      await h.call("POST", `/v1/orders/${order.id}/withdraw`, { as: "responder", body: {} });
    const as = action === "withdraw" ? "responder" : "approver2";
    const res = await h.call("POST", `/v1/orders/${order.id}/${action}`, { as, body });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("ILLEGAL_TRANSITION");
    expect(res.body.error.message).toContain(status);
  });

  it("withdraws from pending and from approved", async () => {
    const { body: pending } = await create();
    const w1 = await h.call("POST", `/v1/orders/${pending.id}/withdraw`, { as: "responder2", body: {} });
    expect(w1.body).toMatchObject({ status: "withdrawn", withdrawnBy: "responder2" });
    const { body: other } = await create();
    await h.call("POST", `/v1/orders/${other.id}/approve`, { as: "approver", body: {} });
    const w2 = await h.call("POST", `/v1/orders/${other.id}/withdraw`, {
      as: "responder",
      body: { reason: "lifted by court" },
    });
    expect(w2.body).toMatchObject({ status: "withdrawn", enforcement: "none", reason: "lifted by court" });
  });

  it("answers 404 for an unknown order on every order route", async () => {
    for (const [method, path, as, body] of [
      ["GET", "/v1/orders/ord_nope", "auditor", undefined],
      ["GET", "/v1/orders/ord_nope/audit", "auditor", undefined],
      ["POST", "/v1/orders/ord_nope/approve", "approver", {}],
      ["POST", "/v1/orders/ord_nope/reject", "approver", { reason: "r" }],
      ["POST", "/v1/orders/ord_nope/withdraw", "responder", {}],
    ] as const) {
      const res = await h.call(method, path, { as, body });
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe("NOT_FOUND");
    }
  });

  it("lets only one of many concurrent approvals through", async () => {
    const { body: order } = await create();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.call("POST", `/v1/orders/${order.id}/approve`, { as: i % 2 ? "approver" : "approver2", body: {} }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
  });
});

describe("GET /v1/orders", () => {
  it("filters by status, enforcement, jurisdiction, meeting and reference text", async () => {
    const a = (await create({ reference: "MH-ALPHA" })).body;
    const b = (
      await create({
        reference: "RU-BETA",
        authority: { name: "RKN", jurisdiction: "RU", kind: "regulator" },
        jurisdictions: ["RU"],
        target: { kind: "meeting", meetingIds: ["777"] },
      })
    ).body;
    await h.call("POST", `/v1/orders/${b.id}/approve`, { as: "approver", body: {} });
    const ids = async (query: string) =>
      (await h.call("GET", `/v1/orders${query}`, { as: "auditor" })).body.orders.map((o: any) => o.id);
    expect(await ids("")).toEqual([a.id, b.id]);
    expect(await ids("?status=pending")).toEqual([a.id]);
    expect(await ids("?enforcement=active")).toEqual([b.id]);
    expect(await ids("?jurisdiction=IN")).toEqual([a.id]);
    expect(await ids("?jurisdiction=IN-MH")).toEqual([a.id]);
    expect(await ids("?jurisdiction=IN-KA")).toEqual([a.id]); // the authority (IN) contains IN-KA
    expect(await ids("?meetingId=777")).toEqual([b.id]);
    expect(await ids("?q=alpha")).toEqual([a.id]);
  });

  it("refuses unknown filters and bad values with 400 naming the parameter", async () => {
    for (const query of ["?status=open", "?jurisdiction=XX", "?colour=red"]) {
      const res = await h.call("GET", `/v1/orders${query}`, { as: "auditor" });
      expect(res.status, query).toBe(400);
      expect(res.body.error.issues[0].path).toMatch(/^query\./);
    }
  });
});

describe("audit and ruleset", () => {
  it("keeps every change in the order's audit history, hash-chained", async () => {
    const { body: order } = await create();
    await h.call("POST", `/v1/orders/${order.id}/approve`, { as: "approver", body: {} });
    await h.call("POST", `/v1/orders/${order.id}/withdraw`, { as: "responder", body: {} });
    const res = await h.call("GET", `/v1/orders/${order.id}/audit`, { as: "responder" });
    expect(res.body.entries.map((e: any) => [e.action, e.actor, e.order.status])).toEqual([
      ["create", "responder", "pending"],
      ["approve", "approver", "approved"],
      ["withdraw", "responder", "withdrawn"],
    ]);
    const [e1, e2, e3] = res.body.entries;
    expect(e2.prevHash).toBe(e1.hash);
    expect(e3.prevHash).toBe(e2.hash);
    const all = await h.call("GET", "/v1/audit?after=1&limit=1", { as: "auditor" });
    expect(all.body.entries.map((e: any) => e.seq)).toEqual([2]);
    expect(all.body.next).toBe(2);
  });

  it("recompiles the ruleset on every change: version follows the store, hash follows enforcement", async () => {
    const r0 = (await h.call("GET", "/v1/ruleset", { as: "auditor" })).body;
    expect(r0).toMatchObject({ version: 0, orders: 0, meetings: 0, accounts: 0 });
    const { body: order } = await create({ target: { kind: "meeting", meetingIds: ["1", "2"] } });
    const r1 = (await h.call("GET", "/v1/ruleset", { as: "auditor" })).body;
    expect(r1.version).toBe(1);
    expect(r1.hash).toBe(r0.hash); // a pending order enforces nothing
    await h.call("POST", `/v1/orders/${order.id}/approve`, { as: "approver", body: {} });
    const r2 = (await h.call("GET", "/v1/ruleset", { as: "auditor" })).body;
    expect(r2).toMatchObject({ version: 2, orders: 1, meetings: 2, accounts: 0 });
    expect(r2.hash).not.toBe(r1.hash);
  });
});

describe("operations", () => {
  it("reports readiness with the geo database type and build date", async () => {
    const res = await h.call("GET", "/readyz", { as: "auditor" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ready: true,
      ruleset: { loaded: true, version: 0 },
      geo: { databaseType: "GeoIP2-City", buildDate: "2026-11-24T00:00:00.000Z", subdivisions: true },
    });
  });

  it("is not ready (503) while no geo database is loaded, and still live", async () => {
    const loading = await makeHarness({
      geo: { lookup: () => ({ location: null, source: "none", dbVersion: null }), info: () => null },
    });
    try {
      const res = await loading.call("GET", "/readyz", { as: "checker" });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ ready: false, geo: null, ruleset: { loaded: true } });
      expect((await loading.call("GET", "/healthz")).status).toBe(200);
    } finally {
      await loading.close();
    }
  });

  it("publishes an OpenAPI 3.1 document listing every route", async () => {
    const res = await h.call("GET", "/openapi.json");
    expect(res.body.openapi).toBe("3.1.0");
    expect(Object.keys(res.body.paths).sort()).toEqual(
      [
        "/healthz",
        "/readyz",
        "/v1/admin/orders/import",
        "/v1/audit",
        "/v1/check",
        "/v1/check/batch",
        "/v1/meetings/{meetingId}/recheck",
        "/v1/decisions",
        "/v1/decisions/ingest",
        "/v1/enforcement/events",
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/orders/{id}/amendments",
        "/v1/orders/{id}/amendments/{aid}/approve",
        "/v1/orders/{id}/amendments/{aid}/reject",
        "/v1/orders/{id}/approve",
        "/v1/orders/{id}/audit",
        "/v1/orders/{id}/reject",
        "/v1/orders/{id}/withdraw",
        "/v1/reports",
        "/v1/reports/{period}",
        "/v1/reports/{period}/finalize",
        "/v1/reports/{period}/manifest",
        "/v1/ruleset",
      ].sort(),
    );
    expect(res.body.components.schemas.Decision.properties.code).toBeDefined();
    expect(res.body.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("answers unknown routes with the error envelope", async () => {
    const res = await h.call("GET", "/v2/nothing");
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "NOT_FOUND" });
    expect(res.body.error.requestId).toBeTruthy();
  });
});

describe("what the authority asked and what was granted (I10)", () => {
  const police = { name: "Mumbai police", jurisdiction: "IN-MH", kind: "police" };

  it("records a request reaching beyond the authority's jurisdiction as asked, and grants only inside it", async () => {
    const res = await create({
      authority: police,
      jurisdictions: ["IN-MH"],
      requested: { jurisdictions: ["IN", "PK"] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      jurisdictions: ["IN-MH"],
      requested: { jurisdictions: ["IN", "PK"], target: { kind: "meeting", meetingIds: ["81234567890"] } },
    });
  });

  it("records the granted scope as the request when none is given", async () => {
    const res = await create();
    expect(res.body.requested).toEqual({
      jurisdictions: ["IN-MH"],
      target: { kind: "meeting", meetingIds: ["81234567890"] },
    });
  });

  it.each([
    {
      name: "a block not inside what was asked",
      requested: { jurisdictions: ["IN-KA"] },
      path: "jurisdictions.0",
    },
    {
      name: "a meeting that was not asked for",
      requested: { jurisdictions: ["IN"], target: { kind: "meeting", meetingIds: ["999"] } },
      path: "target.meetingIds.0",
    },
    {
      name: "accounts where meetings were asked for",
      requested: { jurisdictions: ["IN"], target: { kind: "account", accountIds: ["acct_1"] } },
      path: "target.kind",
    },
    {
      name: "a malformed requested code",
      requested: { jurisdictions: ["India"] },
      path: "requested.jurisdictions.0",
    },
    {
      name: "an unknown field in the request",
      requested: { jurisdictions: ["IN"], why: "x" },
      path: "requested",
    },
  ])("refuses to grant $name with 400 naming the field", async ({ requested, path }) => {
    const res = await create({ requested });
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
  });

  it("stores the rejection's reason code, `other` by default, and refuses an unknown one", async () => {
    const a = (await create()).body;
    const coded = await h.call("POST", `/v1/orders/${a.id}/reject`, {
      as: "approver",
      body: { reason: "not our service", reasonCode: "invalid_service" },
    });
    expect(coded.status).toBe(200);
    expect(coded.body).toMatchObject({ status: "rejected", reasonCode: "invalid_service" });
    const b = (await create({ reference: "B" })).body;
    const plain = await h.call("POST", `/v1/orders/${b.id}/reject`, {
      as: "approver",
      body: { reason: "no" },
    });
    expect(plain.body.reasonCode).toBe("other");
    const c = (await create({ reference: "C" })).body;
    const bad = await h.call("POST", `/v1/orders/${c.id}/reject`, {
      as: "approver",
      body: { reason: "no", reasonCode: "because" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe("reasonCode");
  });

  it("reports an order granted for less than was asked as partially complied", async () => {
    h.clock.now = Date.parse("2026-03-10T00:00:00Z");
    const partial = (await create({ authority: police, requested: { jurisdictions: ["IN"] } })).body;
    await h.call("POST", `/v1/orders/${partial.id}/approve`, { as: "approver", body: {} });
    const full = (await create({ reference: "FULL" })).body;
    await h.call("POST", `/v1/orders/${full.id}/approve`, { as: "approver", body: {} });
    const report = await h.call("GET", "/v1/reports/2026-H1", { as: "auditor" });
    expect(report.body.requests.byJurisdiction).toMatchObject({
      IN: { complied: 1 },
      "IN-MH": { partially_complied: 1, complied: 0 },
    });
    expect(report.body.dataset.map((r: { outcome: string }) => r.outcome).sort()).toEqual([
      "complied",
      "partially_complied",
    ]);
  });
});

describe("when an order was received", () => {
  it("refuses a receivedAt in the future with 400 naming the field", async () => {
    const res = await create({ receivedAt: new Date(T0 + 60_000).toISOString() });
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([{ path: "receivedAt", message: expect.stringMatching(/future/) }]);
    expect((await create({ receivedAt: new Date(T0).toISOString() })).status).toBe(201);
  });
});

describe("free text (control and bidi characters)", () => {
  // An authority stored as "\u202Elive" renders as "evil" in the console.
  const bad = ["\u202Eevil", "a\u2066b", "x\u200Fy", "bell\u0007", "c1\u0085", "del\u007F"];

  it.each(bad)("refuses %j in the authority's name and the reference", async (text) => {
    const name = await create({ authority: { name: text, jurisdiction: "IN", kind: "court" } });
    expect(name.status).toBe(400);
    expect(name.body.error.issues[0].path).toBe("authority.name");
    const reference = await create({ reference: text });
    expect(reference.status).toBe(400);
    expect(reference.body.error.issues[0].path).toBe("reference");
  });

  it("refuses a line break in single-line text, and takes newlines and tabs in notes", async () => {
    expect((await create({ reference: "WP/1\n2" })).status).toBe(400);
    expect((await create({ notes: "first line\r\nsecond\tline" })).status).toBe(201);
    const notes = await create({ notes: "served \u202Eby e-mail" });
    expect(notes.status).toBe(400);
    expect(notes.body.error.issues[0].path).toBe("notes");
  });

  it.each([
    ["approve", { note: "ok\u202E" }, "note"],
    ["reject", { reason: "no\u2067" }, "reason"],
    ["withdraw", { reason: "lifted\u0000" }, "reason"],
  ] as const)("refuses it in the %s body", async (action, body, path) => {
    const { body: order } = await create();
    const as = action === "withdraw" ? "responder" : "approver";
    const res = await h.call("POST", `/v1/orders/${order.id}/${action}`, { as, body });
    expect(res.status).toBe(400);
    expect(res.body.error.issues[0].path).toBe(path);
  });
});
