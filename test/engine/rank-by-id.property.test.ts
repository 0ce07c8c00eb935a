/**
 * `rankById`, the compile's sort of a bucket's order ids, against the definition: positions in the order
 * of their strings (JavaScript's `<`), equal strings in position order. Ids that share long prefixes,
 * tie on the five characters it packs, are prefixes of one another, repeat, or hold characters past 255,
 * and lists past its limit (which it sorts as strings).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rankById } from "../../src/engine/rank-by-id.js";

function definition(keys: readonly string[]): number[] {
  return keys
    .map((key, j) => ({ key, j }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.j - b.j))
    .map(({ j }) => j);
}

/** Ids as the service makes them, ones that differ late or not at all, and odd ones. */
const id = fc.oneof(
  fc.stringMatching(/^ord_[0-9a-f]{20}$/),
  fc.stringMatching(/^ord_00000[0-9a-f]{0,3}$/),
  fc.constantFrom("", "o", "ord_", "ord_0", "ord_00000", "ord_000000", "ord_\u00ff", "ord_\u0100", "ord_é"),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({ unit: fc.constantFrom("\u0000", "a", "\u00fe", "\u00ff"), maxLength: 7 }),
);

describe("rankById", () => {
  it("orders any list of ids as a stable sort by string does", () => {
    fc.assert(
      fc.property(fc.array(id, { maxLength: 60 }), fc.integer({ min: 1, max: 64 }), (keys, limit) => {
        expect(Array.from(rankById(keys, limit))).toEqual(definition(keys));
      }),
      { numRuns: 500 },
    );
  });

  it("orders a bucket-sized list of service ids, and one with a shared prefix of any length", () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[0-9a-f]{1,12}$/), { minLength: 200, maxLength: 300 }),
        fc.string(),
        (tails, prefix) => {
          const keys = tails.map((t) => `ord_${prefix}${t}`);
          expect(Array.from(rankById(keys))).toEqual(definition(keys));
        },
      ),
      { numRuns: 100 },
    );
  });
});
