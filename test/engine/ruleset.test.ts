/**
 * `compile`: what goes into a ruleset, its hash, its portable document, its immutability, and the
 * second I1 check that catches an order that slipped past entry.
 */

import { describe, expect, it } from "vitest";
import {
  type CompiledOrder,
  type CompiledOrderDocument,
  compile,
  decide,
  emptyRuleset,
  fromDocument,
  type Order,
  type RulesetDocument,
  toDocument,
  transition,
} from "../../src/engine/index.js";
import { HOUR, iso, NOON as T0 } from "../support/fixtures.js";
import { rehash } from "../support/ruleset-hash.js";
import { approve, approved, pending } from "../support/rulesets.js";

const META = { version: 42, compiledAt: iso(T0) };

/** A varied set of approved orders: meeting and account targets, windows, shadow mode, several blocks. */
function sample(): Order[] {
  return [
    approved("o-1"),
    approved("o-2", { jurisdictions: ["IN-KA", "IN-MH"], effectiveUntil: iso(T0 + HOUR) }),
    approved("o-3", { target: { kind: "account", accountIds: ["acct-2", "acct-1"] }, mode: "shadow" }),
    approved("o-4", {
      authority: { name: "Moscow court", jurisdiction: "RU", kind: "court" },
      jurisdictions: ["RU"],
      target: { kind: "meeting", meetingIds: ["m-2", "m-1"] },
      effectiveFrom: iso(T0 - HOUR),
    }),
  ];
}

/** The first compiled order of a document, which every test document has. */
function firstOrder(doc: RulesetDocument): CompiledOrder & { jurisdictions: string[]; meetingIds: string[] } {
  const order = doc.orders[0];
  if (order === undefined) throw new Error("the document has no orders");
  return order as CompiledOrder & { jurisdictions: string[]; meetingIds: string[] };
}

/** A JSON round trip: what a document looks like after disk, Redis or KV. */
const viaJson = (doc: RulesetDocument): RulesetDocument => JSON.parse(JSON.stringify(doc));

describe("compile", () => {
  it("keeps only approved orders, and does not count the others as excluded", () => {
    const base = pending("o-pending");
    const orders = [
      base,
      transition(pending("o-rejected"), { type: "reject", reason: "no" }, "approver-1", iso(T0)),
      transition(pending("o-withdrawn-pending"), { type: "withdraw" }, "responder-1", iso(T0)),
      transition(approved("o-withdrawn-approved"), { type: "withdraw" }, "responder-1", iso(T0)),
      approved("o-approved"),
    ];
    const ruleset = compile(orders, META);
    expect(ruleset.orders.map((o) => o.id)).toEqual(["o-approved"]);
    expect(ruleset.excluded).toEqual([]);
  });

  it("compiles an order into its window, sorted codes and deduplicated targets", () => {
    const order = approved("o-9", {
      jurisdictions: ["IN-MH", "IN-KA"],
      target: { kind: "meeting", meetingIds: ["m-2", "m-1", "m-2"] },
      effectiveUntil: iso(T0 + HOUR),
      mode: "shadow",
    });
    const compiled: CompiledOrder = {
      id: "o-9",
      mode: "shadow",
      action: "geoblock",
      exemptAccountIds: [],
      authority: "IN",
      jurisdictions: ["IN-KA", "IN-MH"],
      from: T0 - 24 * HOUR,
      until: T0 + HOUR,
      meetingIds: ["m-1", "m-2"],
      accountIds: [],
    };
    const ruleset = compile([order], META);
    expect(ruleset.orders).toEqual([compiled]);
    expect([...ruleset.meetings.keys()].sort()).toEqual(["m-1", "m-2"]);
    expect(ruleset.meetings.get("m-1")).toEqual([compiled]);
    expect(ruleset.accounts.size).toBe(0);
  });

  it("indexes account orders by account, not by meeting", () => {
    const ruleset = compile([approved("o-a", { target: { kind: "account", accountIds: ["acct-1"] } })], META);
    expect(ruleset.meetings.size).toBe(0);
    expect(ruleset.accounts.get("acct-1")?.map((o) => o.id)).toEqual(["o-a"]);
  });

  it("shares a target list the store holds frozen and in order, and copies one that could still change", () => {
    const frozen = Object.freeze(["m-1", "m-2"]);
    const open = ["m-1", "m-2"];
    const unsorted = Object.freeze(["m-2", "m-1", "m-2"]);
    const [a, b, c] = ["o-a", "o-b", "o-c"].map((id) =>
      approved(id, { target: { kind: "meeting", meetingIds: ["m-9"] } }),
    ) as [Order, Order, Order];
    const ruleset = compile(
      [
        { ...a, target: { kind: "meeting", meetingIds: frozen } },
        { ...b, target: { kind: "meeting", meetingIds: open } },
        { ...c, target: { kind: "meeting", meetingIds: unsorted } },
      ] as Order[],
      META,
    );
    const [ca, cb, cc] = ruleset.orders as [CompiledOrder, CompiledOrder, CompiledOrder];
    expect(ca.meetingIds).toBe(frozen);
    expect(cb.meetingIds).not.toBe(open);
    expect(Object.isFrozen(cb.meetingIds)).toBe(true);
    open.push("m-3");
    expect(cb.meetingIds).toEqual(["m-1", "m-2"]);
    expect(cc.meetingIds).toEqual(["m-1", "m-2"]);
  });

  it("carries the store's version and the compile time", () => {
    const ruleset = compile(sample(), META);
    expect(ruleset.version).toBe(42);
    expect(ruleset.compiledAt).toBe(iso(T0));
  });

  it("makes an empty ruleset of version 0 that answers NO_ORDER", () => {
    const ruleset = emptyRuleset(iso(T0));
    expect(ruleset.version).toBe(0);
    expect(ruleset.orders).toEqual([]);
    expect(
      decide(ruleset, { meetingId: "m-1", location: { country: "IN", subdivisions: [] } }, T0).code,
    ).toBe("NO_ORDER");
  });
});

