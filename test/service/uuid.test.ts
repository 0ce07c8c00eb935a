/**
 * `randomUuid` (src/service/uuid.ts) stands in for `crypto.randomUUID` for decision and request ids:
 * the same form (version 4, RFC 9562 variant, lower-case), every hex digit that carries randomness
 * taking every value, and no repeats.
 */
import { describe, expect, it } from "vitest";
import { randomUuid } from "../../src/service/uuid.js";

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("randomUuid", () => {
  it("makes version 4 UUIDs as crypto.randomUUID writes them, none twice", () => {
    const ids = Array.from({ length: 5000 }, () => randomUuid());
    for (const id of ids) expect(id).toMatch(V4);
    expect(new Set(ids).size).toBe(ids.length);
    expect(crypto.randomUUID()).toMatch(V4);
  });

  it("draws every random digit from all of its values, across refills of its pool", () => {
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let n = 0; n < 3000; n++) {
      const id = randomUuid();
      for (let i = 0; i < id.length; i++) seen[i]?.add(id.charAt(i));
    }
    const sizes = seen.map((s) => s.size);
    // Dashes, the version digit (4) and the variant digit (8, 9, a, b); every other digit is any of 16.
    sizes.forEach((size, i) => {
      if ([8, 13, 18, 23].includes(i) || i === 14) expect(size, `position ${i}`).toBe(1);
      else if (i === 19) expect(size, `position ${i}`).toBe(4);
      else expect(size, `position ${i}`).toBe(16);
    });
  });
});
