/**
 * `recompile` (one version from the previous one and the orders that changed) against `compile` (from
 * every order): over random sequences of order changes, each incremental version has exactly the hash,
 * the orders, the index entries, the exclusions and the decisions of a full compile of the same orders.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  changedOrderIds,
  compile,
  compileSteps,
  fromDocument,
  type Order,
  recompile,
  recompileSteps,
  toDocument,
  transition,
} from "../../src/engine/index.js";
import { iso, NOON } from "../support/fixtures.js";
import { apply, change, expectSame } from "../support/order-changes.js";
import { rehash } from "../support/ruleset-hash.js";
import { approve, pending } from "../support/rulesets.js";

describe("recompile", () => {
  it("gives, after any sequence of order changes, exactly the ruleset a full compile of the same orders gives", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(change, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }),
        (batches) => {
          const orders = new Map<string, Order>();
          let ruleset = compile([], { version: 0, compiledAt: iso(NOON) });
          let version = 0;
          for (const batch of batches) {
            const changed = batch.map((c) => apply(orders, c));
            version += batch.length;
            const meta = { version, compiledAt: iso(NOON + version) };
            const previous = ruleset;
            ruleset = recompile(ruleset, changed, meta);
            const full = compile([...orders.values()], meta);
            expectSame(ruleset, full);
            expect(ruleset.version).toBe(version);
            // The hash as the README defines it, recomputed apart from the engine, and verifiable.
            expect(ruleset.hash).toBe(rehash(toDocument(full)).hash);
            expect(fromDocument(JSON.parse(JSON.stringify(toDocument(ruleset)))).hash).toBe(ruleset.hash);
            expect(changedOrderIds(ruleset, previous)).toEqual(new Set(changed.map((o) => o.id)));
            expect(changedOrderIds(full, previous)).toBeUndefined();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("builds on a ruleset read from a document of the earlier hash, giving the hash of a full compile", () => {
    fc.assert(
      fc.property(
        fc.array(change, { minLength: 1, maxLength: 8 }),
        fc.array(change, { minLength: 1, maxLength: 4 }),
        (first, then) => {
          const orders = new Map<string, Order>();
          for (const c of first) apply(orders, c);
          const { hashScheme: _, ...doc } = toDocument(
            compile([...orders.values()], { version: 1, compiledAt: iso(NOON) }),
          );
          const earlier = fromDocument(rehash(doc));
          expect(earlier.hashScheme).toBeUndefined();
          const changed = then.map((c) => apply(orders, c));
          const meta = { version: 2, compiledAt: iso(NOON) };
          const next = recompile(earlier, changed, meta);
          // A document carries no exclusions: all else is the full compile's.
          const full = compile([...orders.values()], meta);
          expect(next.hash).toBe(full.hash);
          expect(next.orders).toEqual(full.orders);
          expect(new Map(next.meetings)).toEqual(new Map(full.meetings));
          expect(new Map(next.accounts)).toEqual(new Map(full.accounts));
          expect(next.hashScheme).toBe("buckets-4096");
        },
      ),
      { numRuns: 40 },
    );
  });

  it("flattens its layered index once the changes pile up, still equal to a full compile", () => {
    const orders = new Map<string, Order>();
    const many = Array.from({ length: 9000 }, (_, i) =>
      approve(pending(`o-${i}`, { target: { kind: "meeting", meetingIds: [`m-${i}`] } })),
    );
    for (const o of many) orders.set(o.id, o);
    let ruleset = compile(many, { version: 1, compiledAt: iso(NOON) });
    // Each withdrawal removes one meeting's entry; past the layer's limit the next version is flat again.
    for (let round = 0; round < 3; round++) {
      const changed = many.slice(round * 3000, (round + 1) * 3000).map((o) => {
        const next = transition(o, { type: "withdraw" }, "responder-1", iso(NOON));
        orders.set(o.id, next);
        return next;
      });
      const meta = { version: 2 + round, compiledAt: iso(NOON) };
      ruleset = recompile(ruleset, changed, meta);
      const full = compile([...orders.values()], meta);
      expect(ruleset.hash).toBe(full.hash);
      expect(ruleset.meetings.size).toBe(full.meetings.size);
      expect(new Map(ruleset.meetings)).toEqual(new Map(full.meetings));
    }
    expect(ruleset.meetings instanceof Map).toBe(true);
  });

  it("hashes any ids as JSON.stringify writes them (quotes, backslashes, control and non-ASCII characters)", () => {
    const char = fc.oneof(
      fc.constantFrom('"', "\\", "\n", "\u0000", "\u007f", "\u2028", "é", "\ud800", "a", "-", "_"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    );
    const text = fc.array(char, { minLength: 1, maxLength: 8 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(
        fc.uniqueArray(text, { minLength: 1, maxLength: 5 }),
        text,
        text,
        (ids, meeting, account) => {
          const orders = ids.map((id, i) => ({
            ...approve(pending("o-x")),
            id,
            target:
              i % 2 === 0
                ? { kind: "meeting" as const, meetingIds: [meeting, `${meeting}\u2028`] }
                : { kind: "account" as const, accountIds: [account] },
          }));
          const ruleset = compile(orders as Order[], { version: 1, compiledAt: iso(NOON) });
          expect(ruleset.hash).toBe(rehash(toDocument(ruleset)).hash);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("leaves the previous version as it was", () => {
    const a = approve(pending("o-a"));
    const before = compile([a], { version: 1, compiledAt: iso(NOON) });
    const snapshot = { hash: before.hash, orders: [...before.orders], m1: before.meetings.get("m-1") };
    const withdrawn = transition(a, { type: "withdraw" }, "responder-1", iso(NOON));
    const after = recompile(before, [withdrawn], { version: 2, compiledAt: iso(NOON) });
    expect(after.meetings.get("m-1")).toBeUndefined();
    expect(before.hash).toBe(snapshot.hash);
    expect(before.orders).toEqual(snapshot.orders);
    expect(before.meetings.get("m-1")).toBe(snapshot.m1);
  });

  it("yields between slices of a big compile, and gives the same ruleset run in steps", () => {
    const many = Array.from({ length: 20_000 }, (_, i) => approve(pending(`o-${i}`)));
    const meta = { version: 1, compiledAt: iso(NOON) };
    const steps = compileSteps(many, meta);
    let yields = 0;
    let next = steps.next();
    while (!next.done) {
      yields++;
      next = steps.next();
    }
    expect(yields).toBeGreaterThan(4);
    expect(next.value.hash).toBe(compile(many, meta).hash);
    const change = recompileSteps(next.value, [approve(pending("o-new"))], {
      version: 2,
      compiledAt: iso(NOON),
    });
    // One change touches one bucket and one meeting: nothing of the size of the ruleset, no slice.
    let changeYields = 0;
    while (!change.next().done) changeYields++;
    expect(changeYields).toBe(0);
  });
});