describe("ruleset hash", () => {
  it("is a hex SHA-256 of the canonical compiled orders", () => {
    const ruleset = compile(sample(), META);
    expect(ruleset.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rehash(toDocument(ruleset)).hash).toBe(ruleset.hash);
  });

  it("is the same on every compile of the same orders", () => {
    expect(compile(sample(), META).hash).toBe(compile(sample(), META).hash);
  });

  it("does not depend on the order of the input, of block codes or of target ids", () => {
    const forward = compile(sample(), META);
    const backward = compile(sample().reverse(), META);
    expect(backward.hash).toBe(forward.hash);
    expect(backward.orders).toEqual(forward.orders);
    const shuffledInside = compile(
      [
        approved("o-x", {
          jurisdictions: ["IN-MH", "IN-KA"],
          target: { kind: "meeting", meetingIds: ["b", "a", "a"] },
        }),
      ],
      META,
    );
    const sortedInside = compile(
      [
        approved("o-x", {
          jurisdictions: ["IN-KA", "IN-MH"],
          target: { kind: "meeting", meetingIds: ["a", "b"] },
        }),
      ],
      META,
    );
    expect(shuffledInside.hash).toBe(sortedInside.hash);
  });

  it("covers enforcement only: the same orders under another version or time hash the same", () => {
    expect(compile(sample(), { version: 1, compiledAt: iso(0) }).hash).toBe(compile(sample(), META).hash);
  });

  it("does not change when orders that are not approved are added", () => {
    expect(compile([...sample(), pending("o-new")], META).hash).toBe(compile(sample(), META).hash);
  });

  const changes: { name: string; order: () => Order }[] = [
    { name: "another id", order: () => approved("o-1b") },
    { name: "another mode", order: () => approved("o-1", { mode: "shadow" }) },
    {
      name: "another authority",
      order: () =>
        approved("o-1", { authority: { name: "High Court", jurisdiction: "IN-MH", kind: "court" } }),
    },
    { name: "another block jurisdiction", order: () => approved("o-1", { jurisdictions: ["IN-KA"] }) },
    {
      name: "an extra block jurisdiction",
      order: () => approved("o-1", { jurisdictions: ["IN-MH", "IN-KA"] }),
    },
    { name: "another start", order: () => approve(pending("o-1"), T0 - 24 * HOUR + 1) },
    { name: "an end", order: () => approved("o-1", { effectiveUntil: iso(T0 + HOUR) }) },
    {
      name: "another meeting",
      order: () => approved("o-1", { target: { kind: "meeting", meetingIds: ["m-9"] } }),
    },
    {
      name: "an account instead of a meeting",
      order: () => approved("o-1", { target: { kind: "account", accountIds: ["m-1"] } }),
    },
  ];
  it.each(changes)("changes when one order has $name", ({ order }) => {
    const [, ...rest] = sample();
    expect(compile([order(), ...rest], META).hash).not.toBe(compile(sample(), META).hash);
  });
});

