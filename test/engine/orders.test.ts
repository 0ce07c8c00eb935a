/**
 * The order life cycle (pending -> approved | rejected; pending | approved -> withdrawn), four eyes (I7),
 * I1 at entry, enforcement state by time, and the `OrderInput` schema the API validates with.
 */
import { describe, expect, it } from "vitest";
import {
  createOrder,
  type Enforcement,
  effectiveStart,
  enforcementAt,
  type Order,
  OrderInput,
  OrderRuleError,
  type OrderStatus,
  type OrderStep,
  transition,
  withEnforcement,
} from "../../src/engine/index.js";
import { HOUR, iso, orderInput, NOON as T0 } from "../support/fixtures.js";
import { ruleCode } from "./rule-code.js";

const CREATOR = "responder-1";
const APPROVER = "approver-1";

/** Maharashtra's own court, blocking its state. */
const VALID_AUTHORITY = { name: "Bombay High Court", jurisdiction: "IN-MH", kind: "court" };
const validInput = () => orderInput({ authority: VALID_AUTHORITY, receivedAt: "2026-02-27T09:00:00Z" });

function pending(overrides: Record<string, unknown> = {}): Order {
  return createOrder(OrderInput.parse({ ...validInput(), ...overrides }), {
    id: "ord-1",
    actor: CREATOR,
    at: iso(T0 - 2 * HOUR),
  });
}

function inStatus(status: OrderStatus, overrides: Record<string, unknown> = {}): Order {
  const order = pending(overrides);
  const at = iso(T0 - HOUR);
  switch (status) {
    case "pending":
      return order;
    case "approved":
      return transition(order, { type: "approve" }, APPROVER, at);
    case "rejected":
      return transition(order, { type: "reject", reason: "no legal basis" }, APPROVER, at);
    case "withdrawn":
      return transition(order, { type: "withdraw" }, CREATOR, at);
  }
}

