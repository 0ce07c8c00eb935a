/**
 * The canonical text the ruleset hash is taken over, as `engine/canonical.ts` writes it in bytes, against
 * the definition it must equal byte for byte: `JSON.stringify` of each order's entry array, joined in one
 * array, in UTF-8. Any string (quotes, backslashes, control characters, non-ASCII, lone surrogates), any
 * finite window bound, lists shared between orders or not, frozen or not; and the compile's arena, in
 * windows of a few bytes, against the stream.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EntryArena, hashCanonical } from "../../src/engine/canonical.js";
import type { CompiledOrder } from "../../src/engine/index.js";
import { nodeSha256 } from "../../src/platform/node/sha256-stream.js";
import { canonical } from "../support/ruleset-hash.js";

/** The definition (the engine's README), as the test support computes it apart from the engine. */
function definition(orders: readonly CompiledOrder[]): string {
  return createHash("sha256").update(canonical(orders), "utf8").digest("hex");
}

const text = fc.oneof(
  fc.string({ unit: "grapheme-ascii" }),
  fc.string({ unit: "binary" }),
  fc.constantFrom("", '"', "\\", "\u0000", "\u2028", "\ud800", "é", "ord_0123456789abcdef", "m-1"),
  fc.string({ minLength: 300, maxLength: 900 }),
);
const bound = fc.oneof(
  fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
  fc.constantFrom(0, -0, 1_765_000_000_000, 9_007_199_254_740_991),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const list = fc.array(text, { maxLength: 4 });

const order = fc
  .record({
    id: text,
    mode: fc.constantFrom("enforce" as const, "shadow" as const),
    action: fc.constantFrom("geoblock" as const, "prevent_hosting" as const),
    exemptAccountIds: list,
    authority: text,
    jurisdictions: list,
    from: bound,
    until: fc.option(bound, { nil: null }),
    meetingIds: list,
    accountIds: list,
    frozen: fc.boolean(),
  })
  .map(({ frozen, ...o }): CompiledOrder => {
    if (!frozen) return o;
    Object.freeze(o.jurisdictions);
    return Object.freeze(o);
  });

/** Orders, some sharing one block list (as a compile's do), under one authority or several. */
const orders = fc.tuple(fc.array(order, { maxLength: 30 }), fc.nat()).map(([list, seed]) => {
  const shared = Object.freeze(["IN-MH", "IN-KA"]);
  return list.map((o, i) =>
    (seed + i) % 3 === 0 ? Object.freeze({ ...o, jurisdictions: shared }) : o,
  ) as CompiledOrder[];
});

describe("the canonical text of compiled orders", () => {
  it("hashes as the SHA-256 of JSON.stringify of the entries, for any strings, bounds and lists", () => {
    fc.assert(
      fc.property(orders, (list) => {
        expect(hashCanonical(list, nodeSha256())).toBe(definition(list));
      }),
      { numRuns: 300 },
    );
  });

  it("hashes the same from the arena, in any order, whatever the windows", () => {
    fc.assert(
      fc.property(orders, fc.integer({ min: 1, max: 4096 }), fc.nat(), (list, budget, seed) => {
        // A permutation of the orders, hashed in it, as a compile hashes a bucket in id order.
        const ks = Int32Array.from(list.keys()).sort(
          (a, b) => ((a * 7919 + seed) % 31) - ((b * 7919 + seed) % 31),
        );
        const arena = new EntryArena(list.length, budget);
        // Windows as a compile makes them: the entries of those in the window, written in input order.
        const perWindow = Math.ceil(list.length / arena.windows);
        for (let first = 0; first < list.length; first += perWindow) {
          const inWindow = (k: number) => k >= first && k < first + perWindow;
          arena.clear();
          list.forEach((o, k) => {
            if (inWindow(k)) arena.add(k, o);
          });
          const window = Int32Array.from([...ks].filter(inWindow));
          expect(arena.hash(window, 0, window.length, nodeSha256())).toBe(
            definition([...window].map((k) => list[k] as CompiledOrder)),
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it("writes past its first buffer and its stream buffer (one entry larger than both)", () => {
    const big = "x".repeat(200_000);
    const list: CompiledOrder[] = [
      {
        id: big,
        mode: "enforce",
        action: "geoblock",
        exemptAccountIds: [],
        authority: "IN",
        jurisdictions: ["IN"],
        from: 1,
        until: null,
        meetingIds: [big, `${big}é`],
        accountIds: [],
      },
    ];
    expect(hashCanonical(list, nodeSha256())).toBe(definition(list));
    const arena = new EntryArena(1, 16);
    arena.add(0, list[0] as CompiledOrder);
    expect(arena.hash(Int32Array.of(0), 0, 1, nodeSha256())).toBe(definition(list));
  });
});