describe("ruleset document", () => {
  const probes = [
    { meetingId: "m-1", location: { country: "IN", subdivisions: ["IN-MH"] } },
    { meetingId: "m-1", location: { country: "IN", subdivisions: ["IN-KA"] } },
    { meetingId: "m-2", location: { country: "RU", subdivisions: [] } },
    { meetingId: "m-9", accountId: "acct-1", location: { country: "IN", subdivisions: ["IN-MH"] } },
    { meetingId: "m-1", location: null },
  ];

  it("round-trips through JSON to a ruleset that decides the same", () => {
    const original = compile(sample(), META);
    const restored = fromDocument(viaJson(toDocument(original)));
    expect(restored.hash).toBe(original.hash);
    expect(restored.version).toBe(original.version);
    expect(restored.compiledAt).toBe(original.compiledAt);
    expect(restored.orders).toEqual(original.orders);
    for (const now of [T0 - 25 * HOUR, T0, T0 + HOUR]) {
      for (const facts of probes) expect(decide(restored, facts, now)).toEqual(decide(original, facts, now));
    }
  });

  const tamper: { name: string; edit: (order: CompiledOrderDocument) => CompiledOrderDocument }[] = [
    { name: "id", edit: (o) => ({ ...o, id: "o-evil" }) },
    { name: "mode", edit: (o) => ({ ...o, mode: o.mode === "enforce" ? "shadow" : "enforce" }) },
    { name: "authority", edit: (o) => ({ ...o, authority: "RU" }) },
    { name: "jurisdictions", edit: (o) => ({ ...o, jurisdictions: ["IN"] }) },
    { name: "from", edit: (o) => ({ ...o, from: o.from - 1 }) },
    { name: "until", edit: (o) => ({ ...o, until: null }) },
    { name: "meetingIds", edit: (o) => ({ ...o, meetingIds: [...o.meetingIds, "m-evil"] }) },
    { name: "accountIds", edit: (o) => ({ ...o, accountIds: ["acct-evil"] }) },
    { name: "action", edit: (o) => ({ ...o, action: "prevent_hosting" }) },
    { name: "exemptAccountIds", edit: (o) => ({ ...o, exemptAccountIds: ["acct-evil"] }) },
  ];
  it.each(tamper)("refuses a document whose order $name was changed", ({ edit }) => {
    const doc = viaJson(toDocument(compile(sample(), META)));
    const tampered = { ...doc, orders: doc.orders.map((order, i) => (i === 1 ? edit(order) : order)) };
    expect(() => fromDocument(tampered)).toThrow(/hash mismatch/);
  });

  it("refuses a document with an order dropped", () => {
    const doc = viaJson(toDocument(compile(sample(), META)));
    expect(() => fromDocument({ ...doc, orders: doc.orders.slice(1) })).toThrow(/hash mismatch/);
  });

  it("refuses a document whose stated hash was changed", () => {
    const doc = viaJson(toDocument(compile(sample(), META)));
    expect(() => fromDocument({ ...doc, hash: "0".repeat(64) })).toThrow(/hash mismatch/);
  });

  it("refuses a re-hashed document that blocks outside an order's authority (I1)", () => {
    const doc = viaJson(toDocument(compile(sample(), META)));
    const forged = rehash({
      ...doc,
      orders: doc.orders.map((o) => (o.id === "o-1" ? { ...o, jurisdictions: ["PK-PB"] } : o)),
    });
    expect(() => fromDocument(forged)).toThrow(/outside its authority: PK-PB/);
  });

  it("loads a document of an earlier release, hashed over the whole sorted list (no hashScheme)", () => {
    const ruleset = compile(sample(), META);
    const { hashScheme, ...current } = viaJson(toDocument(ruleset));
    expect(hashScheme).toBe("buckets-4096");
    const earlier = rehash(current);
    expect(earlier.hash).not.toBe(ruleset.hash);
    const loaded = fromDocument(earlier);
    expect(loaded.hash).toBe(earlier.hash);
    expect(loaded.hashScheme).toBeUndefined();
    expect(loaded.orders).toEqual(ruleset.orders);
    // Written back as it came: the same document, still verifiable by the earlier scheme.
    expect(viaJson(toDocument(loaded))).toEqual(earlier);
    for (const meetingId of ["m-1", "m-2", "m-9"])
      for (const now of [T0 - 2 * HOUR, T0, T0 + 2 * HOUR]) {
        const facts = { meetingId, location: { country: "RU", subdivisions: [] } };
        expect(decide(loaded, facts, now)).toEqual(decide(ruleset, facts, now));
      }
  });

  it("refuses a document whose hash is of the other scheme, or wrong under either", () => {
    const doc = viaJson(toDocument(compile(sample(), META)));
    const { hashScheme: _, ...earlier } = doc;
    // Each scheme verifies its own hash only: a document claiming one with the other's is refused.
    expect(() => fromDocument(earlier)).toThrow(/hash mismatch/);
    expect(() => fromDocument({ ...rehash(earlier), hashScheme: "buckets-4096" })).toThrow(/hash mismatch/);
    const tampered = (d: RulesetDocument) => ({
      ...d,
      orders: d.orders.map((o) => (o.id === "o-4" ? { ...o, meetingIds: ["m-1"] } : o)),
    });
    expect(() => fromDocument(tampered(doc))).toThrow(/hash mismatch/);
    expect(() => fromDocument(tampered(rehash(earlier)))).toThrow(/hash mismatch/);
    expect(() => fromDocument({ ...doc, hash: "0".repeat(64) })).toThrow(/hash mismatch/);
    expect(() => fromDocument({ ...rehash(earlier), hash: "0".repeat(64) })).toThrow(/hash mismatch/);
  });

  it("verifies a bucketed document whatever the order of its orders, and lists them by id", () => {
    const ruleset = compile(sample(), META);
    const doc = viaJson(toDocument(ruleset));
    const loaded = fromDocument({ ...doc, orders: [...doc.orders].reverse() });
    expect(loaded.hash).toBe(ruleset.hash);
    expect(loaded.orders.map((o) => o.id)).toEqual(["o-1", "o-2", "o-3", "o-4"]);
  });

  it("refuses a re-hashed document with an unreadable window", () => {
    const doc = toDocument(compile(sample(), META));
    const broken = rehash({
      ...doc,
      orders: doc.orders.map((o) => (o.id === "o-2" ? { ...o, until: Number.NaN } : o)),
    });
    expect(() => fromDocument(broken)).toThrow(/unreadable window/);
  });
});

