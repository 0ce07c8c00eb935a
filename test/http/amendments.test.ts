/**
 * Amendments (I7): a change to an order proposed by one person and decided by another; the order keeps
 * its id and takes the changes, its audit history shows proposal and decision, an approved order's new
 * scope is enforced on approval, and the report counts the amended order as one request.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyChain } from "../../src/store/audit.js";
import { PLACES } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness, orderInput, T0, type Who } from "../support/harness.js";

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(() => h.close());

const create = async (overrides: Record<string, unknown> = {}, as: Who = "responder") => {
  const res = await h.call("POST", "/v1/orders", { as, body: orderInput(overrides) });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  return res.body;
};
const propose = (id: string, changes: Record<string, unknown>, as: Who = "responder", reason = "typo") =>
  h.call("POST", `/v1/orders/${id}/amendments`, { as, body: { changes, reason } });
const decide = (
  id: string,
  aid: string,
  how: "approve" | "reject",
  as: Who = "approver",
  body: object = {},
) =>
  h.call("POST", `/v1/orders/${id}/amendments/${aid}/${how}`, {
    as,
    body: how === "reject" ? { reason: "no", ...body } : body,
  });
const check = async (meetingId: string, ip: string = PLACES.mumbai.ip) =>
  (await h.call("POST", "/v1/check", { as: "checker", body: { meetingId, ip } })).body.code;

describe("POST /v1/orders/{id}/amendments", () => {
  it("records a pending amendment that a second person approves: the order keeps its id and takes the changes", async () => {
    const order = await create();
    const proposed = await propose(order.id, { reference: "WP/1235/2026", notes: "served twice" });
    expect(proposed.status).toBe(201);
    expect(proposed.body).toEqual({
      id: "amd_1",
      orderId: order.id,
      status: "pending",
      changes: { reference: "WP/1235/2026", notes: "served twice" },
      reason: "typo",
      proposedBy: "responder",
      proposedAt: new Date(T0).toISOString(),
    });
    const before = (await h.call("GET", `/v1/orders/${order.id}`, { as: "auditor" })).body;
    expect(before).toMatchObject({ reference: "WP/1234/2026", amendments: 1, status: "pending" });
    expect(before.amendmentLog).toBeUndefined();

    h.clock.now = T0 + 60_000;
    const approved = await decide(order.id, "amd_1", "approve", "approver", { note: "checked" });
    expect(approved.status).toBe(200);
    expect(approved.body.amendment).toMatchObject({
      status: "approved",
      decidedBy: "approver",
      decidedAt: new Date(T0 + 60_000).toISOString(),
      note: "checked",
    });
    expect(approved.body.order).toMatchObject({
      id: order.id,
      status: "pending",
      reference: "WP/1235/2026",
      notes: "served twice",
      createdBy: "responder",
      amendments: 1,
    });
    expect((await h.call("GET", `/v1/orders/${order.id}`, { as: "auditor" })).body).toEqual(
      approved.body.order,
    );

    const audit = (await h.call("GET", `/v1/orders/${order.id}/audit`, { as: "auditor" })).body.entries;
    expect(audit.map((e: any) => [e.action, e.actor])).toEqual([
      ["create", "responder"],
      ["propose_amendment", "responder"],
      ["approve_amendment", "approver"],
    ]);
    expect(audit[1].order.amendmentLog[0].status).toBe("pending");
    expect(audit[2].order.reference).toBe("WP/1235/2026");
    expect(verifyChain(await h.store.readAudit({}), { head: await h.store.head() }).ok).toBe(true);
    const list = await h.call("GET", `/v1/orders/${order.id}/amendments`, { as: "auditor" });
    expect(list.body.amendments.map((a: any) => [a.id, a.status])).toEqual([["amd_1", "approved"]]);
  });

  it("refuses its proposer, admin included and in any letter case, with 403 FOUR_EYES", async () => {
    const order = await create({}, "responder2");
    const { body: amendment } = await propose(order.id, { reference: "X" }, "admin");
    for (const how of ["approve", "reject"] as const) {
      const self = await decide(order.id, amendment.id, how, "admin");
      expect(self.status).toBe(403);
      expect(self.body.error.code).toBe("FOUR_EYES");
    }
    expect((await h.call("GET", `/v1/orders/${order.id}`, { as: "auditor" })).body.reference).toBe(
      "WP/1234/2026",
    );
    const rejected = await decide(order.id, amendment.id, "reject", "approver", {
      reason: "not what was served",
    });
    expect(rejected.status).toBe(200);
    expect(rejected.body.amendment).toMatchObject({
      status: "rejected",
      rejectionReason: "not what was served",
    });
    expect(rejected.body.order.reference).toBe("WP/1234/2026");
  });

  it("puts an approved order's wider scope in force on approval, not before", async () => {
    const order = await approvedOrder(h);
    const both = { kind: "meeting", meetingIds: ["81234567890", "555"] };
    const { body: amendment } = await propose(order.id, {
      target: both,
      requested: { jurisdictions: ["IN-MH"], target: both },
    });
    expect(await check("555")).toBe("NO_ORDER");
    const version = (await h.call("GET", "/v1/ruleset", { as: "auditor" })).body.version;
    const approved = await decide(order.id, amendment.id, "approve", "approver2");
    expect(approved.body.order).toMatchObject({
      status: "approved",
      enforcement: "active",
      decidedBy: "approver",
    });
    expect(await check("555")).toBe("BLOCKED");
    expect(await check("81234567890")).toBe("BLOCKED");
    expect((await h.call("GET", "/v1/ruleset", { as: "auditor" })).body.version).toBe(version + 1);
  });

  it("lifts the part of a block an approved amendment narrows", async () => {
    const order = await approvedOrder(h, { jurisdictions: ["IN-MH", "IN-KA"] });
    expect(await check("81234567890")).toBe("BLOCKED");
    const { body: amendment } = await propose(order.id, { jurisdictions: ["IN-KA"] });
    await decide(order.id, amendment.id, "approve");
    expect(await check("81234567890")).toBe("OUTSIDE_JURISDICTION");
    expect(await check("81234567890", PLACES.bengaluru.ip)).toBe("BLOCKED");
  });

  it("takes one pending amendment at a time, and none on a rejected or withdrawn order (409)", async () => {
    const order = await create();
    expect((await propose(order.id, { reference: "A" })).status).toBe(201);
    const second = await propose(order.id, { reference: "B" });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("ILLEGAL_TRANSITION");
    expect(second.body.error.message).toContain("amd_1");
    await decide(order.id, "amd_1", "reject");
    expect((await propose(order.id, { reference: "B" })).status).toBe(201);
    const again = await decide(order.id, "amd_1", "approve");
    expect(again.status).toBe(409);

    const rejected = await create({ reference: "R" });
    await h.call("POST", `/v1/orders/${rejected.id}/reject`, { as: "approver", body: { reason: "no" } });
    expect((await propose(rejected.id, { reference: "S" })).status).toBe(409);
  });

  it("lapses a pending amendment when the order is withdrawn, so it can no longer be approved", async () => {
    const order = await approvedOrder(h);
    const { body: amendment } = await propose(order.id, { effectiveUntil: "2026-12-31T00:00:00Z" });
    h.clock.now = T0 + 1000;
    await h.call("POST", `/v1/orders/${order.id}/withdraw`, { as: "responder", body: { reason: "lifted" } });
    const list = (await h.call("GET", `/v1/orders/${order.id}/amendments`, { as: "auditor" })).body
      .amendments;
    expect(list[0]).toMatchObject({ status: "lapsed", lapsedAt: new Date(T0 + 1000).toISOString() });
    const late = await decide(order.id, amendment.id, "approve");
    expect(late.status).toBe(409);
    expect((await h.call("GET", `/v1/orders/${order.id}`, { as: "auditor" })).body).toMatchObject({
      status: "withdrawn",
    });
  });

  it.each([
    { name: "an unknown field", changes: { priority: "high" }, status: 400, path: "changes" },
    { name: "no field at all", changes: {}, status: 400, path: "changes" },
    {
      name: "a malformed field",
      changes: { jurisdictions: ["Maharashtra"] },
      status: 400,
      path: "changes.jurisdictions.0",
    },
    {
      name: "an end before the start",
      changes: { effectiveFrom: "2026-05-01T00:00:00Z", effectiveUntil: "2026-04-01T00:00:00Z" },
      status: 400,
      path: "changes.effectiveUntil",
    },
    {
      name: "a receivedAt in the future",
      changes: { receivedAt: "2026-03-02T00:00:00Z" },
      status: 400,
      path: "receivedAt",
    },
    {
      name: "a block outside the authority (I1)",
      changes: { jurisdictions: ["PK-PB"], requested: { jurisdictions: ["PK"] } },
      status: 422,
      path: "jurisdictions",
    },
    {
      name: "a block beyond what was requested (I10)",
      changes: { jurisdictions: ["IN-KA"] },
      status: 400,
      path: "changes.jurisdictions.0",
    },
    {
      name: "a bidi override in the notes",
      changes: { notes: "\u202Eevil" },
      status: 400,
      path: "changes.notes",
    },
  ])("refuses $name, naming the field", async ({ changes, status, path }) => {
    const order = await create();
    const res = await propose(order.id, changes);
    expect(res.status).toBe(status);
    expect(res.body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
    expect(
      (await h.call("GET", `/v1/orders/${order.id}/amendments`, { as: "auditor" })).body.amendments,
    ).toEqual([]);
  });

  it("refuses a control character in the reason", async () => {
    const order = await create();
    const res = await propose(order.id, { reference: "X" }, "responder", "typo\u0007");
    expect(res.status).toBe(400);
    expect(res.body.error.issues[0].path).toBe("reason");
  });

  it("removes an optional field named as null, and judges the amended order again when approving", async () => {
    const order = await create({ effectiveUntil: "2026-06-01T00:00:00Z", notes: "x" });
    const { body: amendment } = await propose(order.id, { effectiveUntil: null, notes: null });
    const approved = await decide(order.id, amendment.id, "approve");
    expect(approved.body.order.effectiveUntil).toBeUndefined();
    expect(approved.body.order.notes).toBeUndefined();
  });

  it("answers 404 for an unknown order or amendment", async () => {
    expect((await propose("ord_missing", { reference: "X" })).status).toBe(404);
    expect((await h.call("GET", "/v1/orders/ord_missing/amendments", { as: "auditor" })).status).toBe(404);
    const order = await create();
    expect((await decide(order.id, "amd_9", "approve")).status).toBe(404);
  });
});

describe("the report and amended orders", () => {
  it("counts an amended order once, with its amended fields", async () => {
    h.clock.now = Date.parse("2026-03-10T00:00:00Z");
    const order = await approvedOrder(h, { jurisdictions: ["IN-MH", "IN-KA"], accountType: "pro" });
    const { body: a1 } = await propose(order.id, { jurisdictions: ["IN-MH"], accountType: "business" });
    await decide(order.id, a1.id, "approve");
    const report = (await h.call("GET", "/v1/reports/2026-H1", { as: "auditor" })).body;
    expect(report.requests.total).toBe(1);
    expect(report.dataset).toHaveLength(1);
    expect(report.dataset[0]).toMatchObject({
      blockJurisdictions: ["IN-MH"],
      outcome: "partially_complied",
      accountType: "business",
      completedDate: "2026-03-10",
    });
    expect(report.requests.byAccountType).toEqual({
      business: { complied: 0, partially_complied: 1, shadow: 0, rejected: 0, withdrawn: 0 },
    });
  });
});
