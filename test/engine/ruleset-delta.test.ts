/**
 * Ruleset deltas (`rulesetDelta`, `applyDelta`): what a follower or another instance receives in place
 * of the whole document for each change. Over random sequences of order changes, a copy that started
 * from the first version's document and then applied each delta (through JSON, as sent) holds exactly
 * the writer's version: hash, orders, index, exclusions and decisions. A delta that does not fit its
 * base, or whose orders were altered, is refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyDelta,
  changedOrderIds,
  compile,
  fromDocument,
  type Order,
  type Ruleset,
  type RulesetDelta,
  RulesetDeltaShape,
  recompile,
  rulesetDelta,
  toDocument,
  transition,
} from "../../src/engine/index.js";
import { iso, NOON } from "../support/fixtures.js";
import { apply, change, expectSame } from "../support/order-changes.js";
import { approve, pending } from "../support/rulesets.js";

/** A delta as the receiver reads it: JSON text, checked by the shape. */
function sent(delta: RulesetDelta): RulesetDelta {
  return RulesetDeltaShape.parse(JSON.parse(JSON.stringify(delta)));
}

const meta = (version: number) => ({ version, compiledAt: iso(NOON + version) });

describe("ruleset deltas", () => {
  it("rebuild, applied in turn to a copy read from a document, exactly the writer's versions", () => {
    fc.assert(
      fc.property(
        fc.array(change, { minLength: 0, maxLength: 6 }),
        fc.array(fc.array(change, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 10 }),
        (first, batches) => {
          const orders = new Map<string, Order>();
          for (const c of first) apply(orders, c);
          let writer = compile([...orders.values()], meta(1));
          let copy = fromDocument(JSON.parse(JSON.stringify(toDocument(writer))));
          let version = 1;
          for (const batch of batches) {
            const changed = batch.map((c) => apply(orders, c));
            version += 1;
            const previous = writer;
            writer = recompile(writer, changed, meta(version));
            const delta = rulesetDelta(writer, previous);
            expect(delta).toBeDefined();
            // Only what changed travels.
            expect((delta?.upserts.length ?? 0) + (delta?.removed.length ?? 0)).toBe(
              new Set(changed.map((o) => o.id)).size,
            );
            const before = copy;
            copy = applyDelta(copy, sent(delta as RulesetDelta));
            expectSame(copy, writer);
            expect(copy.version).toBe(writer.version);
            expect(copy.compiledAt).toBe(writer.compiledAt);
            // The copy can tell what the delta changed, as the writer can (the reconciler's input).
            expect(changedOrderIds(copy, before)).toEqual(changedOrderIds(writer, previous));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  const a = approve(pending("o-a"));
  const b = approve(pending("o-b", { target: { kind: "meeting", meetingIds: ["m-2"] } }));
  const v1 = compile([a, b], meta(1));
  const withdrawn = transition(a, { type: "withdraw" }, "responder-1", iso(NOON));
  const c = approve(pending("o-c", { jurisdictions: ["IN-KA"] }));
  const v2 = recompile(v1, [withdrawn, c], meta(2));
  const delta = rulesetDelta(v2, v1) as RulesetDelta;

  it("names the orders that changed: the new ones whole, the withdrawn by id", () => {
    expect(delta.base).toEqual({ version: 1, hash: v1.hash });
    expect(delta.upserts.map((o) => o.id)).toEqual(["o-c"]);
    expect(delta.removed).toEqual(["o-a"]);
    expect(applyDelta(v1, delta).hash).toBe(v2.hash);
  });

  it("is not made for a version that was not recompiled from the other", () => {
    expect(rulesetDelta(compile([b, c], meta(2)), v1)).toBeUndefined();
    expect(rulesetDelta(v2, compile([a, b], meta(1)))).toBeUndefined();
  });

  it("is refused on another base", () => {
    const other = compile([b], meta(1));
    expect(() => applyDelta(other, delta)).toThrow(/its base is v1/);
    expect(() => applyDelta(v2, delta)).toThrow(/its base is v1/);
  });

  it("is refused when an order in it was altered (the hash over the result does not match)", () => {
    const [order] = delta.upserts;
    if (!order) throw new Error("no upsert");
    const altered = { ...delta, upserts: [{ ...order, jurisdictions: ["IN"] }] };
    expect(() => applyDelta(v1, altered)).toThrow(/hash mismatch/);
    const dropped = { ...delta, removed: [] };
    expect(() => applyDelta(v1, dropped)).toThrow(/hash mismatch/);
    const later = { ...delta, upserts: [{ ...order, until: order.from + 1 }] };
    expect(() => applyDelta(v1, later)).toThrow(/hash mismatch/);
  });

  it("is refused when an order blocks outside its authority, whatever hash it states (I1)", () => {
    const [order] = delta.upserts;
    if (!order) throw new Error("no upsert");
    const outside = { ...delta, upserts: [{ ...order, jurisdictions: ["RU"] }] };
    expect(() => applyDelta(v1, outside)).toThrow(/blocks outside its authority: RU/);
    const unreadable = { ...delta, upserts: [{ ...order, from: Number.NaN }] };
    expect(() => applyDelta(v1, unreadable)).toThrow(/unreadable window/);
    const twice = { ...delta, removed: ["o-c"] };
    expect(() => applyDelta(v1, twice)).toThrow(/named twice/);
  });

  it("leaves the version it is applied to as it was", () => {
    const before = toDocument(v1);
    const next: Ruleset = applyDelta(v1, delta);
    expect(toDocument(v1)).toEqual(before);
    expect(next.meetings.get("m-1")?.map((o) => o.id)).toEqual(["o-c"]);
    expect(v1.meetings.get("m-1")?.map((o) => o.id)).toEqual(["o-a"]);
  });
});