describe("ruleset immutability", () => {
  it("freezes the ruleset, its orders, their lists and the index lists", () => {
    const ruleset = compile(sample(), META);
    expect(Object.isFrozen(ruleset)).toBe(true);
    expect(Object.isFrozen(ruleset.orders)).toBe(true);
    expect(Object.isFrozen(ruleset.excluded)).toBe(true);
    for (const order of ruleset.orders) {
      expect(Object.isFrozen(order)).toBe(true);
      expect(Object.isFrozen(order.jurisdictions)).toBe(true);
      expect(Object.isFrozen(order.meetingIds)).toBe(true);
      expect(Object.isFrozen(order.accountIds)).toBe(true);
    }
    for (const list of [...ruleset.meetings.values(), ...ruleset.accounts.values()])
      expect(Object.isFrozen(list)).toBe(true);
  });

  it("throws on an attempt to change an order in force", () => {
    const ruleset = compile(sample(), META);
    const order = firstOrder(toDocument(ruleset)) as unknown as { mode: string };
    const index = ruleset.meetings.get("m-1") as CompiledOrder[] | undefined;
    expect(index).toHaveLength(3);
    expect(() => {
      order.mode = "shadow";
    }).toThrow(/read only|read-only/);
    expect(() => index?.pop()).toThrow(/read only|read-only|not extensible|Cannot delete/);
    expect(ruleset.orders[0]?.mode).toBe("enforce");
  });

  it("does not let a document handed out by toDocument reach back into the ruleset", () => {
    const ruleset = compile(sample(), META);
    const doc = toDocument(ruleset);
    doc.orders.pop();
    expect(ruleset.orders).toHaveLength(4);
    expect(() => firstOrder(doc).jurisdictions.push("RU")).toThrow(/not extensible|read only|read-only/);
  });

  it("does not let later edits to a loaded document change the ruleset", () => {
    const doc = viaJson(toDocument(compile(sample(), META)));
    const ruleset = fromDocument(doc);
    firstOrder(doc).jurisdictions.push("RU");
    firstOrder(doc).meetingIds.push("m-evil");
    expect(ruleset.orders[0]?.jurisdictions).toEqual(["IN-MH"]);
    expect(ruleset.meetings.has("m-evil")).toBe(false);
    expect(
      decide(ruleset, { meetingId: "m-1", location: { country: "RU", subdivisions: [] } }, T0).orderIds,
    ).toEqual(["o-4"]);
  });
});