describe("transition", () => {
  const actions: Record<OrderStep["type"], OrderStep> = {
    approve: { type: "approve", note: "checked against the court's register" },
    reject: { type: "reject", reason: "no legal basis" },
    withdraw: { type: "withdraw", reason: "the court lifted the order" },
  };
  const table: { from: OrderStatus; action: OrderStep["type"]; to: OrderStatus | "ILLEGAL_TRANSITION" }[] = [
    { from: "pending", action: "approve", to: "approved" },
    { from: "pending", action: "reject", to: "rejected" },
    { from: "pending", action: "withdraw", to: "withdrawn" },
    { from: "approved", action: "approve", to: "ILLEGAL_TRANSITION" },
    { from: "approved", action: "reject", to: "ILLEGAL_TRANSITION" },
    { from: "approved", action: "withdraw", to: "withdrawn" },
    { from: "rejected", action: "approve", to: "ILLEGAL_TRANSITION" },
    { from: "rejected", action: "reject", to: "ILLEGAL_TRANSITION" },
    { from: "rejected", action: "withdraw", to: "ILLEGAL_TRANSITION" },
    { from: "withdrawn", action: "approve", to: "ILLEGAL_TRANSITION" },
    { from: "withdrawn", action: "reject", to: "ILLEGAL_TRANSITION" },
    { from: "withdrawn", action: "withdraw", to: "ILLEGAL_TRANSITION" },
  ];

  it.each(table)("$action on a $from order gives $to", ({ from, action, to }) => {
    const order = inStatus(from);
    const snapshot = structuredClone(order);
    const run = () => transition(order, actions[action], "approver-2", iso(T0));
    if (to === "ILLEGAL_TRANSITION") {
      expect(ruleCode(run)).toBe("ILLEGAL_TRANSITION");
    } else {
      expect(run().status).toBe(to);
    }
    expect(order).toEqual(snapshot);
  });

  it("records the approver, the time and the note on approval", () => {
    const approved = transition(inStatus("pending"), actions.approve, APPROVER, iso(T0));
    expect(approved).toMatchObject({
      status: "approved",
      decidedBy: APPROVER,
      decidedAt: iso(T0),
      note: "checked against the court's register",
      createdBy: CREATOR,
    });
  });

  it("records the rejecter, the time and the reason on rejection", () => {
    const rejected = transition(inStatus("pending"), actions.reject, APPROVER, iso(T0));
    expect(rejected).toMatchObject({
      status: "rejected",
      decidedBy: APPROVER,
      decidedAt: iso(T0),
      reason: "no legal basis",
    });
  });

  it("keeps the approval and records who withdrew an approved order, when and why", () => {
    const withdrawn = transition(inStatus("approved"), actions.withdraw, CREATOR, iso(T0));
    expect(withdrawn).toMatchObject({
      status: "withdrawn",
      decidedBy: APPROVER,
      decidedAt: iso(T0 - HOUR),
      withdrawnBy: CREATOR,
      withdrawnAt: iso(T0),
      reason: "the court lifted the order",
    });
  });

  describe("four eyes (I7)", () => {
    it("refuses the creator approving their own order with FOUR_EYES", () => {
      expect(ruleCode(() => transition(inStatus("pending"), { type: "approve" }, CREATOR, iso(T0)))).toBe(
        "FOUR_EYES",
      );
    });

    it("refuses the creator rejecting their own order with FOUR_EYES", () => {
      expect(
        ruleCode(() => transition(inStatus("pending"), { type: "reject", reason: "x" }, CREATOR, iso(T0))),
      ).toBe("FOUR_EYES");
    });

    it("lets the creator withdraw a pending order", () => {
      expect(transition(inStatus("pending"), { type: "withdraw" }, CREATOR, iso(T0)).status).toBe(
        "withdrawn",
      );
    });

    it("lets the creator withdraw an approved order", () => {
      expect(transition(inStatus("approved"), { type: "withdraw" }, CREATOR, iso(T0)).status).toBe(
        "withdrawn",
      );
    });

    const decisions: OrderStep[] = [{ type: "approve" }, { type: "reject", reason: "x" }];

    it.each(decisions)("refuses whoever imported the order to $type it with FOUR_EYES", (action) => {
      const imported: Order = { ...inStatus("pending"), importedBy: "admin-1" };
      expect(ruleCode(() => transition(imported, action, "admin-1", iso(T0)))).toBe("FOUR_EYES");
      expect(transition(imported, action, APPROVER, iso(T0)).status).not.toBe("pending");
    });

    it.each(decisions)("compares principal names case-insensitively ($type)", (action) => {
      expect(ruleCode(() => transition(inStatus("pending"), action, "Responder-1", iso(T0)))).toBe(
        "FOUR_EYES",
      );
      const imported: Order = { ...inStatus("pending"), importedBy: "Admin-1" };
      expect(ruleCode(() => transition(imported, action, "ADMIN-1", iso(T0)))).toBe("FOUR_EYES");
    });

    it("answers ILLEGAL_TRANSITION, not FOUR_EYES, when the creator approves an order that is no longer pending", () => {
      expect(ruleCode(() => transition(inStatus("approved"), { type: "approve" }, CREATOR, iso(T0)))).toBe(
        "ILLEGAL_TRANSITION",
      );
    });
  });
});

