/**
 * Amendments as pure transitions: where they may be proposed, four eyes on their decision, what the
 * order becomes on approval, lapsing with the order, and the request recorded as it stood (I10).
 */
import { describe, expect, it } from "vitest";
import {
  type AmendmentChanges,
  createOrder,
  decideAmendment,
  grantedLessThanRequested,
  type Order,
  OrderInput,
  type OrderStatus,
  proposeAmendment,
  transition,
} from "../../src/engine/index.js";
import { HOUR, iso, NOON, orderInput } from "../support/fixtures.js";
import { ruleCode } from "./rule-code.js";

const AT = iso(NOON);

function order(status: OrderStatus = "pending", overrides: Record<string, unknown> = {}): Order {
  const created = createOrder(OrderInput.parse(orderInput(overrides)), {
    id: "ord-1",
    actor: "responder-1",
    at: iso(NOON - 2 * HOUR),
  });
  const at = iso(NOON - HOUR);
  switch (status) {
    case "pending":
      return created;
    case "approved":
      return transition(created, { type: "approve" }, "approver-1", at);
    case "rejected":
      return transition(created, { type: "reject", reason: "no" }, "approver-1", at);
    case "withdrawn":
      return transition(created, { type: "withdraw" }, "responder-1", at);
  }
}

const propose = (o: Order, changes: AmendmentChanges, actor = "responder-2") =>
  proposeAmendment(o, { changes, reason: "typo" }, actor, AT);

