/**
 * Enforcement events, the pure part: `enforcedState` (which orders deny at `now`, with their scope),
 * `reconcile` (published state -> events) and `nextBoundary` (the next instant the state moves by time).
 */
import { describe, expect, it } from "vitest";
import {
  type CompiledOrder,
  compile,
  type EnforcementState,
  enforcedState,
  nextBoundary,
  reconcile,
  scopeKey,
} from "../../src/engine/index.js";
import { HOUR, iso, NOON } from "../support/fixtures.js";
import { approve, approved, forMeeting, pending } from "../support/rulesets.js";

const at = (ms: number) => iso(ms);
const rulesetOf = (...orders: ReturnType<typeof approved>[]) =>
  compile(orders, { version: orders.length, compiledAt: at(NOON) });

/** A compiled order as the compiler makes them, for scopes of hand-made fields. */
const compiled = (overrides: Partial<CompiledOrder> & Record<string, unknown> = {}): CompiledOrder => ({
  id: "o-1",
  mode: "enforce",
  action: "geoblock",
  exemptAccountIds: [],
  authority: "IN",
  jurisdictions: ["IN-MH"],
  from: NOON - HOUR,
  until: null,
  meetingIds: ["m-1"],
  accountIds: [],
  ...overrides,
});
const state = (...orders: CompiledOrder[]): EnforcementState =>
  new Map(orders.map((o) => [o.id, scopeKey(o)]));

describe("enforcedState", () => {
  const table: { name: string; orders: ReturnType<typeof approved>[]; now: number; expected: string[] }[] = [
    { name: "an approved order in its window", orders: [approved("o-1")], now: NOON, expected: ["o-1"] },
    {
      name: "not before effectiveFrom, and from exactly effectiveFrom",
      orders: [approved("o-1", { effectiveFrom: at(NOON + HOUR) })],
      now: NOON + HOUR - 1,
      expected: [],
    },
    {
      name: "at exactly effectiveFrom",
      orders: [approved("o-1", { effectiveFrom: at(NOON + HOUR) })],
      now: NOON + HOUR,
      expected: ["o-1"],
    },
    {
      name: "not at exactly effectiveUntil",
      orders: [approved("o-1", { effectiveUntil: at(NOON + HOUR) })],
      now: NOON + HOUR,
      expected: [],
    },
    { name: "never a shadow order", orders: [approved("o-1", { mode: "shadow" })], now: NOON, expected: [] },
    { name: "never a pending order", orders: [pending("o-1")], now: NOON, expected: [] },
  ];
  it.each(table)("$name", ({ orders, now, expected }) => {
    expect([...enforcedState(rulesetOf(...orders), now).keys()]).toEqual(expected);
  });

  it("keys the scope on every compiled field but the id and the window", () => {
    const base = compiled();
    expect(scopeKey(base)).toBe(scopeKey({ ...base, id: "o-2", from: 0, until: 5 }));
    // A field the compiler gains (an action, exempt accounts) is part of the scope without a change here.
    expect(scopeKey(base)).not.toBe(scopeKey(compiled({ action: "prevent_hosting" })));
    expect(scopeKey(compiled({ jurisdictions: ["IN-KA", "IN-MH"] }))).toBe(
      scopeKey(compiled({ jurisdictions: ["IN-MH", "IN-KA"] })),
    );
  });
});