describe("compile re-checks I1", () => {
  /** An approved order edited after entry, the way a bad migration or a hand edit of the store would. */
  function slipped(id: string, authority: string, jurisdictions: string[]): Order {
    return {
      ...approved(id),
      authority: { name: "Court", jurisdiction: authority, kind: "court" },
      jurisdictions,
    };
  }

  const breaches = [
    {
      name: "a national authority blocking another country's province",
      authority: "IN",
      jurisdictions: ["PK-PB"],
    },
    { name: "a state court blocking the whole country", authority: "IN-MH", jurisdictions: ["IN"] },
    {
      name: "a state court blocking itself and a neighbour",
      authority: "IN-MH",
      jurisdictions: ["IN-MH", "IN-KA"],
    },
    { name: "a district blocking its containing region", authority: "AZ-BAB", jurisdictions: ["AZ-NX"] },
    { name: "a code ISO 3166-2 does not know", authority: "IN", jurisdictions: ["IN-ZZ"] },
  ];
  it.each(breaches)("excludes $name and never denies on it", ({ authority, jurisdictions }) => {
    const good = approved("o-good", { target: { kind: "meeting", meetingIds: ["m-2"] } });
    const ruleset = compile([slipped("o-bad", authority, jurisdictions), good], META);
    expect(ruleset.orders.map((o) => o.id)).toEqual(["o-good"]);
    expect(ruleset.excluded).toEqual([
      { id: "o-bad", reason: expect.stringMatching(/outside the authority/) },
    ]);
    for (const j of jurisdictions) {
      const location = { country: j.slice(0, 2), subdivisions: j.length > 2 ? [j] : [] };
      expect(decide(ruleset, { meetingId: "m-1", location }, T0).code).toBe("NO_ORDER");
    }
    // The rest of the ruleset is unaffected.
    expect(
      decide(ruleset, { meetingId: "m-2", location: { country: "IN", subdivisions: ["IN-MH"] } }, T0),
    ).toMatchObject({ code: "BLOCKED", orderIds: ["o-good"] });
  });

  it("keeps the first of two orders under one id, so the hash cannot depend on input order", () => {
    const first = approved("o-dup");
    const second = { ...approved("o-dup"), mode: "shadow" as const };
    const ruleset = compile([first, second], META);
    expect(ruleset.orders.map((o) => [o.id, o.mode])).toEqual([["o-dup", "enforce"]]);
    expect(ruleset.excluded).toEqual([{ id: "o-dup", reason: "duplicate order id" }]);
  });

  it("excludes an approved order without any start time", () => {
    const { decidedAt: _decidedAt, ...noStart } = approved("o-nostart");
    expect(compile([noStart], META).excluded).toEqual([{ id: "o-nostart", reason: expect.any(String) }]);
  });

  it("excludes an approved order whose end cannot be read, instead of enforcing it forever", () => {
    const unreadable = { ...approved("o-noend"), effectiveUntil: "next Tuesday" };
    const ruleset = compile([unreadable], META);
    expect(ruleset.orders).toEqual([]);
    expect(ruleset.excluded).toEqual([{ id: "o-noend", reason: expect.stringMatching(/end time/) }]);
  });
});