describe("createOrder", () => {
  it("builds a pending order with no enforcement from a parsed input", () => {
    const order = pending();
    expect(order).toMatchObject({
      id: "ord-1",
      status: "pending",
      enforcement: "none",
      mode: "enforce",
      createdBy: CREATOR,
      createdAt: iso(T0 - 2 * HOUR),
      jurisdictions: ["IN-MH"],
    });
    expect(order.decidedAt).toBeUndefined();
  });

  const outside: { name: string; authority: string; jurisdictions: string[]; offending: string[] }[] = [
    {
      name: "a state court blocking the whole country",
      authority: "IN-MH",
      jurisdictions: ["IN"],
      offending: ["IN"],
    },
    {
      name: "an Indian authority blocking a Pakistani province",
      authority: "IN",
      jurisdictions: ["PK-PB"],
      offending: ["PK-PB"],
    },
    {
      name: "a state court blocking another state",
      authority: "IN-MH",
      jurisdictions: ["IN-KA"],
      offending: ["IN-KA"],
    },
    {
      name: "a district blocking its containing region",
      authority: "AZ-BAB",
      jurisdictions: ["AZ-NX"],
      offending: ["AZ-NX"],
    },
    {
      name: "an order with some jurisdictions inside and some outside",
      authority: "IN",
      jurisdictions: ["IN-MH", "PK-PB", "NL"],
      offending: ["PK-PB", "NL"],
    },
  ];
  it.each(outside)(
    "refuses $name with JURISDICTION_OUTSIDE_AUTHORITY",
    ({ authority, jurisdictions, offending }) => {
      const input = OrderInput.parse({
        ...validInput(),
        authority: { name: "Authority", jurisdiction: authority, kind: "court" },
        jurisdictions,
      });
      let caught: unknown;
      try {
        createOrder(input, { id: "ord-x", actor: CREATOR, at: iso(T0) });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(OrderRuleError);
      expect(caught).toMatchObject({
        code: "JURISDICTION_OUTSIDE_AUTHORITY",
        details: { jurisdictions: offending, authority },
      });
    },
  );

  const inside: { name: string; authority: string; jurisdictions: string[] }[] = [
    { name: "an authority blocking its own jurisdiction", authority: "IN-MH", jurisdictions: ["IN-MH"] },
    { name: "a national authority blocking two states", authority: "IN", jurisdictions: ["IN-MH", "IN-KA"] },
    { name: "the Naxçıvan authority blocking Babək", authority: "AZ-NX", jurisdictions: ["AZ-BAB"] },
    { name: "a national authority blocking a nested district", authority: "AZ", jurisdictions: ["AZ-BAB"] },
  ];
  it.each(inside)("accepts $name", ({ authority, jurisdictions }) => {
    const input = OrderInput.parse({
      ...validInput(),
      authority: { name: "Authority", jurisdiction: authority, kind: "court" },
      jurisdictions,
    });
    expect(createOrder(input, { id: "ord-x", actor: CREATOR, at: iso(T0) }).jurisdictions).toEqual(
      jurisdictions,
    );
  });
});

describe("enforcementAt", () => {
  const from = T0 + HOUR;
  const until = T0 + 3 * HOUR;
  const windowed = { effectiveFrom: iso(from), effectiveUntil: iso(until) };
  const table: { name: string; order: () => Order; now: number; expected: Enforcement }[] = [
    { name: "a pending order", order: () => inStatus("pending", windowed), now: from, expected: "none" },
    { name: "a rejected order", order: () => inStatus("rejected", windowed), now: from, expected: "none" },
    { name: "a withdrawn order", order: () => inStatus("withdrawn", windowed), now: from, expected: "none" },
    {
      name: "an order withdrawn after approval, inside its window",
      order: () => transition(inStatus("approved", windowed), { type: "withdraw" }, CREATOR, iso(T0)),
      now: from,
      expected: "none",
    },
    {
      name: "an approved order 1 ms before effectiveFrom",
      order: () => inStatus("approved", windowed),
      now: from - 1,
      expected: "scheduled",
    },
    {
      name: "an approved order at effectiveFrom",
      order: () => inStatus("approved", windowed),
      now: from,
      expected: "active",
    },
    {
      name: "an approved order 1 ms before effectiveUntil",
      order: () => inStatus("approved", windowed),
      now: until - 1,
      expected: "active",
    },
    {
      name: "an approved order at effectiveUntil",
      order: () => inStatus("approved", windowed),
      now: until,
      expected: "expired",
    },
    // Approved at T0 - HOUR (see `inStatus`), no effectiveFrom: enforcement starts at approval.
    {
      name: "an approved order without effectiveFrom 1 ms before approval",
      order: () => inStatus("approved"),
      now: T0 - HOUR - 1,
      expected: "scheduled",
    },
    {
      name: "an approved order without effectiveFrom at approval",
      order: () => inStatus("approved"),
      now: T0 - HOUR,
      expected: "active",
    },
    {
      name: "an approved order without effectiveUntil long after",
      order: () => inStatus("approved"),
      now: T0 + 10_000 * HOUR,
      expected: "active",
    },
  ];
  it.each(table)("is $expected for $name", ({ order, now, expected }) => {
    expect(enforcementAt(order(), now)).toBe(expected);
  });

  it("computes the start from effectiveFrom, else the approval time, else nothing", () => {
    expect(effectiveStart(inStatus("approved", windowed))).toBe(from);
    expect(effectiveStart(inStatus("approved"))).toBe(T0 - HOUR);
    expect(effectiveStart(inStatus("pending"))).toBeUndefined();
  });

  it("shows the state at a time on a copy, never storing it in the order", () => {
    const order = inStatus("approved", windowed);
    const shown = withEnforcement(order, from);
    expect(shown.enforcement).toBe("active");
    expect(order.enforcement).toBe("none");
  });
});

describe("OrderInput", () => {
  it("accepts a valid input and defaults mode to enforce", () => {
    expect(OrderInput.parse(validInput()).mode).toBe("enforce");
  });

  it("keeps shadow mode when given", () => {
    expect(OrderInput.parse({ ...validInput(), mode: "shadow" }).mode).toBe("shadow");
  });

  it("accepts every optional field", () => {
    const full = {
      ...validInput(),
      effectiveFrom: "2026-03-01T00:00:00Z",
      effectiveUntil: "2026-03-02T00:00:00+01:00",
      mode: "shadow",
      action: "prevent_hosting",
      exemptAccountIds: ["acct_diplomat"],
      accountType: "education",
      accountLocation: "NL",
      notes: "Order served by e-mail.",
    };
    expect(OrderInput.parse(full)).toEqual(full);
  });

  it("accepts an effectiveUntil without an effectiveFrom", () => {
    expect(OrderInput.safeParse({ ...validInput(), effectiveUntil: "2026-03-02T00:00:00Z" }).success).toBe(
      true,
    );
  });

  it("accepts an account target", () => {
    const input = { ...validInput(), target: { kind: "account", accountIds: ["acct_5Yt2"] } };
    expect(OrderInput.parse(input).target).toEqual({ kind: "account", accountIds: ["acct_5Yt2"] });
  });

  type Patch = (input: Record<string, unknown>) => Record<string, unknown>;
  const set =
    (key: string, value: unknown): Patch =>
    (input) => ({ ...input, [key]: value });
  const without =
    (key: string): Patch =>
    (input) => {
      const { [key]: _dropped, ...rest } = input;
      return rest;
    };
  const authority = (patch: Record<string, unknown>): Patch =>
    set("authority", { ...VALID_AUTHORITY, ...patch });

  const rejected: { name: string; patch: Patch; path: (string | number)[] }[] = [
    { name: "an unknown top-level field", patch: set("priority", "high"), path: [] },
    { name: "an unknown field in the authority", patch: authority({ country: "IN" }), path: ["authority"] },
    {
      name: "an unknown field in the target",
      patch: set("target", { kind: "meeting", meetingIds: ["1"], hosts: ["x"] }),
      path: ["target"],
    },
    {
      name: "account ids on a meeting target",
      patch: set("target", { kind: "meeting", meetingIds: ["1"], accountIds: ["a"] }),
      path: ["target"],
    },
    { name: "a missing reference", patch: without("reference"), path: ["reference"] },
    { name: "a blank reference", patch: set("reference", "   "), path: ["reference"] },
    { name: "a missing authority", patch: without("authority"), path: ["authority"] },
    {
      name: "a missing authority kind",
      patch: set("authority", { name: "X", jurisdiction: "IN" }),
      path: ["authority", "kind"],
    },
    { name: "a missing jurisdictions list", patch: without("jurisdictions"), path: ["jurisdictions"] },
    { name: "a missing target", patch: without("target"), path: ["target"] },
    { name: "a missing receivedAt", patch: without("receivedAt"), path: ["receivedAt"] },
    { name: "jurisdictions as a string", patch: set("jurisdictions", "IN-MH"), path: ["jurisdictions"] },
    { name: "an empty jurisdictions list", patch: set("jurisdictions", []), path: ["jurisdictions"] },
    {
      name: "a numeric meeting id",
      patch: set("target", { kind: "meeting", meetingIds: [81234567890] }),
      path: ["target", "meetingIds", 0],
    },
    {
      name: "an empty meeting list",
      patch: set("target", { kind: "meeting", meetingIds: [] }),
      path: ["target", "meetingIds"],
    },
    {
      name: "an unknown target kind",
      patch: set("target", { kind: "webinar", meetingIds: ["1"] }),
      path: ["target", "kind"],
    },
    { name: "receivedAt as epoch milliseconds", patch: set("receivedAt", T0), path: ["receivedAt"] },
    {
      name: "receivedAt without a time zone",
      patch: set("receivedAt", "2026-02-27T09:00:00"),
      path: ["receivedAt"],
    },
    {
      name: "receivedAt on a day that does not exist",
      patch: set("receivedAt", "2026-02-30T09:00:00Z"),
      path: ["receivedAt"],
    },
    { name: "an unknown mode", patch: set("mode", "block"), path: ["mode"] },
    { name: "an unknown action", patch: set("action", "end_meeting"), path: ["action"] },
    {
      name: "an exemption that is no account id (an address)",
      patch: set("exemptAccountIds", ["203.0.113.7"]),
      path: ["exemptAccountIds", 0],
    },
    {
      name: "an account exempted twice",
      patch: set("exemptAccountIds", ["acct_a", "acct_a"]),
      path: ["exemptAccountIds", 1],
    },
    {
      name: "an exemption of an account the order targets",
      patch: (input) => ({
        ...input,
        target: { kind: "account", accountIds: ["acct_a", "acct_b"] },
        exemptAccountIds: ["acct_b"],
      }),
      path: ["exemptAccountIds", 0],
    },
    {
      name: "more than 1000 exemptions",
      patch: set(
        "exemptAccountIds",
        Array.from({ length: 1001 }, (_, i) => `acct_${i}`),
      ),
      path: ["exemptAccountIds"],
    },
    {
      name: "an unknown authority kind",
      patch: authority({ kind: "ministry" }),
      path: ["authority", "kind"],
    },
    { name: "an unknown account type", patch: set("accountType", "free"), path: ["accountType"] },
    {
      name: "a subdivision as account location",
      patch: set("accountLocation", "IN-MH"),
      path: ["accountLocation"],
    },
    { name: "notes longer than 4000 characters", patch: set("notes", "x".repeat(4001)), path: ["notes"] },
    { name: "the unassigned country XX", patch: set("jurisdictions", ["XX"]), path: ["jurisdictions", 0] },
    { name: "a lower-case country code", patch: set("jurisdictions", ["in"]), path: ["jurisdictions", 0] },
    {
      name: "a subdivision that does not exist",
      patch: set("jurisdictions", ["IN-ZZ"]),
      path: ["jurisdictions", 0],
    },
    {
      name: "an invalid authority jurisdiction",
      patch: authority({ jurisdiction: "XX" }),
      path: ["authority", "jurisdiction"],
    },
    {
      name: "a duplicate jurisdiction",
      patch: set("jurisdictions", ["IN-MH", "IN-MH"]),
      path: ["jurisdictions", 1],
    },
    {
      name: "effectiveUntil equal to effectiveFrom",
      patch: (input) => ({
        ...input,
        effectiveFrom: "2026-03-01T00:00:00Z",
        effectiveUntil: "2026-03-01T00:00:00Z",
      }),
      path: ["effectiveUntil"],
    },
    {
      name: "effectiveUntil equal to effectiveFrom written with another offset",
      patch: (input) => ({
        ...input,
        effectiveFrom: "2026-03-01T05:30:00+05:30",
        effectiveUntil: "2026-03-01T00:00:00Z",
      }),
      path: ["effectiveUntil"],
    },
    {
      name: "effectiveUntil before effectiveFrom",
      patch: (input) => ({
        ...input,
        effectiveFrom: "2026-03-02T00:00:00Z",
        effectiveUntil: "2026-03-01T00:00:00Z",
      }),
      path: ["effectiveUntil"],
    },
  ];
  it.each(rejected)("rejects $name", ({ patch, path }) => {
    const result = OrderInput.safeParse(patch(validInput()));
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path)).toContainEqual(path);
  });

  const identifiers = {
    rejected: [
      { name: "a space", id: "812 3456" },
      { name: "a slash", id: "a/b" },
      { name: "a backslash", id: "a\\b" },
      { name: "an accented letter", id: "réunion" },
      { name: "an emoji", id: "meet👀" },
      { name: "full-width letters", id: "ａｂｃ" },
      { name: "an empty string", id: "" },
      { name: "129 characters", id: "a".repeat(129) },
      { name: "a leading dash", id: "-123" },
      { name: "a leading dot", id: ".123" },
      { name: "a trailing newline", id: "123\n" },
      { name: "a comma", id: "1,2" },
      { name: "a quote", id: '1"2' },
      { name: "a percent-encoded slash", id: "a%2Fb" },
    ],
    accepted: [
      { name: "digits only", id: "81234567890" },
      { name: "one character", id: "7" },
      { name: "exactly 128 characters", id: "a".repeat(128) },
      { name: "every allowed punctuation mark", id: "a.b_c:d@e-f" },
      { name: "an e-mail-like id", id: "host@example.com" },
      { name: "trailing punctuation", id: "room-" },
    ],
  };
  const withMeeting = (id: string) => ({ ...validInput(), target: { kind: "meeting", meetingIds: [id] } });
  const withAccount = (id: string) => ({ ...validInput(), target: { kind: "account", accountIds: [id] } });

  it.each(identifiers.rejected)("rejects a meeting id and an account id with $name", ({ id }) => {
    expect(OrderInput.safeParse(withMeeting(id)).success).toBe(false);
    expect(OrderInput.safeParse(withAccount(id)).success).toBe(false);
  });

  it.each(identifiers.accepted)("accepts a meeting id and an account id with $name", ({ id }) => {
    expect(OrderInput.safeParse(withMeeting(id)).success).toBe(true);
    expect(OrderInput.safeParse(withAccount(id)).success).toBe(true);
  });
});