describe("proposeAmendment", () => {
  it.each([
    ["pending", undefined],
    ["approved", undefined],
    ["rejected", "ILLEGAL_TRANSITION"],
    ["withdrawn", "ILLEGAL_TRANSITION"],
  ] as const)("on a %s order gives %s", (status, code) => {
    expect(ruleCode(() => propose(order(status), { reference: "X" }))).toBe(code);
  });

  it("takes one pending amendment at a time and leaves the order's fields as they are", () => {
    const proposed = propose(order(), { reference: "X" });
    expect(proposed.reference).toBe("WP/1234/2026");
    expect(proposed.amendmentLog).toMatchObject([
      { id: "amd_1", status: "pending", proposedBy: "responder-2" },
    ]);
    expect(ruleCode(() => propose(proposed, { reference: "Y" }))).toBe("ILLEGAL_TRANSITION");
  });

  it("judges the amended order as a whole: I1 (422) and the cross-field rules (400 naming the change)", () => {
    expect(
      ruleCode(() => propose(order(), { jurisdictions: ["PK-PB"], requested: { jurisdictions: ["PK"] } })),
    ).toBe("JURISDICTION_OUTSIDE_AUTHORITY");
    let caught: unknown;
    try {
      propose(order("pending", { effectiveFrom: "2026-04-01T00:00:00Z" }), {
        effectiveUntil: "2026-03-15T00:00:00Z",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "BAD_REQUEST", issues: [{ path: "changes.effectiveUntil" }] });
    expect(ruleCode(() => propose(order(), { receivedAt: iso(NOON + 1) }))).toBe("BAD_REQUEST");
  });
});

describe("decideAmendment", () => {
  const pendingAmendment = () => propose(order("approved"), { jurisdictions: ["IN-MH"], notes: "n" }, "Bob");

  it.each([{ type: "approve" as const }, { type: "reject" as const, reason: "no" }])(
    "refuses its proposer, whatever the letter case, to $type it (FOUR_EYES)",
    (decision) => {
      expect(ruleCode(() => decideAmendment(pendingAmendment(), "amd_1", decision, "bob", AT))).toBe(
        "FOUR_EYES",
      );
    },
  );

  it("lets another person approve: the order keeps its id, status and decision, and takes the changes", () => {
    const before = pendingAmendment();
    const after = decideAmendment(before, "amd_1", { type: "approve", note: "ok" }, "carol", AT);
    expect(after).toMatchObject({
      id: before.id,
      status: "approved",
      decidedBy: before.decidedBy,
      decidedAt: before.decidedAt,
      notes: "n",
    });
    expect(after.amendmentLog?.[0]).toMatchObject({ status: "approved", decidedBy: "carol", note: "ok" });
    expect(ruleCode(() => decideAmendment(after, "amd_1", { type: "approve" }, "dave", AT))).toBe(
      "ILLEGAL_TRANSITION",
    );
  });

  it("adds and removes exemptions, and changes the action, only through an approved amendment", () => {
    const approved = order("approved");
    expect(approved.exemptAccountIds).toBeUndefined();
    const proposed = propose(approved, { exemptAccountIds: ["acct_diplomat"], action: "prevent_hosting" });
    // Proposed is not in force: the order is unchanged until a second person approves.
    expect(proposed.exemptAccountIds).toBeUndefined();
    expect(proposed.action).toBe("geoblock");
    expect(ruleCode(() => decideAmendment(proposed, "amd_1", { type: "approve" }, "responder-2", AT))).toBe(
      "FOUR_EYES",
    );
    const added = decideAmendment(proposed, "amd_1", { type: "approve" }, "carol", AT);
    expect(added).toMatchObject({ exemptAccountIds: ["acct_diplomat"], action: "prevent_hosting" });
    const removal = propose(added, { exemptAccountIds: null });
    const removed = decideAmendment(removal, "amd_2", { type: "approve" }, "carol", AT);
    expect(removed.exemptAccountIds).toBeUndefined();
    expect(removed.action).toBe("prevent_hosting");
  });

  it("refuses an amendment that would exempt an account the order targets", () => {
    const accountOrder = order("approved", { target: { kind: "account", accountIds: ["acct_a"] } });
    let caught: unknown;
    try {
      propose(accountOrder, { exemptAccountIds: ["acct_a"] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "BAD_REQUEST", issues: [{ path: "changes.exemptAccountIds.0" }] });
  });

  it("leaves the order as it was when rejected", () => {
    const before = pendingAmendment();
    const after = decideAmendment(before, "amd_1", { type: "reject", reason: "no" }, "carol", AT);
    const { amendmentLog: _a, ...fields } = after;
    const { amendmentLog: _b, ...was } = before;
    expect(fields).toEqual(was);
    expect(after.amendmentLog?.[0]).toMatchObject({ status: "rejected", rejectionReason: "no" });
  });

  it.each([
    ["withdrawn", { type: "withdraw" as const }],
    ["rejected", { type: "reject" as const, reason: "no" }],
  ])("lapses a pending amendment when the order is %s", (_, action) => {
    const proposed = propose(order(), { reference: "X" });
    const closed = transition(proposed, action, "approver-1", AT);
    expect(closed.amendmentLog?.[0]).toMatchObject({ status: "lapsed", lapsedAt: AT });
    expect(ruleCode(() => decideAmendment(closed, "amd_1", { type: "approve" }, "carol", AT))).toBe(
      "ILLEGAL_TRANSITION",
    );
  });

  it("keeps the request as it stood, so a narrowing shows as granted for less (I10)", () => {
    const wide = order("approved", { jurisdictions: ["IN-MH", "IN-KA"] });
    const narrowed = decideAmendment(
      propose(wide, { jurisdictions: ["IN-MH"] }),
      "amd_1",
      { type: "approve" },
      "carol",
      AT,
    );
    expect(narrowed.requested?.jurisdictions).toEqual(["IN-MH", "IN-KA"]);
    expect(grantedLessThanRequested(narrowed)).toBe(true);
    // An order stored before requests were recorded: its request was what it granted.
    const { requested: _r, ...old } = wide;
    const fromOld = decideAmendment(
      propose(old, { jurisdictions: ["IN-MH"] }),
      "amd_1",
      { type: "approve" },
      "c",
      AT,
    );
    expect(fromOld.requested?.jurisdictions).toEqual(["IN-MH", "IN-KA"]);
    // `requested: null`: the request becomes the amended grant.
    const reset = decideAmendment(
      propose(wide, { jurisdictions: ["IN-MH"], requested: null }),
      "amd_1",
      { type: "approve" },
      "carol",
      AT,
    );
    expect(grantedLessThanRequested(reset)).toBe(false);
  });
});