describe("reconcile", () => {
  const table: {
    name: string;
    published: EnforcementState;
    desired: EnforcementState;
    expected: [string, string, string[], string[]][];
  }[] = [
    { name: "nothing changed", published: state(compiled()), desired: state(compiled()), expected: [] },
    {
      name: "an order that takes effect",
      published: state(),
      desired: state(compiled()),
      expected: [["block-effective", "o-1", ["m-1"], ["IN-MH"]]],
    },
    {
      name: "an order gone (withdrawn, expired, turned to shadow) lifts its last scope",
      published: state(compiled({ meetingIds: ["m-1", "m-2"] })),
      desired: state(),
      expected: [["block-lifted", "o-1", ["m-1", "m-2"], ["IN-MH"]]],
    },
    {
      name: "an amendment that widens the block",
      published: state(compiled()),
      desired: state(compiled({ jurisdictions: ["IN-KA", "IN-MH"] })),
      expected: [["block-effective", "o-1", ["m-1"], ["IN-KA", "IN-MH"]]],
    },
    {
      name: "an amendment that adds a meeting",
      published: state(compiled()),
      desired: state(compiled({ meetingIds: ["m-1", "m-2"] })),
      expected: [["block-effective", "o-1", ["m-1", "m-2"], ["IN-MH"]]],
    },
    {
      name: "an amendment that narrows the block lifts the old scope",
      published: state(compiled({ jurisdictions: ["IN-KA", "IN-MH"] })),
      desired: state(compiled()),
      expected: [["block-lifted", "o-1", ["m-1"], ["IN-KA", "IN-MH"]]],
    },
    {
      name: "an amendment that does both: lifted (old), then effective (new)",
      published: state(compiled()),
      desired: state(compiled({ jurisdictions: ["IN-KA"] })),
      expected: [
        ["block-lifted", "o-1", ["m-1"], ["IN-MH"]],
        ["block-effective", "o-1", ["m-1"], ["IN-KA"]],
      ],
    },
    {
      name: "a new exempt account narrows",
      published: state(compiled()),
      desired: state(compiled({ exemptAccountIds: ["acc-1"] })),
      expected: [["block-lifted", "o-1", ["m-1"], ["IN-MH"]]],
    },
    {
      name: "an exemption dropped widens",
      published: state(compiled({ exemptAccountIds: ["acc-1"] })),
      desired: state(compiled()),
      expected: [["block-effective", "o-1", ["m-1"], ["IN-MH"]]],
    },
    {
      name: "a changed action gives both",
      published: state(compiled()),
      desired: state(compiled({ action: "prevent_hosting" })),
      expected: [
        ["block-lifted", "o-1", ["m-1"], ["IN-MH"]],
        ["block-effective", "o-1", ["m-1"], ["IN-MH"]],
      ],
    },
    {
      name: "several orders, in id order",
      published: state(compiled({ id: "o-2" })),
      desired: state(compiled({ id: "o-1" }), compiled({ id: "o-3" })),
      expected: [
        ["block-effective", "o-1", ["m-1"], ["IN-MH"]],
        ["block-lifted", "o-2", ["m-1"], ["IN-MH"]],
        ["block-effective", "o-3", ["m-1"], ["IN-MH"]],
      ],
    },
  ];
  it.each(table)("$name", ({ published, desired, expected }) => {
    const { events, changes } = reconcile(published, desired);
    expect(
      events.map((e) => [
        e.type,
        e.orderId,
        e.target.kind === "meeting" ? e.target.meetingIds : e.target.accountIds,
        e.jurisdictions,
      ]),
    ).toEqual(expected);
    // The state changes are exactly the orders whose scope moved, each with what it was and becomes.
    for (const c of changes) {
      expect(c.before).toBe(published.get(c.orderId) ?? null);
      expect(c.after).toBe(desired.get(c.orderId) ?? null);
    }
    expect(changes.length).toBe(
      new Set([...published.keys(), ...desired.keys()].filter((id) => published.get(id) !== desired.get(id)))
        .size,
    );
  });

  it("names an account target as one", () => {
    const { events } = reconcile(state(), state(compiled({ meetingIds: [], accountIds: ["acc-9"] })));
    expect(events[0]?.target).toEqual({ kind: "account", accountIds: ["acc-9"] });
  });

  it("applying the changes reaches the desired state, so a second reconcile has nothing to do", () => {
    const published = new Map(state(compiled({ id: "o-2" })));
    const desired = state(compiled({ id: "o-1" }));
    for (const c of reconcile(published, desired).changes) {
      if (c.after === null) published.delete(c.orderId);
      else published.set(c.orderId, c.after);
    }
    expect(reconcile(published, desired)).toEqual({ changes: [], events: [] });
  });
});

describe("nextBoundary", () => {
  const table: {
    name: string;
    orders: ReturnType<typeof approved>[];
    now: number;
    expected: number | null;
  }[] = [
    { name: "none without orders", orders: [], now: NOON, expected: null },
    {
      name: "a start ahead",
      orders: [approved("o-1", { effectiveFrom: at(NOON + HOUR) })],
      now: NOON,
      expected: NOON + HOUR,
    },
    {
      name: "the end once started",
      orders: [approved("o-1", { effectiveFrom: at(NOON + HOUR), effectiveUntil: at(NOON + 2 * HOUR) })],
      now: NOON + HOUR,
      expected: NOON + 2 * HOUR,
    },
    {
      name: "the earliest of several",
      orders: [
        approved("o-1", { effectiveUntil: at(NOON + 3 * HOUR) }),
        approved("o-2", { effectiveFrom: at(NOON + 2 * HOUR) }),
      ],
      now: NOON,
      expected: NOON + 2 * HOUR,
    },
    {
      name: "none for a shadow order's window",
      orders: [approved("o-1", { mode: "shadow", effectiveFrom: at(NOON + HOUR) })],
      now: NOON,
      expected: null,
    },
    {
      name: "none once everything has ended",
      orders: [approved("o-1", { effectiveUntil: at(NOON + HOUR) })],
      now: NOON + HOUR,
      expected: null,
    },
  ];
  it.each(table)("$name", ({ orders, now, expected }) => {
    expect(nextBoundary(rulesetOf(...orders), now)).toBe(expected);
  });

  it("the state differs just before and at each boundary", () => {
    const r = rulesetOf(
      approve(pending("o-1", { effectiveFrom: at(NOON + HOUR), effectiveUntil: at(NOON + 2 * HOUR) })),
    );
    const b1 = nextBoundary(r, NOON) as number;
    expect(enforcedState(r, b1 - 1).size).toBe(0);
    expect(enforcedState(r, b1).size).toBe(1);
    const b2 = nextBoundary(r, b1) as number;
    expect(enforcedState(r, b2 - 1).size).toBe(1);
    expect(enforcedState(r, b2).size).toBe(0);
  });
});

// Keep the forMeeting import honest: an order on another meeting has its own scope.
it("an order on another meeting has another scope", () => {
  const a = rulesetOf(approved("o-1"));
  const b = rulesetOf(approved("o-1", forMeeting("m-2")));
  expect(enforcedState(a, NOON).get("o-1")).not.toBe(enforcedState(b, NOON).get("o-1"));
});
