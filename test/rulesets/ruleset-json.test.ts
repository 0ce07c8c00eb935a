/**
 * The ruleset document in pieces (`rulesetJsonChunks`), as a Redis instance uploads it beside the one
 * held: put back together, it must be a document that verifies and rebuilds exactly the ruleset it was
 * made from, whatever the piece size, and no piece may be much larger than asked.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { syntheticOrders } from "../../bench/synthetic-orders.js";
import { compile, fromDocument, type Order, toDocument } from "../../src/engine/index.js";
import { parseRulesetDocument, rulesetJson, rulesetJsonChunks } from "../../src/rulesets/ruleset-json.js";
import { apply, change, expectSame } from "../support/order-changes.js";
import { rehash } from "../support/ruleset-hash.js";

const COMPILED_AT = "2026-03-01T12:00:00.000Z";

describe("rulesetJsonChunks", () => {
  it("joins into a document that rebuilds the same ruleset, for any orders and piece size", () => {
    fc.assert(
      fc.property(
        fc.array(change, { maxLength: 30 }),
        fc.integer({ min: 1, max: 4000 }),
        (changes, chars) => {
          const orders = new Map<string, Order>();
          for (const c of changes) orders.set(c.id, apply(orders, c));
          const ruleset = compile([...orders.values()], { version: changes.length, compiledAt: COMPILED_AT });
          const text = [...rulesetJsonChunks(ruleset, chars)].join("");
          const parsed = parseRulesetDocument(text);
          // As the whole document rebuilds it (a document carries no `excluded`: those orders are not in it).
          expectSame(parsed, parseRulesetDocument(rulesetJson(ruleset)));
          expect(parsed.hash).toBe(ruleset.hash);
          expect(parsed.version).toBe(ruleset.version);
          // The same document as `rulesetJson`, but for the order of the orders (bucket by bucket).
          const { orders: listed, ...meta } = JSON.parse(text);
          const { orders: expected, ...expectedMeta } = toDocument(ruleset);
          expect(meta).toEqual(expectedMeta);
          expect([...listed].sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(
            JSON.parse(JSON.stringify(expected)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("makes pieces of about the size asked, no larger than it plus one bucket's orders", () => {
    const ruleset = compile(syntheticOrders(20_000), { version: 1, compiledAt: COMPILED_AT });
    const whole = rulesetJson(ruleset);
    const pieces = [...rulesetJsonChunks(ruleset, 64 * 1024)];
    expect(pieces.join("").length).toBe(whole.length);
    expect(pieces.length).toBeGreaterThan(whole.length / (96 * 1024));
    for (const piece of pieces.slice(0, -1)) {
      expect(piece.length).toBeGreaterThanOrEqual(64 * 1024);
      expect(piece.length).toBeLessThan(64 * 1024 + 16 * 1024);
    }
    expect(parseRulesetDocument(pieces.join("")).hash).toBe(ruleset.hash);
  });

  it("gives a ruleset of the earlier whole-list hash as one piece, its orders sorted as that hash needs", () => {
    const current = compile(syntheticOrders(50), { version: 3, compiledAt: COMPILED_AT });
    const { hashScheme: _, ...earlier } = toDocument(current);
    const ruleset = fromDocument(rehash(JSON.parse(JSON.stringify(earlier))));
    expect(ruleset.hashScheme).toBeUndefined();
    expect([...rulesetJsonChunks(ruleset, 100)]).toEqual([rulesetJson(ruleset)]);
  });
});
