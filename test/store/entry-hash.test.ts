/**
 * The file store's replay hash against the audit chain's definition: for any JSON value read back with
 * `JSON.parse`, `parsedCanonicalJson` is `canonicalJson`, and `hashParsedEntry` is `hashEntry` (so a
 * journal verifies, and fails to, exactly as before). And an edited entry still fails the replay.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, chainEntry, hashEntry, verifyNext, ZERO_HASH } from "../../src/store/audit.js";
import { hashParsedEntry, parsedCanonicalJson } from "../../src/store/file/entry-hash.js";
import type { AuditEntry } from "../../src/store/interface.js";

const parsed = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

describe("the replay hash", () => {
  it("writes the canonical JSON of any parsed JSON value as canonicalJson does", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const back = parsed(value);
        expect(parsedCanonicalJson(back)).toBe(canonicalJson(back));
      }),
      { numRuns: 2000 },
    );
  });

  it("hashes any parsed entry as hashEntry does, and verifies the same chains", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ actor: fc.string(), at: fc.string(), order: fc.jsonValue() }), { maxLength: 5 }),
        (changes) => {
          let head = { seq: 0, hash: ZERO_HASH };
          for (const change of changes) {
            const entry = parsed(
              chainEntry(head, { ...change, action: "create", orderId: "o" } as unknown as Omit<
                AuditEntry,
                "seq" | "prevHash" | "hash"
              >),
            ) as AuditEntry;
            expect(hashParsedEntry(entry)).toBe(hashEntry(entry));
            const edited = { ...entry, actor: `${entry.actor}!` };
            expect(hashParsedEntry(edited)).toBe(hashEntry(edited));
            expect(verifyNext(head, edited, hashParsedEntry)).toBe(verifyNext(head, edited));
            head = { seq: entry.seq, hash: entry.hash };
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
