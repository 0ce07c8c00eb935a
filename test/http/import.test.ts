/** POST /v1/admin/orders/import: backfill over HTTP (JSON Lines in, admins only, all or nothing). */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PLACES } from "../support/fixtures.js";
import { type Harness, makeHarness, orderInput, T0, type Who } from "../support/harness.js";

const PATH = "/v1/admin/orders/import";
const NDJSON = { "content-type": "application/x-ndjson" };

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(() => h.close());

/** A historical order, entered by asha and approved by ravi, ended long before the harness's clock. */
const history = (overrides: Record<string, unknown> = {}) =>
  orderInput({
    receivedAt: "2025-02-03T09:00:00Z",
    effectiveUntil: "2025-06-30T00:00:00Z",
    createdAt: "2025-02-03T10:15:00Z",
    createdBy: "asha",
    decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "ravi" },
    ...overrides,
  });
const jsonl = (...lines: unknown[]) => `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;
const checkMumbai = async () =>
  (
    await h.call("POST", "/v1/check", {
      as: "checker",
      body: { meetingId: "81234567890", ip: PLACES.mumbai.ip },
    })
  ).body;
const post = (raw: string, as: Who | null = "admin", headers: Record<string, string> = NDJSON) =>
  h.call("POST", PATH, { as, raw, headers });

describe("POST /v1/admin/orders/import", () => {
  it("imports JSON Lines with their history and answers what it did per line", async () => {
    const res = await post(
      jsonl(
        history(),
        history({
          reference: "WP/2/2025",
          decision: undefined,
          withdrawal: { at: "2025-02-10T00:00:00Z", by: "ravi" },
        }),
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      imported: 2,
      skipped: 0,
      orders: [
        { line: 1, result: "imported" },
        { line: 2, result: "imported" },
      ],
    });
    const [first, second] = res.body.orders;
    const order = await h.call("GET", `/v1/orders/${first.id}`, { as: "auditor" });
    expect(order.body).toMatchObject({
      status: "approved",
      enforcement: "expired",
      createdBy: "asha",
      createdAt: "2025-02-03T10:15:00.000Z",
      decidedBy: "ravi",
      decidedAt: "2025-02-04T08:30:00.000Z",
      importedBy: "admin",
    });
    const audit = await h.call("GET", `/v1/orders/${second.id}/audit`, { as: "auditor" });
    expect(audit.body.entries.map((e: any) => [e.action, e.actor, e.at, e.order.importedBy])).toEqual([
      ["create", "asha", "2025-02-03T10:15:00.000Z", "admin"],
      ["withdraw", "ravi", "2025-02-10T00:00:00.000Z", "admin"],
    ]);
    const ruleset = await h.call("GET", "/v1/ruleset", { as: "auditor" });
    expect(ruleset.body.version).toBe(4);
  });

  it("skips what an earlier import stored", async () => {
    const body = jsonl(history());
    const first = await post(body);
    const again = await post(body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({
      imported: 0,
      skipped: 1,
      orders: [{ line: 1, id: first.body.orders[0].id, result: "skipped" }],
    });
  });

  it("refuses the whole file with 400 naming the bad line, and stores nothing", async () => {
    const res = await post(
      jsonl(
        history(),
        history({ reference: "WP/2/2025", authority: { name: "x", jurisdiction: "IN", kind: "mob" } }),
      ),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("BAD_REQUEST");
    expect(res.body.error.message).toMatch(
      /^1 line cannot be imported; nothing was imported: line 2: authority\.kind/,
    );
    expect(res.body.error.issues).toEqual([{ path: "line 2: authority.kind", message: expect.any(String) }]);
    expect((await h.call("GET", "/v1/orders", { as: "auditor" })).body.orders).toEqual([]);
  });

  it("refuses a decision by the creator (four eyes) on the line it is on", async () => {
    const res = await post(
      jsonl(history({ decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "asha" } })),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([
      { path: "line 1: decision.by", message: expect.stringMatching(/^FOUR_EYES/) },
    ]);
  });

  it("needs a second person other than its importer to approve an imported pending order (I7)", async () => {
    // The hole: an admin imports a pending line naming someone else as its creator, then approves it.
    const res = await post(
      jsonl(history({ createdBy: "resp1", decision: undefined, effectiveUntil: undefined })),
    );
    expect(res.status).toBe(200);
    const id = res.body.orders[0].id;
    const self = await h.call("POST", `/v1/orders/${id}/approve`, { as: "admin", body: {} });
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe("FOUR_EYES");
    expect((await h.call("GET", `/v1/orders/${id}`, { as: "auditor" })).body.status).toBe("pending");
    expect((await checkMumbai()).code).not.toBe("BLOCKED");
    const other = await h.call("POST", `/v1/orders/${id}/approve`, { as: "approver", body: {} });
    expect(other.status).toBe(200);
    expect((await checkMumbai()).code).toBe("BLOCKED");
  });

  it("compares the importer and the creator with an approver case-insensitively", async () => {
    const res = await post(jsonl(history({ createdBy: "Approver", decision: undefined })));
    const id = res.body.orders[0].id;
    const byCreator = await h.call("POST", `/v1/orders/${id}/reject`, {
      as: "approver",
      body: { reason: "x" },
    });
    expect(byCreator.status).toBe(403);
    expect(byCreator.body.error.code).toBe("FOUR_EYES");
  });

  it("lands a line whose block would still be in force as pending, and places its live approval at the historical date", async () => {
    const res = await post(
      jsonl(
        history({
          effectiveUntil: undefined,
          decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "ravi", note: "ok" },
        }),
      ),
    );
    expect(res.status).toBe(200);
    const id = res.body.orders[0].id;
    const landed = (await h.call("GET", `/v1/orders/${id}`, { as: "auditor" })).body;
    expect(landed).toMatchObject({
      status: "pending",
      enforcement: "none",
      importedBy: "admin",
      importedApproval: { at: "2025-02-04T08:30:00.000Z", by: "ravi", note: "ok" },
    });
    expect(landed.decidedAt).toBeUndefined();
    expect((await checkMumbai()).code).not.toBe("BLOCKED");

    expect((await h.call("POST", `/v1/orders/${id}/approve`, { as: "admin", body: {} })).status).toBe(403);
    const approved = await h.call("POST", `/v1/orders/${id}/approve`, { as: "approver", body: {} });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({
      status: "approved",
      enforcement: "active",
      decidedBy: "ravi",
      decidedAt: "2025-02-04T08:30:00.000Z",
      note: "ok",
      confirmation: { by: "approver", at: new Date(T0).toISOString() },
    });
    expect((await checkMumbai()).code).toBe("BLOCKED");
    const audit = await h.call("GET", `/v1/orders/${id}/audit`, { as: "auditor" });
    expect(audit.body.entries.map((e: any) => [e.action, e.actor, e.at])).toEqual([
      ["create", "asha", "2025-02-03T10:15:00.000Z"],
      ["approve", "approver", new Date(T0).toISOString()],
    ]);
    // The report counts it where it was decided, not when it was confirmed.
    const report = await h.call("GET", "/v1/reports/2025-H1", { as: "auditor" });
    expect(report.body.requests.byJurisdiction.IN.complied).toBe(1);
    expect(report.body.dataset[0]).toMatchObject({ completedDate: "2025-02-04" });
  });

  it("refuses a history completed in a finalized period, and the live confirmation of one (I9)", async () => {
    const inForce = await post(jsonl(history({ effectiveUntil: undefined })));
    expect(inForce.status).toBe(200);
    const id = inForce.body.orders[0].id;
    expect((await h.call("POST", "/v1/reports/2025-H1/finalize", { as: "auditor" })).status).toBe(200);

    const confirm = await h.call("POST", `/v1/orders/${id}/approve`, { as: "approver", body: {} });
    expect(confirm.status).toBe(409);
    expect(confirm.body.error.message).toMatch(/finalized period/);
    expect((await h.call("GET", `/v1/orders/${id}`, { as: "auditor" })).body.status).toBe("pending");
    // Rejecting it stays possible: that completes it now, in an open period.
    expect(
      (await h.call("POST", `/v1/orders/${id}/reject`, { as: "approver", body: { reason: "too late" } }))
        .status,
    ).toBe(200);

    const late = await post(jsonl(history({ reference: "WP/9/2025" })));
    expect(late.status).toBe(400);
    expect(JSON.stringify(late.body.error.issues)).toMatch(/line 1.*finalized period/);
    // A history completed after the period is still welcome.
    const open = await post(
      jsonl(
        history({
          reference: "WP/10/2025",
          receivedAt: "2025-08-01T09:00:00Z",
          createdAt: "2025-08-01T10:00:00Z",
          effectiveUntil: "2025-09-01T00:00:00Z",
          decision: { status: "approved", at: "2025-08-02T08:00:00Z", by: "ravi" },
        }),
      ),
    );
    expect(open.status).toBe(200);
  });

  it.each([
    ["stated", true],
    ["streamed", false],
  ])("answers 413 above 1 MiB (length %s)", async (_, stated) => {
    const line = `${JSON.stringify(history({ notes: "x".repeat(3000) }))}\n`;
    const raw = line.repeat(Math.ceil((1024 * 1024 + 1) / line.length));
    const res = await post(raw, "admin", {
      ...NDJSON,
      ...(stated ? { "content-length": String(Buffer.byteLength(raw)) } : {}),
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("takes a body just under 1 MiB", async () => {
    const lines = Array.from({ length: 300 }, (_, i) =>
      history({ reference: `WP/${i}/2025`, notes: "x".repeat(3000) }),
    );
    const raw = jsonl(...lines);
    expect(raw.length).toBeGreaterThan(64 * 1024);
    expect(raw.length).toBeLessThan(1024 * 1024);
    const res = await post(raw);
    expect(res.status).toBe(200);
    expect(res.body.imported).toBe(300);
  });

  it.each(["application/json", "text/plain", "application/x-ndjsonx"])(
    "answers 415 for Content-Type %s",
    async (type) => {
      const res = await post(jsonl(history()), "admin", { "content-type": type });
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
      expect(res.body.error.message).toContain("application/x-ndjson");
    },
  );

  it("answers 415 without a Content-Type", async () => {
    const res = await h.app.request(PATH, {
      method: "POST",
      headers: { authorization: "Bearer test-secret-for-admin-0123456789" },
    });
    expect(res.status).toBe(415);
  });

  it("accepts a charset parameter", async () => {
    const res = await post(jsonl(history()), "admin", {
      "content-type": "application/x-ndjson; charset=utf-8",
    });
    expect(res.status).toBe(200);
  });

  it("leaves the JSON routes refusing JSON Lines", async () => {
    const res = await h.call("POST", "/v1/orders", {
      as: "responder",
      raw: jsonl(orderInput()),
      headers: NDJSON,
    });
    expect(res.status).toBe(415);
  });

  it("answers 401 without a token and 403 for every role but admin", async () => {
    const body = jsonl(history());
    expect((await post(body, null)).status).toBe(401);
    for (const who of ["checker", "responder", "approver", "auditor"] as const) {
      const res = await post(body, who);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("FORBIDDEN");
    }
    expect((await h.call("GET", "/v1/orders", { as: "auditor" })).body.orders).toEqual([]);
  });

  it("is documented in the OpenAPI document with its line format", async () => {
    const doc = (await h.call("GET", "/openapi.json")).body;
    const op = doc.paths[PATH].post;
    expect(op.requestBody.content["application/x-ndjson"].schema).toEqual({
      $ref: "#/components/schemas/ImportedOrder",
    });
    expect(Object.keys(op.responses).sort()).toEqual(["200", "400", "401", "403", "413", "415", "429"]);
    expect(Object.keys(doc.components.schemas.ImportedOrder.properties)).toEqual(
      expect.arrayContaining(["reference", "createdAt", "createdBy", "decision", "withdrawal"]),
    );
    expect(doc.components.schemas.Order.properties.importedBy).toBeDefined();
  });
});
